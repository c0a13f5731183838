"""The learning timeline: the lag effects at every epoch end, as a lag x epoch heat map.

The question it answers: when did t-8 start to count? One row per lag (the rule lags
marked), one column per epoch end that was measured (the newest at the right, as many as
fit), each cell the effect of X[t-k] on P(Y_t=1) then, on the same signed colour scale as
the hidden state, scaled by the largest rule delta. An epoch end that was not measured
(the insight budget skips some of a short-epoch run) is a dot.
"""

from __future__ import annotations

import math

from rich.text import Text

from .drawn import runs
from .hidden import cell_color, legend
from .ruler import RULE_STYLE

TITLE = "learning timeline: effect of X[t-k] at each epoch end →"
LABEL = 6  # "epoch "
WIDEST = 4  # cells an epoch's column takes at most (few epochs: wider columns)


def timeline_text(columns: list[tuple[int, dict[str, float]]], rules: list[int],
                  width: int, height: int, scale: float = 0.5) -> Text:
    """`columns`: (epoch, {"1": effect, ...}) per epoch end, oldest first; `rules`: the
    rule lags; `scale`: the effect drawn at full colour (the largest rule delta)."""
    text = Text(TITLE, style="bold")
    if width > len(TITLE) + 16:
        text.append("  ")
        text.append_text(legend(scale, False))
    lags = sorted({int(k) for _, effects in columns for k in effects})
    room = max(0, width - LABEL)
    shown = columns[-room:] if room else []
    if not lags or not shown:
        return text.append("\nno epoch end measured yet", style="dim")
    w = max(1, min(WIDEST, room // len(shown)))
    text.append("\n" + "epoch".ljust(LABEL), style="dim")
    text.append(_epoch_axis([epoch for epoch, _ in shown], w), style="dim")
    for k in lags[:max(0, height - 2)]:
        text.append("\n")
        text.append(f"t-{k}".ljust(LABEL), style=RULE_STYLE if k in rules else "dim")
        cells = []
        for _, effects in shown:
            v = effects.get(str(k))
            if v is None or not math.isfinite(v):
                cells.append(("·".ljust(w), "dim"))
            else:
                colour = cell_color(v, scale, False)
                cells.append((" " * w, f"on {colour}" if colour else ""))
        text.append_text(runs(cells))
    return text


def _epoch_axis(epochs: list[int], w: int) -> str:
    """The epoch numbers (1-based) over their columns (`w` cells each): the first, the
    last and every fifth, as room allows."""
    axis = [" "] * (len(epochs) * w)
    for i, epoch in enumerate(epochs):
        label, at = str(epoch + 1), i * w
        if w >= len(label) + 1 or (epoch + 1) % 5 == 0 or i in (0, len(epochs) - 1):
            if all(c == " " for c in axis[max(0, at - 1):at + len(label) + 1]):
                axis[at:at + len(label)] = list(label)[:len(axis) - at]
    return "".join(axis)
