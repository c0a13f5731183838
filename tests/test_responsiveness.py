"""What keeps keys quick in a real terminal: typing into a form field repaints the field
only (no layout pass of the screen), the footer rebuilds only when its keys change, and
trainings in the terminal app run at a lower CPU priority than the UI and hand it the GIL
sooner."""

from __future__ import annotations

import os
import sys
import threading

import pytest
from textual.app import App
from textual.binding import Binding
from textual.widgets import Input
from textual.widgets._footer import FooterKey

from rnntui.config import Config
from rnntui.tui import jobs
from rnntui.tui.app import make_app
from rnntui.tui.run import SWITCH_INTERVAL_S, run_app
from rnntui.tui.widgets.footer import QuietFooter
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


class _Keyed(Input):
    BINDINGS = [Binding("ctrl+t", "noop", "Toggle")]  # shown in the footer while focused


class _TwoFields(App):
    def compose(self):
        yield Input(id="a")
        yield Input(id="b")
        yield _Keyed(id="c")
        yield QuietFooter()


async def test_the_footer_rebuilds_only_when_the_keys_it_shows_change():
    app = _TwoFields()
    async with app.run_test(size=(80, 10)) as pilot:
        await pilot.pause()

        def keys():
            return list(app.query(FooterKey))

        before = keys()
        assert before and not any(k.key == "ctrl+t" for k in before)
        app.query_one("#b").focus()  # a focus change with the same keys shown: kept
        await pilot.pause()
        assert keys() == before
        app.query_one("#c").focus()  # its own key: shown
        await pilot.pause()
        assert any(k.key == "ctrl+t" for k in keys())
        app.query_one("#a").focus()  # and gone again
        await pilot.pause()
        assert not any(k.key == "ctrl+t" for k in keys())


def test_the_terminal_app_hands_the_gil_to_the_ui_sooner(monkeypatch):
    calls = []
    monkeypatch.setattr("rnntui.tui.app.RnnTui.run", lambda self: None)
    monkeypatch.setattr(sys, "setswitchinterval", calls.append)
    monkeypatch.setattr(jobs, "BACKGROUND_NICE", 0)
    # (run_app leaves at once, os._exit, if another test's thread is still going)
    monkeypatch.setattr(threading, "enumerate", lambda: [threading.main_thread()])
    run_app(Config())
    assert calls == [SWITCH_INTERVAL_S] and SWITCH_INTERVAL_S < 0.005
