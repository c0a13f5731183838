"""Where the loss chart's plot sits and how values map to it: axis ranges, ticks, pixels.

Split from `render` (which draws) so each file reads top to bottom; numpy
only, no Textual.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Y_GRID = 10  # the y axis ends on multiples of about 1/Y_GRID of its range


@dataclass(frozen=True)
class Series:
    """One more curve on the chart (a run of an overlay, a config of a race): drawn as its
    smoothed line, with its validation points as markers, all in one colour of its own."""

    name: str
    steps: np.ndarray  # ascending
    losses: np.ndarray  # parallel to steps; non-finite values are dropped when drawn
    val: Sequence[tuple[int, float]] = ()
    colour: int = 0  # index into render.SERIES_COLOURS (wraps around)


def fmt_step(value: float) -> str:
    """Compact step count for the x axis: 0, 500, 1k, 1.5k, 200k, 1.2M."""
    v = abs(value)
    if v >= 1e6:
        return f"{round(value / 1e6, 3):g}M"
    if v >= 1e3:
        return f"{round(value / 1e3, 3):g}k"
    return f"{round(value, 3):g}"


def nice_step(span: float, target: int, mults: Sequence[float]) -> float:
    """Smallest "round" step (mult * 10^k) that splits span into at most `target` parts."""
    raw = span / max(target, 1)
    if not math.isfinite(raw) or raw <= 0:
        return 1.0
    base = 10.0 ** math.floor(math.log10(raw))
    for m in mults:
        if m * base >= raw * (1 - 1e-9):
            return m * base
    return 10 * base


def y_range(
    losses: np.ndarray, val: Sequence[tuple[int, float]], floors: Sequence[tuple[str, float]]
) -> tuple[float, float]:
    """(bottom, top) of the y axis for finite `losses`, with floors always inside.

    The top ignores the huge losses of the first steps (99th percentile of the last three
    quarters) so the region near the floors, where the interesting learning happens, stays
    readable; points above it are drawn clipped at the top edge.
    """
    lo, hi = math.inf, -math.inf
    n = losses.size
    if n:
        # A strided subsample keeps the percentile cheap on 200k-point runs.
        recent = losses[n // 4 :: max(1, n // 20000)] if n >= 8 else losses
        p_lo, p_hi = np.percentile(recent, [1, 99])
        lo, hi = float(p_lo), float(p_hi)
    fl = [f for _, f in floors if math.isfinite(f)]
    if fl:
        lo, hi = min(lo, *fl), max(hi, *fl)
    vv = [v for _, v in val if math.isfinite(v)]
    if vv:
        if math.isfinite(hi):
            # An early validation loss far above everything else must not flatten the chart.
            cap = hi + 0.5 * max(hi - lo, abs(hi) * 0.1, 1e-6)
            vv = [v for v in vv if v <= cap] or vv[-1:]
        lo, hi = min(lo, *vv), max(hi, *vv)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return 0.0, 1.0
    span = hi - lo
    if span <= 0:
        span = max(abs(hi) * 0.1, 1e-3)
        lo, hi = lo - span / 2, hi + span / 2
    pad = 0.06 * span
    return lo - pad, hi + pad


@dataclass(frozen=True)
class Layout:
    """Where the plot sits in the character grid and how values map to it."""

    width: int
    height: int
    left: int  # first plot column
    pw: int  # plot width in cells (pixels are 2x as many)
    ph: int  # plot height in cells, starting at row 0 (pixels are 4x as many)
    x0: float
    x1: float
    y0: float  # value at the bottom edge
    y1: float  # value at the top edge
    axes: bool
    axis_line: bool  # a "└──┬──" row above the x labels

    def px(self, steps: np.ndarray) -> np.ndarray:
        """Pixel column (0 .. 2*pw-1) of each step, clipped to the plot."""
        n = 2 * self.pw - 1
        x = (np.asarray(steps, dtype=np.float64) - self.x0) * (n / (self.x1 - self.x0))
        return np.clip(np.rint(x), 0, n).astype(np.int64)

    def py_float(self, values: np.ndarray) -> np.ndarray:
        """Unrounded pixel row (0 = top) of each value, clipped to the plot."""
        n = 4 * self.ph - 1
        y = (self.y1 - np.asarray(values, dtype=np.float64)) * (n / (self.y1 - self.y0))
        return np.clip(y, 0, n)

    def row_of(self, value: float) -> int:
        """Character row on which `value` is drawn."""
        return int(np.rint(self.py_float(np.array([value]))[0])) // 4

    def col_of(self, step: float) -> int:
        """Character column on which `step` is drawn."""
        return self.left + int(self.px(np.array([step]))[0]) // 2


def compute_layout(
    width: int,
    height: int,
    steps: np.ndarray,
    losses: np.ndarray,
    val: Sequence[tuple[int, float]],
    floors: Sequence[tuple[str, float]],
    lr_marks: Sequence[tuple[int, float]],
    series: Sequence[Series] = (),
    x_end: float = 0.0,
) -> tuple[Layout, list[tuple[float, str]]]:
    """Layout plus the y tick (value, label) pairs; `losses` (also each series') must
    already be finite. The axes cover the main data and every series.

    `x_end`: the x axis reaches at least this step (a live run's planned length, so the
    axis does not move with every new step)."""
    ranges = [y_range(s.losses, s.val, floors) for s in series]
    if losses.size or val or not series:
        ranges.append(y_range(losses, val, floors))
    y0, y1 = min(r[0] for r in ranges), max(r[1] for r in ranges)
    # Snapped outwards to a grid of about a tenth of the range: a live chart's axis stays
    # put while its percentiles drift, and only a move across a grid line redraws it all.
    q = nice_step(y1 - y0, Y_GRID, (1, 2, 2.5, 5, 10))
    y0, y1 = math.floor(y0 / q + 1e-9) * q, math.ceil(y1 / q - 1e-9) * q
    ends = [float(s) for s, _ in val] + [float(s) for s, _ in lr_marks]
    for s in series:
        ends += [float(v) for v, _ in s.val] + ([float(s.steps[-1])] if s.steps.size else [])
    if steps.size:
        ends.append(float(steps[-1]))
    x1 = max([*ends, x_end, 1.0])
    axes = width >= 14 and height >= 5
    axis_line = axes and height >= 10
    ph = height - (1 + axis_line) if axes else height
    ticks: list[tuple[float, str]] = []
    left = 0
    if axes:
        step = nice_step(y1 - y0, max(3, min(ph // 3, 8)), (1, 2, 2.5, 5, 10))
        values = np.arange(math.ceil(y0 / step), math.floor(y1 / step) + 1) * step
        if max(abs(y0), abs(y1)) >= 1000:
            labels = [f"{v:.3g}" for v in values]
        else:
            mant = step / 10.0 ** math.floor(math.log10(step))
            dec = -math.floor(math.log10(step) + 1e-9) + (abs(mant - 2.5) < 1e-6)
            dec = min(max(dec, 2), 4)
            labels = [f"{v:.{dec}f}" for v in values]
        ticks = list(zip(values.tolist(), labels, strict=True))
        left = min(max((len(s) for s in labels), default=4), 8) + 1
    layout = Layout(width, height, left, width - left, ph, 0.0, x1, y0, y1, axes, axis_line)
    return layout, ticks
