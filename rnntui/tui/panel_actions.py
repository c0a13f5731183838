"""The app's keys for the lower-right deck: F2 cycles the panel, F7 the hidden state's gates.

A mixin of `RnnTui`, kept apart so app.py stays the wiring of one training. It uses the
app's `deck` (rnntui.tui.widgets.deck.PanelDeck). On a terminal of at least WIDE the four
panels are side by side and F2 has nothing to switch.
"""

from __future__ import annotations

from collections.abc import Iterator

from textual.app import SystemCommand
from textual.binding import Binding

from .widgets.deck import PANELS, WIDE

BINDINGS = [
    Binding("f2", "panel", "Panel", priority=True),
    Binding("f7", "gates", "Gates", priority=True, show=False),
]


class PanelActions:
    """F2 and F7, the wide layout, and their palette commands."""

    def set_wide(self, width: int, height: int) -> None:
        """Called on every resize: side by side from WIDE up, else one panel at a time."""
        self.screen.set_class(width >= WIDE[0] and height >= WIDE[1], "-wide")

    def action_panel(self, panel: str = "") -> None:
        """F2: the next panel, or `panel` (an id of deck.PANELS)."""
        if self.screen.has_class("-wide"):
            self.notify("the terminal is wide: every panel is on show", timeout=2)
        elif panel:
            self.deck.current = panel
        else:
            self.notify(self.deck.cycle(), timeout=1)

    def action_gates(self) -> None:
        """F7: the hidden state, then each of its gates in turn (LSTM, GRU)."""
        if not self.deck.next_hidden_view():
            self.notify("this run's cell has no gates (LSTM and GRU have)", timeout=2)

    def panel_commands(self) -> Iterator[SystemCommand]:
        for panel, name in PANELS.items():
            yield SystemCommand(f"Show {name}", "In the lower-right panel (F2 cycles them)",
                                lambda panel=panel: self.action_panel(panel))
        yield SystemCommand("Hidden state / gates", "The state, then each gate in turn (F7)",
                            self.action_gates)
