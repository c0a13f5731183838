"""Snapshot tests of the main screen mid-training, each lower-right panel (the lag effects
with their error bars and memory, the learning timeline, an LSTM's cell state and gate),
the help screen and an invalid form.

The main screen is fed fixed, seeded events (tests/appsupport.py), never live training, so
the picture is the same on every machine. Update with `pytest --snapshot-update`.
"""

from __future__ import annotations

from appsupport import TEXT, feed, fixed_events, fixed_text_events, type_into, wait_for

from rnntui.config import Config
from rnntui.tui.app import make_app

CONFIG = Config().with_values(epochs=3)


async def settle(pilot) -> None:
    """The chart, the progress text and the sparklines repaint on their timers: wait for
    them, not for a time (a loaded machine runs timers late); toasts, which expire on a
    timer, are cleared so the picture never depends on how fast the machine got here."""
    app = pilot.app
    # The progress text shows the last step fed (a timer that fired mid-feed showed an
    # earlier one), and the chart has drawn it.

    def shown() -> bool:
        latest, detail = app.view.latest, app.status.detail
        return (not app.chart._dirty and detail.startswith("epoch")
                and (latest is None or f"step {latest.step:,}/" in detail))

    await wait_for(pilot, shown, 30)
    app.clear_notifications()
    await pilot.pause()


def test_main_screen_mid_training(snap_compare):
    async def run_before(pilot):
        await feed(pilot, fixed_events(CONFIG))
        await settle(pilot)

    assert snap_compare(make_app(CONFIG, preload_tf=False), terminal_size=(120, 40),
                        run_before=run_before)


def _panel_snapshot(snap_compare, keys, config=CONFIG, size=(120, 40)):
    async def run_before(pilot):
        await feed(pilot, fixed_events(config))
        await pilot.press(*keys)
        await settle(pilot)

    return snap_compare(make_app(config, preload_tf=False), terminal_size=size,
                        run_before=run_before)


def test_lag_effects_panel(snap_compare):
    assert _panel_snapshot(snap_compare, ["f2"])


def test_gradient_reach_panel(snap_compare):
    assert _panel_snapshot(snap_compare, ["f2", "f2"])


def test_hidden_state_panel(snap_compare):
    assert _panel_snapshot(snap_compare, ["f2", "f2", "f2"])


def test_lstm_forget_gate_at_80x24(snap_compare):
    assert _panel_snapshot(snap_compare, ["f7", "f7", "f7", "f7"],
                           CONFIG.with_values(cell="lstm"), (80, 24))


def test_lstm_cell_state(snap_compare):
    assert _panel_snapshot(snap_compare, ["f7", "f7"], CONFIG.with_values(cell="lstm"))


def test_learning_timeline(snap_compare):
    assert _panel_snapshot(snap_compare, ["f9"])


def test_panels_side_by_side_at_160x44(snap_compare):
    assert _panel_snapshot(snap_compare, [], size=(160, 44))


def test_help_screen(snap_compare):
    assert snap_compare(make_app(CONFIG, preload_tf=False), terminal_size=(120, 40),
                        press=["f1"])


def test_invalid_form(snap_compare):
    async def run_before(pilot):
        await type_into(pilot, "state_size", "abc")
        await type_into(pilot, "size", "500")
        pilot.app.query(".rule-delta").last().value = "-0.9"
        pilot.app.set_focus(None)  # no blinking cursor in the picture
        await pilot.pause(0.3)

    assert snap_compare(make_app(CONFIG, preload_tf=False), terminal_size=(120, 40),
                        run_before=run_before)


def test_text_predictions_panel(snap_compare, tmp_path, monkeypatch):
    """A char model's panel: the stretch as text (⏎, →), shaded by surprise, its top 3 next
    symbols, the most surprising position, and a sample at the temperature ctrl+up picked.
    The file is named relative to a fixed folder, so the form shows the same path."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.txt").write_text(TEXT * 40, encoding="utf-8")
    config = Config().with_values(data_file="tiny.txt", state_size=32, num_steps=20, batch_size=8,
                                  epochs=3)

    async def run_before(pilot):
        form = pilot.app.form
        await wait_for(pilot, lambda: form.config and form.floors_of(form.config))  # read
        await feed(pilot, fixed_text_events(config))
        await pilot.press("ctrl+up")
        await settle(pilot)

    assert snap_compare(make_app(config, preload_tf=False), terminal_size=(120, 40),
                        run_before=run_before)
