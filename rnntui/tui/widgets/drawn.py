"""The base of the insight panels: a widget drawn whole from its latest data.

The app hands a panel each new event; the panel keeps only what it draws and asks for a
repaint only when that changed. Textual repaints on a resize by itself and never paints a
panel that is not displayed, so a hidden panel costs nothing until it is shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.widget import Widget


def runs(pieces: Iterable[tuple[str, str | Style]]) -> Text:
    """A line from (text, style) pieces, one span per run of a style: Textual's cost of
    drawing a line grows with its spans, and a chart's cells come in long runs."""
    line = Text()
    for style, group in groupby(pieces, key=lambda piece: piece[1]):
        line.append("".join(t for t, _ in group), style=style)
    return line


class DrawnPanel(Widget):
    """Subclasses define `draw(data, width, height)`; `EMPTY` shows before any data."""

    EMPTY = ""
    # Each line is cut at the panel's edge, never wrapped: the rows line up by column.
    DEFAULT_CSS = "DrawnPanel { text-wrap: nowrap; text-overflow: ellipsis; }"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._data: Any = None
        self.paints = 0  # times drawn: the tests check that unchanged data draws nothing

    def set_data(self, data: Any) -> bool:
        """Show `data` (comparable with ==); False, and no repaint, if it is on show already."""
        if data == self._data:
            return False
        self._data = data
        self.refresh()
        return True

    def clear(self) -> None:
        self.set_data(None)

    def render(self) -> Text:
        self.paints += 1
        width, height = self.content_size
        if self._data is None or width < 1 or height < 1:
            return Text(self.EMPTY, style="dim")
        return self.draw(self._data, width, height)

    def draw(self, data: Any, width: int, height: int) -> Text:
        raise NotImplementedError
