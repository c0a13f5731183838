"""The braille pixels of the chart: a series binned per pixel column and traced as dots
(numpy only, no loop over points), and the cells they make."""

from __future__ import annotations

import numpy as np

from .layout import Layout

# Dot bit of pixel (row, col) inside one braille cell, per the Unicode braille layout.
DOT_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.uint8)
# An empty cell is a plain space rather than U+2800 so copied text and tests stay clean.
GLYPHS = np.array([" "] + [chr(0x2800 + i) for i in range(1, 256)], dtype="<U1")


def bins(lay: Layout, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def trace(
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


def cells(mask: np.ndarray) -> np.ndarray:
    """Braille bit codes (ph, pw) of a (4*ph, 2*pw) pixel mask."""
    ph4, pw2 = mask.shape
    blocks = mask.reshape(ph4 // 4, 4, pw2 // 2, 2).astype(np.uint8)
    return (blocks * DOT_BITS[None, :, None, :]).sum(axis=(1, 3), dtype=np.uint8)


def smooth(losses: np.ndarray) -> np.ndarray:
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
