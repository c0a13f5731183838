"""The lower-right deck: predictions, lag effects, gradient reach and hidden state.

One panel at a time, cycled by a key (the app's F2), or all four side by side when the
screen has the class `-wide` (the app sets it on a big terminal). The panel on show has
the class `-current`; app.tcss shows and sizes them. The deck routes each event to the
panels that draw it; each panel repaints only when what it draws changed.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive

from ...core.events import EpochEnd, Insight, Predictions
from .hidden import HiddenPanel
from .lag_effects import LagEffectsPanel
from .predictions import PredictionsPanel
from .reach import ReachPanel

PANELS = {"predictions": "predictions", "effects": "lag effects", "reach": "gradient reach",
          "hidden": "hidden state"}  # id -> name, in the order the key cycles them
WIDE = (160, 40)  # the smallest terminal (columns, rows) that shows all four side by side


class PanelDeck(Vertical):
    """The app calls `show_*` with events, `cycle`/`current` from keys and commands."""

    current: reactive[str] = reactive("predictions")
    """The id of the panel on show (all are on show in the wide layout)."""

    def compose(self) -> ComposeResult:
        # In the wide layout's 2x2 grid, the hidden state sits under the predictions.
        yield PredictionsPanel(id="predictions", classes="deck-panel -current")
        yield LagEffectsPanel(id="effects", classes="deck-panel")
        yield HiddenPanel(id="hidden", classes="deck-panel")
        yield ReachPanel(id="reach", classes="deck-panel")

    def on_mount(self) -> None:
        # Held, not queried at each event: an event that arrived while the app unmounted
        # found the panels gone (NoMatches, test_app's ends-without-a-stop).
        self.hidden = self.query_one(HiddenPanel)
        self.predictions = self.query_one(PredictionsPanel)
        self.effects = self.query_one(LagEffectsPanel)
        self.reach = self.query_one(ReachPanel)

    def watch_current(self, current: str) -> None:
        for panel in self.query(".deck-panel"):
            panel.set_class(panel.id == current, "-current")
        self.set_class(current != "predictions", "-insight")

    def cycle(self) -> str:
        """Show the next panel; returns its name."""
        ids = list(PANELS)
        self.current = ids[(ids.index(self.current) + 1) % len(ids)]
        return PANELS[self.current]

    def show_panel(self, panel: str = "") -> str:
        """F2: the next panel, or `panel` (an id of PANELS); returns what to tell the user."""
        if self.screen.has_class("-wide"):
            return "the terminal is wide: every panel is on show"
        if panel:
            self.current = panel
            return ""
        return self.cycle()

    def step_gates(self) -> str:
        """F7: the hidden state, then each of its gates; returns what to tell the user."""
        return "" if self.next_hidden_view() else "this run's cell has no gates (LSTM and GRU have)"

    def next_hidden_view(self) -> bool:
        """Show the hidden state, or if it is on show, its next gate; False if no gates."""
        if self.current != "hidden" and not self.screen.has_class("-wide"):
            self.current = "hidden"
            return True
        return self.hidden.next_view()

    def temperature(self, step: int) -> str:
        """ctrl+up/down: the predictions' sample one temperature warmer (+1) or cooler (-1),
        brought on show; returns what to tell the user."""
        if not self.screen.has_class("-wide"):
            self.current = "predictions"
        return self.predictions.cool_or_warm(step)

    def toggle_timeline(self) -> str:
        """F9: the lag-effects panel between the effects now and the learning timeline
        (brought on show); returns what it shows."""
        if not self.screen.has_class("-wide"):
            self.current = "effects"
        return self.effects.toggle()

    def show_epoch_end(self, event: EpochEnd) -> None:
        self.effects.add_epoch(event.epoch, event.lag_effects)

    def show_predictions(self, event: Predictions, lags: list[int], targets: list[str] = (),
                         inputs: list[str] = ()) -> None:
        self.predictions.show(event, lags, targets, inputs)
        self.hidden.show_predictions(event)

    def show_insight(self, event: Insight) -> None:
        if event.off:  # this run measures nothing (its data are not 0/1): say why
            for panel in (self.effects, self.reach, self.hidden):
                panel.say(event.off)
            return
        self.effects.show(event)
        self.reach.show(event)
        self.hidden.show(event)

    def clear(self) -> None:
        for panel in (self.predictions, self.effects, self.hidden, self.reach):
            panel.clear()
