"""Pilot tests: the real app, built by the CLI's factory, driven by keys, training for real."""

from __future__ import annotations

import threading

from appsupport import LONG, TINY, type_into, wait_for
from textual.widgets import Select, Static

from rnntui.data import baselines
from rnntui.tui.app import make_app
from rnntui.tui.screens.dialogs import ConfirmScreen, HelpScreen


def labels_for(base, rules):
    return [f"{f.name} {f.loss:.3f}" for f in baselines.floors(base, rules)]


async def test_fill_form_by_keys_and_train_to_finished(tmp_path):
    app = make_app(preload_tf=False, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        for field, text in TINY.items():
            await type_into(pilot, field, text)
        assert app.form.config is not None, app.form.errors
        assert app.form.config.data.size == 20000 and app.form.config.model.state_size == 8
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.status.state in ("finished", "failed", "diverged"))
        assert app.status.state == "finished", app.status.detail
        # 2 epochs x (20000 // 50 // 5) = 160 steps, every one on the chart.
        assert app.chart.num_points == 160
        # The run's floors are those of its validation sample (5,000 steps), not the
        # expected ones the form drew before it.
        run_floors = [f"{f.name} {f.loss:.3f}" for f in app.started.floors]
        assert app.chart.floor_labels() == run_floors
        assert run_floors != labels_for(0.5, ((3, 0.5), (8, -0.25)))
        assert [f.name for f in app.started.analytic] == ["nothing", "t-3", "t-3,t-8"]
        assert app.status.verdict is not None and 3 in app.status.verdict.learned
        assert "finished" in str(app.query_one("#status-state", Static).render())


async def test_invalid_entry_shows_message_and_blocks_train():
    app = make_app(preload_tf=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_into(pilot, "state_size", "abc")
        error = app.query_one("#error-state_size", Static)
        assert error.display
        assert str(error.render()).startswith("state_size: 'abc' is not an integer")
        assert app.form.config is None
        await pilot.press("f5")
        await pilot.pause()
        assert app.run_id == 0 and app.status.state == "idle"
        # A cross-field problem: a batch bigger than the series.
        await type_into(pilot, "state_size", "4")
        await type_into(pilot, "size", "500")
        assert "size: 500 is too small for one batch" in str(
            app.query_one("#error-size", Static).render())
        await pilot.press("f5")
        assert app.run_id == 0
        # Fixed: training may start again.
        await type_into(pilot, "size", "1000000")
        assert app.form.config is not None


async def test_the_preset_selector_names_what_the_form_holds():
    app = make_app(preload_tf=False)
    async with app.run_test(size=(120, 40)) as pilot:
        preset = app.query_one("#preset", Select)
        assert preset.value == "r2rt"  # the built-in defaults are the article's settings
        await type_into(pilot, "state_size", "16")
        assert preset.value == Select.NULL  # shown as "custom"
        await type_into(pilot, "state_size", "4")
        assert preset.value == "r2rt"


async def test_an_empty_rule_cell_is_named_by_its_row():
    app = make_app(preload_tf=False)
    async with app.run_test(size=(120, 40)) as pilot:
        delta = app.query(".rule-delta").first()
        delta.focus()
        await pilot.press("end", "shift+home", "backspace")
        await pilot.pause()
        error = str(app.query_one("#error-rules", Static).render())
        assert error == "rules: the delta for lag 3 is empty", error
        lag = app.query(".rule-lag").last()
        lag.value = ""
        await pilot.pause()
        assert app.form.config is None


async def test_changing_a_rule_moves_the_floors():
    app = make_app(preload_tf=False)
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.chart.floor_labels() == labels_for(0.5, ((3, 0.5), (8, -0.25)))
        delta = app.query(".rule-delta").last()
        delta.focus()
        await pilot.press("end", "shift+home", "backspace", *"-0.5")
        await pilot.pause()
        assert app.chart.floor_labels() == labels_for(0.5, ((3, 0.5), (8, -0.5)))
        # A rule set that leaves [0, 1] is refused inline and the floors stay (pasted, so
        # no valid value passes on the way).
        delta.value = "-0.9"
        await pilot.pause()
        msg = str(app.query_one("#error-rules", Static).render())
        assert msg.startswith("rules: X[t-3]=0, X[t-8]=1 gives P(Y=1) = -0.4")
        assert app.chart.floor_labels() == labels_for(0.5, ((3, 0.5), (8, -0.5)))
        # Remove the second rule by key: two floors left.
        app.query(".rule-remove").last().focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.chart.floor_labels() == labels_for(0.5, ((3, 0.5),))


async def test_help_screen_and_palette_commands():
    app = make_app(preload_tf=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Train", "Pause / resume", "Stop", "Help"} <= set(titles)


async def test_quitting_during_training_leaves_no_thread(tmp_path):
    app = make_app(LONG, preload_tf=False, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.status.state == "training" and app.chart.num_points)
        await pilot.press("ctrl+q")
    # The app waits QUIT_WAIT_S for the stop; a loaded machine may take longer to get there
    # (then the engine finishes the stop on its own): wait for it, not for a time.
    assert app.control.done.wait(120)
    # Quitting waited for the stop: the trainer has returned, its data thread and its
    # checkpoint writer are gone, and the engine is idle (its threads stay: they are the
    # process's, docs/architecture.md).
    assert app.control.stopped and app.control.done.is_set()
    assert app.jobs.engine.wait_idle(30)
    run_threads = [t.name for t in threading.enumerate()
                   if t.name.startswith(("rnntui-data", "rnntui-checkpoint"))]
    assert not run_threads


async def test_resizing_never_crashes():
    app = make_app(preload_tf=False)
    async with app.run_test(size=(120, 40)) as pilot:
        for size in [(40, 12), (80, 24), (200, 60), (41, 13), (120, 40)]:
            await pilot.resize_terminal(*size)
            await pilot.pause()
        assert app.is_running


async def test_up_and_down_step_numeric_fields():
    app = make_app(preload_tf=False)
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one("#field-state_size").focus()
        await pilot.press("up", "up", "down")
        assert app.form.config.model.state_size == 5
        app.query_one("#field-learning_rate").focus()
        await pilot.press("up")  # rates step by a factor of 2
        assert app.form.config.train.learning_rate == 0.2
        await pilot.press("down", "down")
        assert app.form.config.train.learning_rate == 0.05


async def test_learning_rate_changes_live_and_other_changes_ask_to_restart(tmp_path):
    app = make_app(LONG, preload_tf=False, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.status.state == "training" and app.chart.num_points)
        # Typed while paused: the pilot waits for an idle process after every key, and a
        # training process is never idle (that made this test take 30-40 s).
        await pilot.press("f6")
        await type_into(pilot, "learning_rate", "0.05")
        assert not app.chart._lr  # nothing trains while paused
        await pilot.press("f6")
        # Applied at the next chunk, and marked on the chart where it happened.
        await wait_for(pilot, lambda: app.chart._lr, 30)
        step, lr = app.chart._lr[-1]
        assert lr == 0.05 and 0 < step <= app.chart.num_points
        assert app.status.state == "training"
        # Any other change asks whether to restart; "n" keeps the run going.
        await pilot.press("f6")
        await type_into(pilot, "state_size", "6")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 10)
        run_id = app.run_id
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.run_id == run_id and app.status.state == "paused"
        await pilot.press("f8")
        await wait_for(pilot, lambda: app.status.state == "stopped")


async def test_an_app_that_ends_without_a_stop_stops_its_training(tmp_path):
    # However the app ends (here: the test's context closes, no F8, no ctrl+q), its training
    # stops; a thread worker cannot be cancelled, and one left training kept the process
    # (and a CI run) waiting forever.
    app = make_app(LONG, preload_tf=False, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.status.state == "training" and app.chart.num_points)
    assert app.control.stopped
    assert app.control.done.wait(60)
