"""The app with the device, strategy and kernel settings: chosen by keys, trained for real.
On the CPU, and typed so (device cpu), so the same holds on a GPU box."""

from __future__ import annotations

from appsupport import TINY_CONFIG, type_into, wait_for
from textual.widgets import Static

from rnntui.tui.app import make_app

# A tiny run on the CPU, one epoch; the form opens with it (typing is tested in test_app).
CPU_TINY = TINY_CONFIG.with_values(epochs=1, device="cpu")


async def choose(pilot, field: str, downs: int) -> None:
    """Open a select by keys and move down `downs` options from the current one."""
    pilot.app.query_one(f"#field-{field}").focus()
    await pilot.pause()
    await pilot.press("enter", *["down"] * downs, "enter")
    await pilot.pause()


def device_line(app) -> str:
    return str(app.query_one("#status-device", Static).render())


async def test_train_mirrored_over_two_cpu_devices_from_the_form(tmp_path):
    app = make_app(CPU_TINY, preload_tf=False, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_into(pilot, "replicas", "2")
        # Replicas without a strategy: said inline, and F5 cannot start.
        assert app.form.errors["replicas"].startswith("replicas: 2 needs strategy mirrored")
        assert app.form.config is None
        await choose(pilot, "strategy", 1)  # none -> mirrored
        assert app.form.config is not None, app.form.errors
        assert app.form.config.train.strategy == "mirrored"
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.status.state in ("finished", "failed", "diverged"))
        assert app.status.state == "finished", app.status.detail
        assert app.chart.num_points == 80  # 20000 // 50 // 5 batches, each on the chart
        assert device_line(app) == "device mirrored 2×CPU · graph, no XLA"


async def test_a_single_device_run_shows_its_kernel(tmp_path):
    app = make_app(CPU_TINY, preload_tf=False, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await choose(pilot, "cudnn", 1)  # auto -> on: there is no GPU here
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.status.state in ("finished", "failed", "diverged"))
        assert app.status.state == "finished", app.status.detail
        # The XLA kernel's model, run as a plain graph: the run is too short for XLA's
        # compile to pay (runplan.use_xla).
        assert device_line(app) == "device CPU · graph, no XLA"
        # The notice was a toast (gone after 6 s, so not looked for here) from the run's
        # Started event, which the run state keeps.
        assert "cudnn: on needs a GPU; using XLA on the CPU" in app.started.notice


async def test_replicas_the_machine_lacks_are_flagged_on_the_field(tmp_path):
    from rnntui.engine.tfload import quiet_tensorflow

    have = len(quiet_tensorflow().config.list_logical_devices("CPU"))
    want = have + 1
    app = make_app(CPU_TINY.with_values(batch_size=10 * want), preload_tf=False,
                   runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_into(pilot, "replicas", str(want))
        await choose(pilot, "strategy", 1)
        assert app.form.config is not None, app.form.errors
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.status.state in ("finished", "failed", "diverged"))
        assert app.status.state == "failed"
        message = f"replicas: {want} CPU devices asked for; TensorFlow started in this process"
        assert app.status.detail.startswith(message)
        assert "replicas" not in app.form.errors  # the form stays valid: the run failed
        error_box = app.query_one("#error-replicas", Static)
        assert error_box.display and str(error_box.render()).startswith(message)
        # What the user typed is all still there, and fixing the field clears the flag.
        assert app.form.config.train.batch_size == 10 * want
        await type_into(pilot, "replicas", "2")
        assert not app.query_one("#error-replicas", Static).display
