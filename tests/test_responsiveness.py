"""What keeps keys quick in a real terminal: typing into a form field repaints the field
only (no layout pass of the screen), and trainings in the terminal app run at a lower CPU
priority than the UI."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from rnntui.config import Config
from rnntui.tui import jobs
from rnntui.tui.app import make_app
from rnntui.tui.widgets.form import FieldInput


async def test_typing_scrolls_a_long_value_without_a_layout_pass():
    app = make_app(Config(), preload_tf=False)
    async with app.run_test(size=(120, 40)) as pilot:
        field = app.query_one("#field-learning_rate", FieldInput)
        field.focus()
        await pilot.pause()
        layouts = field._layout_updates  # counts the layout passes the field asked for
        await pilot.press("end", *"0" * 40)
        await pilot.pause()
        assert field.value.endswith("0" * 40)
        assert field.virtual_size.width == len(field.value) + 1
        assert field.max_scroll_x > 0 and field.scroll_x > 0  # the cursor is in view
        assert field._layout_updates == layouts


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_a_training_thread_runs_below_the_ui(monkeypatch):
    seen = {}

    def thread():
        jobs.run_in_background()
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    base = os.getpriority(os.PRIO_PROCESS, 0)
    for nice, want in ((0, base), (5, base + 5)):  # tests: off; the terminal app: 5
        monkeypatch.setattr(jobs, "BACKGROUND_NICE", nice)
        t = threading.Thread(target=thread)
        t.start()
        t.join()
        assert seen["nice"] == min(want, 19)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base  # not this one
