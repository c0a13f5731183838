"""The peer for bench/terminal.py: a plain Textual app (Header, Input, Static, Footer).

    python bench/plain_app.py

F6 toggles the Static between "running" and "paused", as rnntui's F6 toggles its status.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, Input, Static


class PlainApp(App):
    BINDINGS = [Binding("f6", "pause", "Pause/Resume", priority=True)]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="a number", id="field")
        yield Static("running", id="state")
        yield Footer()

    def action_pause(self) -> None:
        self.paused = not getattr(self, "paused", False)
        self.query_one("#state", Static).update("paused" if self.paused else "running")


if __name__ == "__main__":
    PlainApp().run()
