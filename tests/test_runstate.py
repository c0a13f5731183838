"""The app's one run state: every phase, reached by keys and by events, and a run's floors."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from appsupport import LONG, feed, fixed_events, wait_for
from textual.widgets import Static

from rnntui.config import Config
from rnntui.core.events import Diverged, Failed, Finished
from rnntui.data import baselines
from rnntui.tui.app import make_app
from rnntui.tui.runstate import ACTIVE, PHASES, RunState, floors_of
from rnntui.tui.screens.dialogs import ConfirmScreen

CONFIG = Config().with_values(epochs=3)


def shown(app) -> str:
    return str(app.query_one("#status-state", Static).render())


def test_the_transitions_of_the_state():
    s = RunState()
    assert s.phase == "idle" and not s.active
    assert s.tensorflow_loading().phase == "loading"
    assert s.tensorflow_loading().label == "loading TensorFlow"
    assert s.tensorflow_loading().tensorflow_loaded().phase == "idle"
    failed = s.tensorflow_loading().tensorflow_failed("ImportError: no module")
    assert failed.phase == "failed" and "ImportError: no module" in failed.detail
    run = s.start(CONFIG, floors_of(CONFIG))
    assert (run.phase, run.run_id, run.config) == ("compiling", 1, CONFIG)
    assert run.floors == tuple((f.name, f.loss) for f in baselines.floors(0.5, CONFIG.data.rules))
    assert run.pause().phase == "paused" and run.pause().resume().phase == "compiling"
    assert run.stopping().detail.startswith("stopping")
    assert s.pause() == s and s.resume() == s and s.stopping() == s  # no run: nothing to do
    events = fixed_events(CONFIG)
    compiled = run.on_event(events[0]).on_event(events[1])
    assert compiled.phase == "training" and compiled.started is events[0]
    assert compiled.pause().resume().phase == "training"
    assert run.pause().on_event(events[1]).phase == "paused"  # compiled while paused
    assert {a for a in ACTIVE} == {"compiling", "training", "paused"} and set(ACTIVE) < set(PHASES)
    f = Finished(10, 1, 0.5, 0.5, None, [], 100.0, 1.0)
    assert compiled.on_event(f).phase == "finished"
    f.stopped = True
    assert compiled.on_event(f).phase == "stopped"
    assert compiled.on_event(Diverged(7, float("nan"))).phase == "diverged"
    bad = compiled.on_event(Failed("replicas: 9 asked for", "", "replicas"))
    assert (bad.phase, bad.bad_field) == ("failed", "replicas")
    again = bad.start(CONFIG, floors_of(CONFIG))
    assert again.bad_field == "" and again.run_id == 2


async def test_events_move_the_app_through_each_phase():
    app = make_app(CONFIG, preload_tf=False)
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.run_state.phase == "idle" and "idle" in shown(app)
        events = fixed_events(CONFIG)
        await feed(pilot, events[:1])
        assert app.run_state.phase == "compiling" and "compiling" in shown(app)
        await feed(pilot, events[1:2])
        assert app.run_state.phase == "training" and "training" in shown(app)
        for event, phase in [(Diverged(5, float("inf")), "diverged"),
                             (Failed("something broke"), "failed"),
                             (Finished(5, 1, 0.5, 0.5, None, [], 1.0, 1.0), "finished"),
                             (Finished(5, 1, 0.5, 0.5, None, [], 1.0, 1.0, stopped=True),
                              "stopped")]:
            await feed(pilot, events[:2] + [event])
            assert app.run_state.phase == phase and phase in shown(app)
        assert app.status.detail.startswith("1 epoch, 5 steps, val 0.5000")


async def test_keys_move_a_real_run_through_its_phases_and_a_declined_restart_keeps_its_floors(
        tmp_path):
    app = make_app(LONG, preload_tf=False, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f5")
        # Compiling, or already training where the last run's program was reused: paused
        # either way, and it stays paused once compiled (the unit test above covers both).
        assert app.run_state.phase in ("compiling", "training")
        await pilot.press("f6")
        assert app.run_state.phase == "paused" and app.status.state == "paused"
        await wait_for(pilot, lambda: app.run_state.compiled
                       and app.control.paused_between_chunks.is_set()
                       and not app.view.bridge._pending.losses)
        assert app.run_state.phase == "paused"
        # The run's floors: those of its own validation sample, from its Started event.
        before = app.chart.floor_labels()
        assert [name for name, _ in app.run_state.floors] == ["nothing", "t-3", "t-3,t-8"]
        assert app.run_state.floors == tuple((f.name, f.loss) for f in app.started.floors)
        held = app.chart.num_points
        await pilot.pause(0.6)
        assert app.chart.num_points == held  # nothing trains while paused
        await pilot.press("f6")
        await wait_for(pilot, lambda: app.chart.num_points > held)
        assert app.run_state.phase == "training" and app.status.state == "training"
        await pilot.press("f6")
        assert app.run_state.phase == "paused"
        # A rule edit asks to restart; declined, the chart keeps the run's own floors while
        # the form (and the next run) has the new rule.
        delta = app.query(".rule-delta").last()
        delta.value = "-0.4"
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 10)
        await pilot.press("n")
        assert app.form.config.data.rules == ((3, 0.5), (8, -0.4))
        assert app.chart.floor_labels() == before
        assert app.run_state.phase == "paused"
        # The last chunk before the pause reaches the chart, though its Tick was held back.
        await wait_for(pilot, lambda: app.control.paused_between_chunks.is_set()
                       and not app.view.bridge._pending.losses, 30)
        assert app.chart.num_points == app.view.latest.step
        await pilot.press("f8")
        await wait_for(pilot, lambda: app.run_state.phase == "stopped")
        assert app.chart.floor_labels() == before
        # A new run takes the form's floors.
        await pilot.press("f5")
        assert app.chart.floor_labels() != before
        await pilot.press("f8")
        await wait_for(pilot, lambda: not app.run_state.active)


async def test_loading_tensorflow_then_idle(tmp_path):
    app = make_app(preload_tf=True, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.run_state.phase != "loading")
        assert app.run_state.phase == "idle" and app.status.device != "-"


def test_tensorflow_that_fails_to_load_is_shown_not_waited_for(tmp_path):
    # A broken TensorFlow install, for real: a package that raises on import, first on the
    # path of a fresh process running the app.
    broken = tmp_path / "broken" / "tensorflow"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('libcudart.so.12: cannot open')\n")
    code = textwrap.dedent("""
        import asyncio, sys
        sys.path.insert(0, sys.argv[1])
        from appsupport import wait_for
        from rnntui.tui.app import make_app

        async def main():
            app = make_app(runs_dir=sys.argv[2])
            async with app.run_test(size=(120, 40)) as pilot:
                await wait_for(pilot, lambda: app.run_state.phase != "loading", 60)
                print(app.run_state.phase, "|", app.status.detail)

        asyncio.run(main())
    """)
    tests = os.path.dirname(__file__)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(broken.parent), tests, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code, tests, str(tmp_path)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == ("failed | TensorFlow failed to load: ImportError: "
                                  "libcudart.so.12: cannot open")


async def test_every_figure_of_the_status_fits_at_80_columns():
    app = make_app(CONFIG, preload_tf=False)
    async with app.run_test(size=(80, 24)) as pilot:
        events = fixed_events(CONFIG)
        await feed(pilot, events)
        # Painted on a timer, which may have fired mid-feed: wait for the last step fed.
        await wait_for(pilot, lambda: "step 1,200/" in app.status.detail, 30)
        progress = app.status.detail
        assert progress.startswith("epoch 3/3") and "ETA" in progress
        assert all(word in screen_text(app) for word in progress.split()), progress
        await feed(pilot, [Finished(1200, 3, 0.47, 0.4712, None, [], 21246.0, 18.8)])
        assert app.status.detail == "3 epochs, 1,200 steps, val 0.4712, 21,246 steps/s, 18.8s"
        words = app.status.detail.split()
        assert all(word in screen_text(app) for word in words), screen_text(app)


def screen_text(app) -> str:
    """What the terminal shows, as plain text (from the app's own SVG screenshot)."""
    import html
    import re

    svg = app.export_screenshot()
    return " ".join(html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg))
