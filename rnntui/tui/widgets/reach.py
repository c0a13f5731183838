"""Gradient reach: how far back the training gradient reaches, against what the task needs.

One column per lag k = 0..K on one axis: a bar of the mean |dLoss_t/dX[t-k]| along the
flip of X on a log scale (backprop through the network as it runs, never truncated: the
vanishing gradient made visible; with carry_state off the state resets at each window, so
nothing reaches past it), below it the share of training positions whose truncated window
reaches back k steps, and the lag axis with the rule lags marked. The horizon is read
against the largest rule lag's own value: how much weaker the gradient gets past what the
task needs. A rule lag where the window share is 0 is learned, if at all, through the
carried state.
"""

from __future__ import annotations

import math

from rich.text import Text

from ...core.events import Insight
from ...insight.measures import reach_horizon
from .drawn import DrawnPanel, runs
from .lag_effects import rule_lags
from .ruler import RULE_STYLE

TITLE = "gradient reach: mean |dL_t/dX[t-k]| (log) · window: % of positions reaching k"
EIGHTHS = " ▁▂▃▄▅▆▇█"
SHADES = " ░▒▓█"
MAX_DECADES = 6  # the log axis spans at most this many decades below the largest norm
FADED = 0.01  # past the reference lag, a norm under this share of its own is drawn faded
LABEL = 7  # columns of the row labels ("1e-3", "window", "lag") and a gap
BAR, FADED_BAR, WINDOW = "#5f87ff", "grey42", "green"  # exact xterm-256 colours


def faded_from(reach: list[float], ref: int = 1) -> int | None:
    """The first lag past `ref` (the largest rule lag) whose norm is under FADED of the
    norm at `ref`, or None."""
    return reach_horizon(reach, ref, FADED) if reach else None


def reference_lag(true_deltas: list[float]) -> int:
    """The lag the horizon is read against: the largest rule lag (1 without rules)."""
    return max(rule_lags(true_deltas), default=1)


def _log_range(reach: list[float]) -> tuple[int, int]:
    positive = [v for v in reach if v > 0 and math.isfinite(v)]
    if not positive:
        return -1, 0
    hi = math.ceil(math.log10(max(positive)))
    lo = max(math.floor(math.log10(min(positive))), hi - MAX_DECADES)
    return (lo, hi) if lo < hi else (hi - 1, hi)


def _bar_rows(reach, lags, rules, colw: int, rows: int, faded: int | None) -> list[Text]:
    lo, hi = _log_range(reach)
    eighths = []
    for k in lags:
        v = reach[k] if k < len(reach) else 0.0
        f = (math.log10(v) - lo) / (hi - lo) if v > 0 and math.isfinite(v) else 0.0
        eighths.append(max(0, min(rows * 8, round(f * rows * 8))))
    out, per_row = [], (hi - lo) / rows
    for r in range(rows):
        # Each row is labelled with the largest decade in its span (the top row with hi).
        top, bottom = hi - r * per_row, hi - (r + 1) * per_row
        decades = [d for d in range(lo, hi + 1) if bottom - 1e-9 <= d < top - 1e-9]
        label = f"1e{hi}" if r == 0 else (f"1e{max(decades)}" if decades else "")
        pieces = [(label.rjust(LABEL - 1) + "│", "dim")]
        for k, n in zip(lags, eighths, strict=True):
            fill = max(0, min(8, n - (rows - 1 - r) * 8))
            if fill:
                style = FADED_BAR if faded is not None and k >= faded else BAR
                pieces.append((EIGHTHS[fill] * (colw - 1) + " ", style))
            else:  # the rule lags' columns carry a guide, so they read on the bars too
                pieces.append((("┊" if k in rules else " ").rjust(colw - 1) + " ",
                               "dim yellow"))
        out.append(runs(pieces))
    return out


def _window_row(window_share, lags, colw: int) -> Text:
    line = Text("window".ljust(LABEL), style="bold")
    for k in lags:
        share = window_share[k] if k < len(window_share) else 0.0
        if colw >= 4:
            line.append(f"{round(100 * share)}".rjust(colw - 1) + " ",
                        style=WINDOW if share > 0 else "dim")
        else:
            i = min(len(SHADES) - 1, math.ceil(share * (len(SHADES) - 1)))
            line.append(SHADES[i].rjust(colw - 1) + " ", style=WINDOW)
    return line


def _lag_row(lags, rules, colw: int) -> Text:
    line = Text("lag".ljust(LABEL), style="bold")
    for k in lags:
        line.append(str(k).rjust(colw - 1), style=f"{RULE_STYLE} reverse" if k in rules else "")
        line.append(" ")
    return line


def reach_text(reach: list[float], window_share: list[float], true_deltas: list[float],
               width: int, height: int, age: int = 0) -> Text:
    """The panel's text for `width` x `height` cells: as many lags as fit, from lag 0.
    `age`: how many steps older the reach's model is than the rest of the Insight."""
    count = max(len(window_share), len(reach), len(true_deltas))
    colw = max(len(str(count - 1)) + 1, min(5, (width - LABEL) // max(1, count)))
    lags = list(range(min(count, max(1, (width - LABEL) // colw))))
    rules = rule_lags(true_deltas)
    ref = reference_lag(true_deltas)
    faded = faded_from(reach, ref)
    title = Text(TITLE, style="bold")
    if not reach:
        title = Text("gradient reach: not measured · ", style="bold")
        title.append("window: % of positions whose window reaches lag k", style="bold")
    elif faded is not None:
        title = Text(f"gradient under 1% of t-{ref}'s from t-{faded} · ", style="bold")
        title.append(TITLE.split(": ", 1)[1], style="dim")
    if reach and age > 0:
        title.append(f"  ({age:,} steps older)", style="yellow")
    fixed = [_window_row(window_share, lags, colw), _lag_row(lags, rules, colw)]
    bars = height - 1 - len(fixed)
    if bars < 1:  # too short: the bars and the axis first
        bars, title = max(1, height - 1), None
        fixed = fixed[1:]
    lines = ([title] if title else []) + ([] if not reach else
                                         _bar_rows(reach, lags, rules, colw, bars, faded)) + fixed
    return Text("\n").join(lines)


class ReachPanel(DrawnPanel):
    """The newest Insight's gradient norms and window shares by lag."""

    EMPTY = "gradient reach shows during training"

    def show(self, event: Insight) -> bool:
        age = event.step - event.reach_step if event.reach_step >= 0 else 0
        return self.set_data((tuple(event.reach), tuple(event.window_share),
                              tuple(event.true_deltas), age))

    def draw(self, data, width: int, height: int) -> Text:
        reach, window_share, true_deltas, age = data
        return reach_text(list(reach), list(window_share), list(true_deltas), width, height,
                          age)
