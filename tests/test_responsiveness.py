"""What keeps keys quick in a real terminal: typing into a form field repaints the field
only (no layout pass of the screen), the footer rebuilds only when its keys change, and
trainings in the terminal app run at a lower CPU priority than the UI and hand it the GIL
sooner."""

from __future__ import annotations

import sys

import pytest
from textual.app import App
from textual.binding import Binding
from textual.widgets import Input
from textual.widgets._footer import FooterKey

from rnntui.config import Config
from rnntui.core import priority
from rnntui.core.priority import ENGINE_IN_APP, HELPER_BELOW
from rnntui.engine import Engine
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
def test_the_engine_runs_below_the_ui_and_its_helper_below_it_however_often_used():
    """Priorities are absolute, set once per thread: the engine at its own, the helper
    HELPER_BELOW under it, the UI (this thread) untouched; commands and jobs run again and
    again in the same threads never drift lower."""
    base = priority.nice()
    engine = Engine(nice=3)
    for _ in range(3):
        assert engine.call(priority.nice) == base + 3
        assert engine.executor.submit(priority.nice).result() == base + 3 + HELPER_BELOW
    assert priority.nice() == base


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
    nice = []
    monkeypatch.setattr("rnntui.engine.configure", lambda **kw: nice.append(kw["nice"]))
    run_app(Config())
    assert calls == [SWITCH_INTERVAL_S] and SWITCH_INTERVAL_S < 0.005
    assert nice == [ENGINE_IN_APP] and ENGINE_IN_APP > 0  # the engine's threads yield
