"""The help screen (F1) and the restart confirmation."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

KEYS = [
    ("F5", "train into a new run folder (asks before a restart)"),
    ("F6", "pause or resume (the training or the race)"),
    ("F8", "stop (the training or the race); saves a checkpoint"),
    ("F3", "runs: space selects, enter overlays, r resumes, w watches a live one"),
    ("c", "in the runs screen: copy the run's config string"),
    ("F4", "race: a grid like num_steps=2,5,10, enter runs it"),
    ("F2", "panel: predictions, lag effects, gradient reach, hidden"),
    ("F7", "the hidden state, then the LSTM's cell state and each gate"),
    ("F9", "lag effects: now, or the learning timeline over the epochs"),
    ("ctrl+up / down", "a text file's sample: warmer / cooler temperature"),
    ("ctrl+t", "train detached: its own process, which outlives the app; F8 stops it"),
    ("ctrl+s", "save the chart on show as SVG"),
    ("ctrl+e", "export the run's model as model.keras"),
    ("F1", "this help"),
    ("ctrl+q", "quit (stops training first)"),
    ("ctrl+p", "command palette: every action by name"),
    ("tab / shift+tab", "next / previous field"),
    ("up / down", "step a numeric field (learning rate and clip by x2 / ÷2)"),
    ("enter", "press the focused button (add or remove a rule)"),
    ("escape", "close this screen"),
]

NOTES = (
    "The learning rate can change during training: it applies at the next chunk and is "
    "marked on the chart. Any other change asks whether to restart.\n\n"
    "Floors: the loss of the best predictor that knows nothing, the first lag, the first "
    "two, ..., on this run's own validation sample (rnntui baselines prints their expected "
    "values). The verdict per lag: the model's measured effect of X[t-k] over what the "
    "config can reach (the rule's delta; with carry_state off, delta x (n-k)/n inside the "
    "window and nothing beyond it), ±2 standard errors; learned once the low end reaches "
    "90%. The loss's own view: how far it is from nothing to every rule. "
    "Lags beyond num_steps can still be learned through the carried state: the horizon "
    "is soft.\n\n"
    "Lag effects: what the model learned of each lag (bar) against the task's delta (◆). "
    "Gradient reach: how far back the gradient carries (log), and the share of positions "
    "whose window reaches each lag. From 160x40 the four panels sit side by side."
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        rows = "\n".join(f"[b]{key:>16}[/]  {what}" for key, what in KEYS)
        with Vertical(id="help-box"):
            yield Static("[b]rnntui keys[/]", id="help-title")
            yield Static(rows, id="help-keys")
            yield Static(NOTES, id="help-notes")

    def action_dismiss(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; dismisses with True for yes."""

    BINDINGS = [Binding("y", "answer(True)", "yes"), Binding("n,escape", "answer(False)", "no")]

    def __init__(self, question: str):
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(self.question, id="confirm-question")
            with Horizontal(id="confirm-buttons"):
                yield Button("Yes (y)", variant="warning", id="yes")
                yield Button("No (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
