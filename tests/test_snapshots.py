"""Snapshot tests of the main screen mid-training, the help screen and an invalid form.

The main screen is fed fixed, seeded events (tests/appsupport.py), never live training, so
the picture is the same on every machine. Update with `pytest --snapshot-update`.
"""

from __future__ import annotations

from appsupport import feed, fixed_events, type_into, wait_for

from rnntui.config import Config
from rnntui.events import Progress
from rnntui.tui.app import make_app

CONFIG = Config().with_values(epochs=3)


def test_main_screen_mid_training(snap_compare):
    events = fixed_events(CONFIG)
    last = max(e.step for e in events if isinstance(e, Progress))

    async def run_before(pilot):
        await feed(pilot, events)
        # The chart, the progress text and the sparklines repaint on their timers: wait for
        # them to show the last step, not for a time (a loaded machine runs timers late, and
        # a timer that fired mid-feed showed an earlier step).
        app = pilot.app
        await wait_for(pilot, lambda: not app.chart._dirty
                       and f"step {last:,}/" in app.status.detail, 30)
        await pilot.pause()

    assert snap_compare(make_app(CONFIG, preload_tf=False), terminal_size=(120, 40),
                        run_before=run_before)


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
