"""Hidden state: a heat map of the state over the predictions' window, and the gates.

One row per unit (the units the engine picked: those that vary most over the window), one
column per time step, under the x, y and p rows of the same window (drawn as the
predictions panel draws them, so the columns line up). For LSTM and GRU cells `next_view`
steps through the gates, and for the LSTM first its cell state c (as tanh(c): where its
memory lives). When the state was measured on an older model than the rows above it (the
budget skipped the newest look), the title says how many steps older. The colours are
exact xterm-256 colours, so a 256-colour terminal shows the same map as a truecolor one;
the title line carries the scale.
"""

from __future__ import annotations

import math
from functools import lru_cache

from rich.style import Style
from rich.text import Text

from ...core.events import Insight, Predictions
from .drawn import DrawnPanel, runs
from .predictions import series_rows

# Diverging, for the state (tanh-like, signed): from the weakest to the strongest.
NEGATIVE = ("#00005f", "#000087", "#0000d7", "#005fff", "#00afff")
ZERO = "#303030"
POSITIVE = ("#5f0000", "#870000", "#d70000", "#ff5f00", "#ffaf00")
# Sequential, for the gates (sigmoids, 0 to 1).
GATE = ("#00005f", "#005f87", "#008787", "#00af87", "#5fd75f", "#d7ff5f")
NICE = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)  # the state's scale rounds up to one
GATE_NAMES = {"i": "input gate i", "f": "forget gate f", "o": "output gate o",
              "z": "update gate z", "r": "reset gate r"}
SIGNED = {"h": "hidden state h", "c": "cell state tanh(c)"}  # views drawn about 0


def state_scale(rows: list[list[float]]) -> float:
    """The colour scale's end for a signed map: max |value| rounded up to a NICE step."""
    top = max((abs(v) for row in rows for v in row if math.isfinite(v)), default=0.0)
    return next((s for s in NICE if s >= top), 10 ** math.ceil(math.log10(top)))


def cell_color(v: float, scale: float, gate: bool) -> str | None:
    """The colour of one cell: None for a value that is not a number."""
    if not math.isfinite(v):
        return None
    if gate:
        return GATE[max(0, min(len(GATE) - 1, int(v * len(GATE))))]
    level = min(len(POSITIVE), round(abs(v) / scale * len(POSITIVE)))
    if level == 0:
        return ZERO
    return (POSITIVE if v > 0 else NEGATIVE)[level - 1]


def legend(scale: float, gate: bool) -> Text:
    """The colour bar with its ends: 0..1 for a gate, -scale..+scale for the state."""
    colors = GATE if gate else (*reversed(NEGATIVE), ZERO, *POSITIVE)
    text = Text("0 " if gate else f"{-scale:g} ", style="dim")
    for c in colors:
        text.append(" ", style=Style(bgcolor=c))
    text.append(" 1" if gate else f" +{scale:g}", style="dim")
    return text


def heat_text(pred: Predictions | None, rows: list[list[float]], units: list[int],
              view: str, views: list[str], width: int, height: int, age: int = 0) -> Text:
    """The panel's text: the title and legend, what fits of x/y/p, then one row per unit.
    `age`: how many steps older the state's model is than the rows above it."""
    gate = view not in SIGNED
    scale = 1.0 if gate else state_scale(rows)
    text = Text(GATE_NAMES.get(view, f"gate {view}") if gate else SIGNED[view], style="bold")
    if age > 0:
        text.append(f" ({age:,} steps older than x/y/p)", style="yellow")
    text.append("  ")
    text.append_text(legend(scale, gate))
    if len(views) > 1:
        text.append("  F7:", style="dim")
        for v in views:
            text.append(" ")
            text.append(v, style="bold reverse" if v == view else "dim")
    names = [str(u) for u in units] if len(units) == len(rows) else [str(i) for i in
                                                                      range(len(rows))]
    label = max(3, max((len(n) for n in names), default=0) + 1)
    room = height - 1
    series = "xyp"[:max(0, min(3, room - 1))] if pred is not None else ""
    if series:
        text.append("\n")
        text.append_text(series_rows(pred, width, label, series))
    for name, row in list(zip(names, rows, strict=True))[:room - len(series)]:
        text.append("\n" + name.ljust(label), style="dim")
        colors = (cell_color(v, scale, gate) for v in row[:max(0, width - label)])
        text.append_text(runs(("?" if c is None else " ", _cell_style(c)) for c in colors))
    return text


@lru_cache(maxsize=64)
def _cell_style(color: str | None) -> Style:
    return Style(color="red") if color is None else Style(bgcolor=color)


class HiddenPanel(DrawnPanel):
    """The newest Insight's state (or a gate) under the newest Predictions' x/y/p."""

    EMPTY = "the hidden state shows during training"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._insight: Insight | None = None
        self._pred: Predictions | None = None
        self.view = "h"  # "h" for the state, else the gate's name

    @property
    def views(self) -> list[str]:
        return ["h", *(self._insight.gates if self._insight else {})]

    def show(self, event: Insight) -> bool:
        self._insight = event
        if self.view not in self.views:
            self.view = "h"
        return self._update()

    def show_predictions(self, event: Predictions) -> bool:
        self._pred = event
        return self._update()

    def next_view(self) -> bool:
        """Step to the next gate (then back to the state); False if the cell has none."""
        views = self.views
        if len(views) < 2:
            return False
        self.view = views[(views.index(self.view) + 1) % len(views)]
        self._update()
        return True

    def clear(self) -> None:
        self._insight, self._pred, self.view = None, None, "h"
        super().clear()

    def _update(self) -> bool:
        e = self._insight
        if e is None or not e.hidden:
            return False
        rows = e.hidden if self.view == "h" else e.gates[self.view]
        pred = None if self._pred is None else (self._pred.x, self._pred.y, self._pred.p)
        age = max(0, self._pred.step - e.step) if self._pred is not None else 0
        return self.set_data((pred, rows, e.units, self.view, self.views, age))

    def draw(self, data, width: int, height: int) -> Text:
        xyp, rows, units, view, views, age = data
        pred = None if xyp is None else Predictions(0, *xyp, combos=[])
        return heat_text(pred, rows, units, view, views, width, height, age)
