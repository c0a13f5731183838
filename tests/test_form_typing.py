"""Typing into a form field repaints the field only: no layout pass of the screen (the
form's inputs keep their scroll range up to date without one)."""

from __future__ import annotations

from rnntui.config import Config
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
