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
Axis ranges and ticks are computed in `rnntui.tui.chart_layout`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rich.style import Style
from rich.text import Span, Text

from .layout import Layout, Series, compute_layout, fmt_step, nice_step, y_range

__all__ = ["Grid", "Layout", "Series", "compute_layout", "fmt_step", "grid_texts",
           "render_chart", "render_grid", "y_range"]

# Dot bit of pixel (row, col) inside one braille cell, per the Unicode braille layout.
_DOT_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.uint8)
# An empty cell is a plain space rather than U+2800 so copied text and tests stay clean.
_GLYPHS = np.array([" "] + [chr(0x2800 + i) for i in range(1, 256)], dtype="<U1")

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


def _bins(lay: Layout, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index of first point, pixel column) of every non-empty pixel column.

    `steps` must be ascending; a binary search per column boundary replaces mapping every
    point, so this costs O(columns * log points).
    """
    n2 = 2 * lay.pw
    k = (n2 - 1) / (lay.x1 - lay.x0)
    # Column c >= 1 starts at the first step that `Layout.px` rounds to c.
    edges = lay.x0 + (np.arange(1, n2) - 0.5) / k
    if steps.dtype.kind in "iu":
        edges = np.ceil(edges).astype(steps.dtype)  # same split, and no float copy of steps
    bounds = np.r_[0, np.searchsorted(steps, edges), steps.size]
    cols = np.flatnonzero(np.diff(bounds))
    return bounds[cols], cols


def _trace(
    lay: Layout, starts: np.ndarray, cols: np.ndarray, values: np.ndarray, envelope: bool
) -> np.ndarray:
    """Boolean (4*ph, 2*pw) pixel mask of a line through ascending points binned by `_bins`.

    Per pixel column it draws the min..max envelope (raw line) or the mean (smoothed line),
    reduced before mapping to pixels so only a few hundred values are mapped. Columns are
    joined at the midpoint of neighbours so slopes stay continuous, and empty columns between
    sparse points are linearly interpolated.
    """
    mask = np.zeros((4 * lay.ph, 2 * lay.pw), dtype=bool)
    if cols.size == 0:
        return mask
    ends = np.r_[starts[1:], values.size] - 1
    if envelope:
        # Pixel rows grow downwards, so the largest value gives the topmost pixel.
        lo = lay.py_float(np.maximum.reduceat(values, starts))
        hi = lay.py_float(np.minimum.reduceat(values, starts))
        first, last = lay.py_float(values[starts]), lay.py_float(values[ends])
    else:
        mean = np.add.reduceat(values, starts, dtype=np.float64) / (ends - starts + 1)
        lo = hi = first = last = lay.py_float(mean)
    allc = np.arange(cols[0], cols[-1] + 1)
    if allc.size != cols.size:
        lo, hi = np.interp(allc, cols, lo), np.interp(allc, cols, hi)
        first, last = np.interp(allc, cols, first), np.interp(allc, cols, last)
    mid = (last[:-1] + first[1:]) / 2  # boundary between column c and c+1
    top, bot = lo.copy(), hi.copy()
    top[1:], bot[1:] = np.minimum(top[1:], mid), np.maximum(bot[1:], mid)
    top[:-1], bot[:-1] = np.minimum(top[:-1], mid), np.maximum(bot[:-1], mid)
    rows = np.arange(mask.shape[0])[:, None]
    mask[:, allc] = (rows >= np.rint(top)[None, :]) & (rows <= np.rint(bot)[None, :])
    return mask


def _cells(mask: np.ndarray) -> np.ndarray:
    """Braille bit codes (ph, pw) of a (4*ph, 2*pw) pixel mask."""
    ph4, pw2 = mask.shape
    blocks = mask.reshape(ph4 // 4, 4, pw2 // 2, 2).astype(np.uint8)
    return (blocks * _DOT_BITS[None, :, None, :]).sum(axis=(1, 3), dtype=np.uint8)


def _smooth(losses: np.ndarray) -> np.ndarray:
    """Centered rolling mean (window 1-2% of the run), windows truncated at both ends."""
    n = losses.size
    # A power of two: the window changes at doublings of the run only, so a live chart's
    # finished columns stay as drawn (and cost nothing to send) between them.
    h = min(1 << (max(n // 100, 1).bit_length() - 1), (n - 1) // 2)
    if h < 1:
        return losses.astype(np.float64)
    w = 2 * h + 1
    c = np.empty(n + 1)
    c[0] = 0.0
    np.cumsum(losses, dtype=np.float64, out=c[1:])
    out = np.empty(n)
    out[h : n - h] = (c[w:] - c[:-w]) / w
    k = np.arange(h + 1, w)  # sizes of the truncated windows at either end
    out[:h] = c[k] / k
    out[n - h :] = ((c[n] - c[n - k]) / k)[::-1]
    return out


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
    ph, pw, left = lay.ph, lay.pw, lay.left
    chars = np.full((height, width), " ", dtype="<U1")
    styles = np.zeros((height, width), dtype=np.uint8)
    codes = np.zeros((ph, pw), dtype=np.uint8)
    owner = np.zeros((ph, pw), dtype=np.uint8)

    def layer(c: np.ndarray, style: int) -> None:
        hit = c != 0
        codes[hit] = c[hit]
        owner[hit] = style

    # Lowest priority first: lr markers, floors, series, raw, smoothed, validation.
    lr_cols = []
    for s, lr in lr_marks:
        pc = int(lay.px(np.array([s]))[0])
        c = np.zeros((ph, pw), dtype=np.uint8)
        c[:, pc // 2] = _DOT_BITS[0, pc % 2] | _DOT_BITS[2, pc % 2]  # dotted: every 2nd dot
        layer(c, _S_LR)
        lr_cols.append((left + pc // 2, lr_label(lr)))
    floor_rows = []
    dashed = (np.arange(pw) % 2 == 0).astype(np.uint8)
    for i, (name, f) in enumerate(floors):
        pr = int(np.rint(lay.py_float(np.array([f]))[0]))
        c = np.zeros((ph, pw), dtype=np.uint8)
        c[pr // 4] = dashed * (_DOT_BITS[pr % 4, 0] | _DOT_BITS[pr % 4, 1])
        style = _S_FLOOR0 + i % len(FLOOR_COLOURS)
        layer(c, style)
        floor_rows.append((pr // 4, floor_label(name, f), style))
    markers = []  # (pixel columns, pixel rows, style) of validation points
    for x in series:
        style = _S_SERIES0 + x.colour % len(SERIES_COLOURS)
        if x.losses.size:
            layer(_cells(_trace(lay, *_bins(lay, x.steps), _smooth(x.losses), False)), style)
        if x.val:
            markers.append((lay.px(np.array([v[0] for v in x.val])),
                            lay.py_float(np.array([v[1] for v in x.val])), style))
    if losses.size:
        starts, cols = _bins(lay, steps)
        layer(_cells(_trace(lay, starts, cols, losses, True)), _S_RAW)
        layer(_cells(_trace(lay, starts, cols, _smooth(losses), False)), _S_SMOOTH)
    if val:
        vs = np.array([s for s, _ in val])
        vv = np.array([v for _, v in val])
        layer(_cells(_trace(lay, *_bins(lay, vs), vv, True)), _S_VAL)
        markers.append((lay.px(vs), lay.py_float(vv), _S_VAL))
    chars[:ph, left:] = _GLYPHS[codes]
    styles[:ph, left:] = owner
    for vx, vy, style in markers:
        rr, cc = np.rint(vy).astype(np.int64) // 4, left + vx // 2
        chars[rr, cc] = VAL_MARKER
        styles[rr, cc] = style

    # The legend takes the top right rows; floor labels sit at the right end of their line,
    # and a clash moves one to a free neighbour row. Learning-rate labels then take the
    # highest row where they hide no other label.
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

    if lay.axes:
        _axes(chars, styles, lay, yticks)
    return Grid(chars, _merge_blanks(chars, styles), lay)


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
