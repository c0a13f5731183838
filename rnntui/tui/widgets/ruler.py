"""The gradient-window ruler: num_steps drawn against the rule lags.

A lag inside the window gets gradient from every window position at or past it; a lag
beyond it can only be learned through the carried state, and never with carry_state off.
The horizon is soft, so the ruler says "through the state only", not "unlearnable".
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ...config import Config, Rules

RULE_STYLE = "bold yellow"  # a rule lag, wherever lags are drawn (ruler, insight panels)


def ruler_text(width: int, num_steps: int, rules: Rules, carry: bool) -> Text:
    """Two lines: a scale of lags with the window shaded, then what each lag can use."""
    lags = [lag for lag, _ in rules]
    span = max([num_steps, *lags, 1]) + 1
    cols = max(1, min(span, width - 12))
    scale = cols / span
    line = Text("window  ", style="bold")
    bar = ["·"] * cols
    for i in range(min(cols, int(num_steps * scale + 0.5))):
        bar[i] = "━"
    for lag in lags:
        i = min(cols - 1, int(lag * scale))
        bar[i] = "┃" if lag < num_steps else "╂"
    for ch in bar:
        style = "green" if ch == "━" else (RULE_STYLE if ch in "┃╂" else "dim")
        line.append(ch, style=style)
    line.append(f" {num_steps}", style="green")
    notes = Text("lags    ")
    for lag in lags:
        if lag < num_steps:
            notes.append(f"t-{lag} in window  ", style="green")
        elif carry:
            notes.append(f"t-{lag} via carried state only  ", style="yellow")
        else:
            notes.append(f"t-{lag} beyond reach (no carry)  ", style="red")
    if not lags:
        notes.append("no rules", style="dim")
    line.append("\n")
    line.append_text(notes)
    line.no_wrap = True
    line.overflow = "ellipsis"
    return line


class WindowRuler(Widget):
    """Shows the backprop window for the current form values."""

    DEFAULT_CSS = "WindowRuler { height: 2; }"

    num_steps: reactive[int] = reactive(5)
    rules: reactive[tuple] = reactive(((3, 0.5), (8, -0.25)))
    carry: reactive[bool] = reactive(True)

    def render(self) -> Text:
        return ruler_text(self.size.width, self.num_steps, self.rules, self.carry)

    def show(self, config: Config) -> None:
        """The window and lags of `config` (a data file has no rules to mark)."""
        d, t = config.data, config.train
        self.num_steps, self.rules, self.carry = (t.num_steps, () if d.data_file else d.rules,
                                                  t.carry_state)
