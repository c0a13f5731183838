"""The gradient-window ruler: num_steps drawn against the rule lags, under the truncation
style (issue 25: the seed's windows backprop a window's first error 1 step, its last
num_steps; even backprops every error num_steps).

A lag inside the window gets gradient from every trained position at or past it; a lag
beyond it can only be learned through the carried state, and never with carry_state off.
The horizon is soft, so the ruler says "through the state only", not "unlearnable".
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ...config import Config, Rules, effective_stride, style_name
from ...insight.measures import window_share

RULE_STYLE = "bold yellow"  # a rule lag, wherever lags are drawn (ruler, insight panels)


def ruler_text(width: int, num_steps: int, rules: Rules, carry: bool,
               stride: int | None = None) -> Text:
    """Two lines: a scale of lags with the window shaded by the share of trained positions
    whose error reaches each lag under the truncation style (`stride`: TBPTT(stride,
    num_steps); None, the seed's windows), then what each rule lag can use."""
    lags = [lag for lag, _ in rules]
    stride = stride or num_steps
    span = max([num_steps, *lags, 1]) + 1
    cols = max(1, min(span, width - 12))
    scale = cols / span
    share = window_share(num_steps, span, stride)
    line = Text("window  ", style="bold")
    bar = ["·"] * cols
    for i in range(min(cols, int(num_steps * scale + 0.5))):
        bar[i] = "━"
    for lag in lags:
        i = min(cols - 1, int(lag * scale))
        bar[i] = "┃" if lag < num_steps else "╂"
    for i, ch in enumerate(bar):
        reach = share[min(len(share) - 1, int(i / scale))]
        style = (_reach_style(reach) if ch == "━" else
                 RULE_STYLE if ch in "┃╂" else "dim")
        line.append(ch, style=style)
    line.append(f" {num_steps}", style="green")
    name, back = style_name(num_steps, stride)
    line.append(f"  {name}: each error back {back} steps", style="dim")
    notes = Text("lags    ")
    for lag in lags:
        if lag < num_steps:
            reach = share[lag]
            said = "every error" if reach > 0.999 else f"{round(100 * reach)}% of errors"
            notes.append(f"t-{lag} in window, {said}  ", style=_reach_style(reach))
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


def _reach_style(share: float) -> str:
    """A lag reached by every trained error, by most, or by few."""
    return "bold green" if share > 0.999 else ("green" if share >= 0.5 else "dim green")


class WindowRuler(Widget):
    """Shows the backprop window for the current form values."""

    DEFAULT_CSS = "WindowRuler { height: 2; }"

    num_steps: reactive[int] = reactive(5)
    rules: reactive[tuple] = reactive(((3, 0.5), (8, -0.25)))
    carry: reactive[bool] = reactive(True)
    stride: reactive[int] = reactive(0)  # 0: the seed's windows

    def render(self) -> Text:
        return ruler_text(self.size.width, self.num_steps, self.rules, self.carry,
                          self.stride or None)

    def show(self, config: Config) -> None:
        """The window and lags of `config` (a data file has no rules to mark)."""
        d, t = config.data, config.train
        self.num_steps, self.rules, self.carry = (t.num_steps, () if d.data_file else d.rules,
                                                  t.carry_state)
        self.stride = effective_stride(t)
