"""Braille rasteriser for the live loss chart: numpy in, one `rich.text.Text` per row out.

Kept free of Textual so it can be unit tested and benchmarked without an app; the widget in
`rnntui.tui.widgets.loss_chart` only caches what this returns. Every series is binned per
pixel column with numpy (no Python loop over points), so the cost depends on the chart size,
not on how many steps have been trained.

A braille cell holds 2x4 dots but only one colour, so a cell shows only the dots of the last
layer drawn into it (drawing order = priority): OR-ing the layers would paint the raw noise in
the smoothed line's colour and blur it.

Extra series (`Series`: the runs of an overlay, the configs of a race) are drawn as smoothed
lines under the main data, each in its own colour, named by a legend at the top right.
Axis ranges and ticks are computed in `layout`, the braille pixels in `pixels`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rich.style import Style
from rich.text import Span, Text

from .layout import Layout, Series, compute_layout, fmt_step, nice_step, y_range
from .pixels import DOT_BITS, GLYPHS, bins, cells, smooth, trace

__all__ = ["Grid", "Layout", "Series", "compute_layout", "fmt_step", "grid_texts",
           "render_chart", "render_grid", "y_range"]

FLOOR_COLOURS = ("#ffd700", "#ff8700", "#afd700", "#ffaf87", "#d7af00", "#5fd75f")
RAW_COLOUR = "#3f6f8f"
SMOOTH_COLOUR = "#00d7ff"
VAL_COLOUR = "#ff5fff"
LR_COLOUR = "#af87ff"
AXIS_COLOUR = "#767676"
TICK_COLOUR = "#b2b2b2"
VAL_MARKER = "●"
# One per overlaid series, distinct from the floors' yellows and greens.
SERIES_COLOURS = ("#00d7ff", "#ff5fff", "#ff5f5f", "#5f87ff", "#e4e4e4", "#00d7af", "#d787ff",
                  "#87afaf")
LEGEND_MARK = "━━"

# Style table indexed by the uint8 style plane; 0 means "unstyled".
_S_NONE, _S_AXIS, _S_TICK, _S_LR, _S_RAW, _S_SMOOTH, _S_VAL = range(7)
_S_FLOOR0 = 7
_S_SERIES0 = _S_FLOOR0 + len(FLOOR_COLOURS)
_STYLES: list[Style | None] = [
    None,
    Style.parse(AXIS_COLOUR),
    Style.parse(TICK_COLOUR),
    Style.parse(LR_COLOUR),
    Style.parse(RAW_COLOUR),
    Style.parse(f"bold {SMOOTH_COLOUR}"),
    Style.parse(f"bold {VAL_COLOUR}"),
    *(Style.parse(c) for c in FLOOR_COLOURS),
    *(Style.parse(f"bold {c}") for c in SERIES_COLOURS),
]


def series_colour(index: int) -> str:
    """The hex colour of series number `index` (the palette wraps around)."""
    return SERIES_COLOURS[index % len(SERIES_COLOURS)]


def floor_label(name: str, loss: float) -> str:
    """The text drawn next to a floor line, e.g. "t-3 0.519"."""
    return f"{name} {loss:.3f}"


def lr_label(lr: float) -> str:
    """The text drawn at the top of a learning-rate marker, e.g. "lr 0.01"."""
    return f"lr {lr:g}"


def _put(chars: np.ndarray, styles: np.ndarray, row: int, col: int, s: str, style: int) -> None:
    """Write `s` at (row, col), clipped to the grid."""
    h, w = chars.shape
    if not 0 <= row < h or not s:
        return
    a, b = max(col, 0), min(col + len(s), w)
    if a >= b:
        return
    chars[row, a:b] = list(s[a - col : b - col])
    styles[row, a:b] = style


@dataclass(frozen=True)
class Grid:
    """The chart as a character grid: `chars` (height, width) and `styles`, indexes into
    the style table (0: unstyled); `layout` is None below 1x1."""

    chars: np.ndarray
    styles: np.ndarray
    layout: Layout | None


def render_chart(
    width: int,
    height: int,
    steps: np.ndarray,
    losses: np.ndarray,
    val: Sequence[tuple[int, float]],
    floors: Sequence[tuple[str, float]],
    lr_marks: Sequence[tuple[int, float]],
    series: Sequence[Series] = (),
    x_end: float = 0.0,
) -> list[Text]:
    """Render the chart as exactly `height` Texts of exactly `width` cells each.

    `steps`/`losses` are parallel arrays of the per-step training loss, steps ascending
    (NaN/inf losses are dropped). `val` holds (step, loss) per epoch, `floors` (name, loss)
    reference lines, `lr_marks` (step, new learning rate), `series` extra curves drawn under
    the main data. Sizes below 14x5 drop the axes. `x_end`: see compute_layout.
    """
    grid = render_grid(width, height, steps, losses, val, floors, lr_marks, series, x_end)
    return grid_texts(grid)


def render_grid(
    width: int,
    height: int,
    steps: np.ndarray,
    losses: np.ndarray,
    val: Sequence[tuple[int, float]],
    floors: Sequence[tuple[str, float]],
    lr_marks: Sequence[tuple[int, float]],
    series: Sequence[Series] = (),
    x_end: float = 0.0,
) -> Grid:
    """The chart of `render_chart` as a Grid, which a widget can compare with the last one
    to repaint only the cells that changed."""
    if width <= 0 or height <= 0:
        shape = (max(height, 0), max(width, 0))
        return Grid(np.full(shape, " ", dtype="<U1"), np.zeros(shape, dtype=np.uint8), None)
    steps, losses, val = _clean(steps, losses, val)
    series = [Series(x.name, *_clean(x.steps, x.losses, x.val), x.colour) for x in series]
    floors = [(n, f) for n, f in floors if math.isfinite(f)]
    lay, yticks = compute_layout(width, height, steps, losses, val, floors, lr_marks, series,
                                 x_end)
    plot = _Plot(lay)
    # Lowest priority first: lr markers, floors, series, raw, smoothed, validation.
    lr_cols = plot.lr_marks(lr_marks)
    floor_rows = plot.floors(floors)
    markers = plot.curves(series, steps, losses, val)
    chars = np.full((height, width), " ", dtype="<U1")
    styles = np.zeros((height, width), dtype=np.uint8)
    chars[:lay.ph, lay.left:] = GLYPHS[plot.codes]
    styles[:lay.ph, lay.left:] = plot.owner
    for vx, vy, style in markers:
        rr, cc = np.rint(vy).astype(np.int64) // 4, lay.left + vx // 2
        chars[rr, cc] = VAL_MARKER
        styles[rr, cc] = style
    _labels(chars, styles, lay, series, floor_rows, lr_cols)
    if lay.axes:
        _axes(chars, styles, lay, yticks)
    return Grid(chars, _merge_blanks(chars, styles), lay)


class _Plot:
    """The plot area in braille pixels: per cell its dots and the style that drew them,
    each layer over the ones drawn before it."""

    def __init__(self, lay: Layout):
        self.lay = lay
        self.codes = np.zeros((lay.ph, lay.pw), dtype=np.uint8)
        self.owner = np.zeros((lay.ph, lay.pw), dtype=np.uint8)

    def layer(self, c: np.ndarray, style: int) -> None:
        hit = c != 0
        self.codes[hit] = c[hit]
        self.owner[hit] = style

    def lr_marks(self, lr_marks) -> list[tuple[int, str]]:
        """A dotted column at each learning-rate change: (its column, its label)."""
        lay, out = self.lay, []
        for s, lr in lr_marks:
            pc = int(lay.px(np.array([s]))[0])
            c = np.zeros((lay.ph, lay.pw), dtype=np.uint8)
            c[:, pc // 2] = DOT_BITS[0, pc % 2] | DOT_BITS[2, pc % 2]  # every 2nd dot
            self.layer(c, _S_LR)
            out.append((lay.left + pc // 2, lr_label(lr)))
        return out

    def floors(self, floors) -> list[tuple[int, str, int]]:
        """A dashed row at each floor: (its row, its label, its style)."""
        lay, out = self.lay, []
        dashed = (np.arange(lay.pw) % 2 == 0).astype(np.uint8)
        for i, (name, f) in enumerate(floors):
            pr = int(np.rint(lay.py_float(np.array([f]))[0]))
            c = np.zeros((lay.ph, lay.pw), dtype=np.uint8)
            c[pr // 4] = dashed * (DOT_BITS[pr % 4, 0] | DOT_BITS[pr % 4, 1])
            style = _S_FLOOR0 + i % len(FLOOR_COLOURS)
            self.layer(c, style)
            out.append((pr // 4, floor_label(name, f), style))
        return out

    def curves(self, series, steps, losses, val) -> list[tuple]:
        """The extra series, the raw and smoothed losses and the validation line; returns
        the validation points to mark: (pixel columns, pixel rows, style)."""
        lay, markers = self.lay, []
        for x in series:
            style = _S_SERIES0 + x.colour % len(SERIES_COLOURS)
            if x.losses.size:
                self.layer(cells(trace(lay, *bins(lay, x.steps), smooth(x.losses), False)),
                           style)
            if x.val:
                markers.append((lay.px(np.array([v[0] for v in x.val])),
                                lay.py_float(np.array([v[1] for v in x.val])), style))
        if losses.size:
            starts, cols = bins(lay, steps)
            self.layer(cells(trace(lay, starts, cols, losses, True)), _S_RAW)
            self.layer(cells(trace(lay, starts, cols, smooth(losses), False)), _S_SMOOTH)
        if val:
            vs = np.array([s for s, _ in val])
            vv = np.array([v for _, v in val])
            self.layer(cells(trace(lay, *bins(lay, vs), vv, True)), _S_VAL)
            markers.append((lay.px(vs), lay.py_float(vv), _S_VAL))
        return markers


def _labels(chars: np.ndarray, styles: np.ndarray, lay: Layout, series, floor_rows,
            lr_cols) -> None:
    """The legend takes the top right rows; floor labels sit at the right end of their
    line, and a clash moves one to a free neighbour row. Learning-rate labels then take
    the highest row where they hide no other label."""
    ph, pw, left, width = lay.ph, lay.pw, lay.left, chars.shape[1]
    taken: dict[int, list[tuple[int, int]]] = {}

    def free(row: int, a: int, b: int) -> bool:
        return all(b <= x or a >= y for x, y in taken.get(row, []))

    for row, x in enumerate(series[:ph]):
        text = f"{LEGEND_MARK} {x.name}"[:pw]
        a = left + pw - len(text)
        taken.setdefault(row, []).append((a, width))
        _put(chars, styles, row, a, text, _S_SERIES0 + x.colour % len(SERIES_COLOURS))
    for row, text, style in floor_rows:
        text = text[:pw]
        a = left + pw - len(text)
        nearest = sorted(range(ph), key=lambda r, row=row: (abs(r - row), r))
        row = next((r for r in nearest if free(r, a, width)), row)
        taken.setdefault(row, []).append((a, width))
        _put(chars, styles, row, a, text, style)
    for col, text in lr_cols:
        text = text[:pw]
        a = col + 1 if col + 1 + len(text) <= width else col - len(text)
        a = max(a, left)
        row = next((r for r in range(ph) if free(r, a, a + len(text))), 0)
        taken.setdefault(row, []).append((a, a + len(text)))
        _put(chars, styles, row, a, text, _S_LR)


def _merge_blanks(chars: np.ndarray, styles: np.ndarray) -> np.ndarray:
    """Each blank takes the style of the cell before it. It looks the same (the styles
    colour only the foreground), and a dashed floor becomes one style run instead of one
    per dash: each run costs an escape sequence on the wire (~20 bytes)."""
    h, w = chars.shape
    idx = np.where(chars != " ", np.arange(w)[None, :], 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    return np.take_along_axis(styles, idx, axis=1)


def _clean(steps, losses, val) -> tuple[np.ndarray, np.ndarray, list[tuple[int, float]]]:
    """Finite points only, in step order; the same for the validation points."""
    steps, losses = np.asarray(steps), np.asarray(losses)
    ok = np.isfinite(losses)
    if not ok.all():
        steps, losses = steps[ok], losses[ok]
    if steps.size > 1 and np.any(steps[1:] < steps[:-1]):
        order = np.argsort(steps, kind="stable")
        steps, losses = steps[order], losses[order]
    return steps, losses, sorted((s, v) for s, v in val if math.isfinite(v))


def _axes(chars: np.ndarray, styles: np.ndarray, lay: Layout, yticks: list) -> None:
    """Y tick labels and axis at the left, x tick labels (and axis line) at the bottom."""
    ax = lay.left - 1
    chars[: lay.ph, ax] = "│"
    styles[: lay.ph, ax] = _S_AXIS
    taken: set[int] = set()
    for value, label in yticks:
        row = lay.row_of(value)
        if row in taken:
            continue
        taken.add(row)
        chars[row, ax] = "┤"
        _put(chars, styles, row, ax - len(label), label, _S_TICK)
    step = nice_step(lay.x1 - lay.x0, max(1, lay.pw // 10), (1, 2, 5, 10))
    step = max(step, 1.0)
    xs = np.arange(0, math.floor(lay.x1 / step) + 1) * step
    label_row = lay.height - 1
    if lay.axis_line:
        arow = lay.height - 2
        chars[arow, ax] = "└"
        chars[arow, lay.left :] = "─"
        styles[arow, ax:] = _S_AXIS
    end = -1
    for x in xs.tolist():
        col = lay.col_of(x)
        text = fmt_step(x)
        start = min(max(col - len(text) // 2, lay.left - 1), lay.width - len(text))
        if start <= end:  # would touch the previous label
            continue
        _put(chars, styles, label_row, start, text, _S_TICK)
        end = start + len(text)
        if lay.axis_line and col > ax:
            chars[lay.height - 2, col] = "┬"


def grid_texts(grid: Grid, rows: Sequence[int] | None = None) -> list[Text]:
    """One Text per row (or per row of `rows`), with one span per run of equal style."""
    chars, styles = grid.chars, grid.styles
    h, w = chars.shape
    if w == 0:
        return [Text("", end="") for _ in range(h if rows is None else len(rows))]
    texts = np.ascontiguousarray(chars).view(f"<U{w}")[:, 0].tolist()
    change = styles[:, 1:] != styles[:, :-1]
    out = []
    for r in range(h) if rows is None else rows:
        srow = styles[r]
        bounds = [0, *(np.flatnonzero(change[r]) + 1).tolist(), w]
        spans = [
            Span(a, b, _STYLES[srow[a]])  # type: ignore[arg-type]
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
            if srow[a]
        ]
        out.append(Text(texts[r], spans=spans, end="", no_wrap=True, overflow="crop"))
    return out
