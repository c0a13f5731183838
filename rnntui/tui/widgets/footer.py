"""A Footer that rebuilds only when what it shows changes.

Textual's Footer recomposes (unmounts and mounts a FooterKey per binding) at every
bindings update, and a screen publishes one at every focus change: moving between form
fields, opening the command palette, a dialog. With rnntui's dozen keys that rebuild was a
large part of the time from ctrl+p to the palette on screen (bench/terminal.py). Here the
update first compares what the footer would show (each shown binding's key, label, action,
whether it is enabled, its tooltip) with what it shows.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class QuietFooter(Footer):
    """Footer, recomposed only when the keys it shows change."""

    _shown: tuple | None = None  # what the last compose showed

    def shows(self) -> tuple:
        """What compose would show now."""
        palette = self.app.COMMAND_PALETTE_BINDING if (
            self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE) else None
        return tuple(
            (binding.key, binding.description, binding.action, enabled, tooltip)
            for key, (_, binding, enabled, tooltip) in self.screen.active_bindings.items()
            if binding.show or key == palette)

    def compose(self):
        self._shown = self.shows() if self._bindings_ready else None
        yield from super().compose()

    def bindings_changed(self, screen: Screen) -> None:
        if (self._bindings_ready and self.is_attached and screen is self.screen
                and self.shows() == self._shown):
            return
        super().bindings_changed(screen)
