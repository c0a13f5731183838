"""The phase map: a 2-D sweep drawn as one grid per rule lag, each cell its learned fraction.

The first grid field runs down the rows, the second across the columns, as in the
article's table. Each cell is the lag's learned fraction (SweepResult.fractions: its
measured effect over what the config can reach), written as a percentage and coloured on
one scale, so a map reads without colour too. With several seeds a cell (the configs of
one grid point, `seeds` of them in a row) is their median, with their spread (min-max).
Rich text for the terminal and the app, plain SVG for a file; no Textual, no TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from xml.sax.saxutils import escape

import numpy as np
from rich.text import Text

from ..config import format_value
from ..core.verdict import LEARNED

# A perceptually even dark-to-bright scale (viridis's stops), so 0% and 100% differ in
# lightness as well as hue and the map survives a grey-scale print.
STOPS = ((0x44, 0x01, 0x54), (0x3b, 0x52, 0x8b), (0x21, 0x90, 0x8d), (0x5d, 0xc9, 0x63),
         (0xfd, 0xe7, 0x25))
SHADES = " ░▒▓█"  # the same scale without colour: 0-19%, 20-39%, ... 80-100%
CELL = 6  # characters a cell takes: " 100%" and its shade glyph
NO_RUN = "#6c6c6c"  # grey: a cell that has no fraction

# What a cell without a fraction shows, by how it ended.
MARKS = {"pending": "·", "running": "…", "diverged": "div", "failed": "fail",
         "unmeasured": "-"}


@dataclass(frozen=True)
class Cell:
    """One point of the grid: its (median) fraction for the lag, or the mark of why there
    is none; with several seeds, the spread of theirs."""

    fraction: float | None
    mark: str = "pending"  # a key of MARKS; only read when fraction is None
    low: float | None = None  # the seeds' least and greatest fractions (None: one seed)
    high: float | None = None


@dataclass(frozen=True)
class PhaseMap:
    """One rule lag's map: `cells[i][j]` is row value i of the first field, column j."""

    lag: str
    rows: tuple[str, list]  # the first grid field and its values
    cols: tuple[str, list]
    cells: list[list[Cell]]
    caption: str = ""  # what a cell's training budget is (see runs.sweep.budget_caption)


def lag_names(rules) -> list[str]:
    """The keys of SweepResult.fractions for a rule set, in lag order: ["t-3", "t-8"]."""
    return [f"t-{lag}" for lag, _ in sorted(rules)]


def maps(grid: list[tuple[str, list]], lags: list[str], results: Mapping[int, object],
         running: int | None = None, seeds: int = 1, caption: str = "") -> list[PhaseMap]:
    """One map per lag ("t-3", ...) of a two-field grid; `results` maps a config's index in
    grid_configs order (the first field outermost, then the seeds) to its SweepResult, or
    to a str when it could not run. Indices with no result are pending, or running if
    `running`."""
    (rname, rvals), (cname, cvals) = grid
    out = []
    for lag in lags:
        cells = []
        for i in range(len(rvals)):
            row = []
            for j in range(len(cvals)):
                first = (i * len(cvals) + j) * seeds
                runs = [results.get(first + s) for s in range(seeds)]
                row.append(_cell(runs, lag, running is not None
                                 and first <= running < first + seeds))
            cells.append(row)
        out.append(PhaseMap(lag, (rname, list(rvals)), (cname, list(cvals)), cells, caption))
    return out


def _cell(runs: list, lag: str, running: bool) -> Cell:
    """A grid point from its seeds' results: the median of the fractions there are, and
    their spread; else the mark of the first that has none."""
    fractions, marks = [], []
    for result in runs:
        if result is None:
            marks.append("running" if running else "pending")
        elif isinstance(result, str):
            marks.append("failed")
        elif result.status in ("diverged", "failed") or result.fractions.get(lag) is None:
            marks.append(result.status if result.status in MARKS else "failed")
        elif not math.isfinite(result.fractions[lag]):  # insight off, or beyond reach
            marks.append("unmeasured")
        else:
            fractions.append(float(result.fractions[lag]))
    if not fractions:
        return Cell(None, marks[0] if marks else "pending")
    if len(runs) == 1:
        return Cell(fractions[0])
    return Cell(float(np.median(fractions)), low=min(fractions), high=max(fractions))


def colour(fraction: float) -> str:
    """The scale's hex colour at a fraction in [0, 1]."""
    f = min(1.0, max(0.0, fraction)) * (len(STOPS) - 1)
    k = min(int(f), len(STOPS) - 2)
    t = f - k
    rgb = (round(a + (b - a) * t) for a, b in zip(STOPS[k], STOPS[k + 1], strict=True))
    return "#" + "".join(f"{c:02x}" for c in rgb)


def ink(fraction: float) -> str:
    """Black or white, whichever reads on the scale's colour at `fraction`."""
    return "#000000" if fraction >= 0.55 else "#ffffff"


def shade(fraction: float) -> str:
    return SHADES[min(len(SHADES) - 1, int(max(0.0, fraction) * len(SHADES)))]


def spread(cell: Cell) -> str:
    """'62..97': the seeds' least and greatest fractions, in percent ('' for one seed)."""
    if cell.low is None or cell.high is None:
        return ""
    low, high = (round(100 * v) + 0 for v in (cell.low, cell.high))  # (+ 0: no "-0")
    return f"{low}..{high}"


def _body(cell: Cell) -> str:
    """A cell's words: "97%", or with several seeds "88% 62..97"."""
    return f"{cell.fraction:.0%}" + (f" {spread(cell)}" if spread(cell) else "")


def cell_text(cell: Cell, width: int = CELL) -> str:
    """What a cell reads as, without colour: "  97%▓", "   div", " 88% 62..97▓"."""
    if cell.fraction is None:
        return f"{MARKS[cell.mark]:>{width}}"
    return f"{_body(cell):>{max(1, width - 1)}}{shade(cell.fraction)}"


def render(m: PhaseMap) -> Text:
    """The map as Rich text: a title, the column values, one line per row value."""
    (rname, rvals), (cname, cvals) = m.rows, m.cols
    left = max(len(rname), *(len(format_value(rname, v)) for v in rvals))
    cells = [c for row in m.cells for c in row]
    width = max(CELL, *(len(format_value(cname, v)) + 1 for v in cvals),
                *(len(_body(c)) + 2 for c in cells if c.fraction is not None))
    out = Text()
    out.append(f"{m.lag} learned", style="bold")
    out.append(f" · {cname} across" + (f" · {m.caption}" if m.caption else "") + "\n")
    out.append(f"{rname:>{left}} ")
    for v in cvals:
        out.append(f"{format_value(cname, v):>{width}}", style="bold")
    for i, v in enumerate(rvals):
        out.append("\n")
        out.append(f"{format_value(rname, v):>{left}} ", style="bold")
        for cell in m.cells[i]:
            if cell.fraction is None:
                out.append(cell_text(cell, width), style=NO_RUN)
            else:
                style = f"{ink(cell.fraction)} on {colour(cell.fraction)}"
                if cell.fraction >= LEARNED:
                    style = "bold " + style
                out.append(cell_text(cell, width), style=style)
    return out


def legend(compact: bool = False) -> Text:
    """The scale from 0% to 100% and what the marks mean: two lines, or three short ones."""
    out = Text("0% " if compact else "scale: 0% ")
    for k in range(len(SHADES)):
        f = k / (len(SHADES) - 1)
        out.append(SHADES[k] * 2, style=f"{ink(f)} on {colour(f)}")
    out.append(" 100%" if compact else
               f" 100% of the effect the config can reach ({LEARNED:.0%} counts as learned)")
    marks = [f"{MARKS[k]}: {word}" for k, word in
             (("diverged", "diverged"), ("failed", "failed"), ("pending", "not run"),
              ("running", "running"), ("unmeasured", "not measured"))]
    out.append("\n" + ("  ".join(marks[:2]) + "\n" + "  ".join(marks[2:]) if compact
                       else "  ".join(marks)))
    return out


def render_all(phase_maps: list[PhaseMap], compact: bool = False) -> Text:
    """Every lag's map, one under the other, and the legend once (`compact`: narrower)."""
    out = Text()
    for m in phase_maps:
        out.append_text(render(m))
        out.append("\n\n")
    out.append_text(legend(compact))
    return out


# ---- SVG ---------------------------------------------------------------------------------
PX, PY = 44, 22  # a cell's least size in pixels
CHAR = 8  # pixels a character of the 12 px monospace font takes, rounded up
FONT = 'font-family="monospace" font-size="12"'


def _svg_map(m: PhaseMap, x0: int, y0: int) -> tuple[list[str], int, int]:
    """One map's SVG elements at (x0, y0), and the width and height it took."""
    (rname, rvals), (cname, cvals) = m.rows, m.cols
    left = CHAR * max(len(rname), *(len(format_value(rname, v)) for v in rvals)) + 10
    words = [f"{c.fraction:.0%} {spread(c)}" for row in m.cells for c in row
             if c.fraction is not None]
    px = max(PX, CHAR * max(len(format_value(cname, v)) for v in cvals) + 8,
             *(CHAR * len(w) + 8 for w in words))
    top = y0 + (60 if m.caption else 44)
    els = [f'<text x="{x0}" y="{y0 + 14}" {FONT} font-weight="bold">{escape(m.lag)} '
           f'learned: {escape(rname)} down, {escape(cname)} across</text>',
           f'<text x="{x0}" y="{y0 + 32}" {FONT}>{escape(m.caption)}</text>',
           f'<text x="{x0 + left - 6}" y="{top - 6}" {FONT} text-anchor="end">'
           f'{escape(rname)}</text>']
    for j, v in enumerate(cvals):
        els.append(f'<text x="{x0 + left + j * px + px // 2}" y="{top - 6}" {FONT} '
                   f'text-anchor="middle">{escape(format_value(cname, v))}</text>')
    for i, v in enumerate(rvals):
        y = top + i * PY
        els.append(f'<text x="{x0 + left - 6}" y="{y + 15}" {FONT} text-anchor="end">'
                   f'{escape(format_value(rname, v))}</text>')
        for j, cell in enumerate(m.cells[i]):
            x = x0 + left + j * px
            if cell.fraction is None:
                fill, fg, word = "#d0d0d0", "#404040", MARKS[cell.mark]
            else:
                fill, fg = colour(cell.fraction), ink(cell.fraction)
                word = f"{cell.fraction:.0%}" + (f" {spread(cell)}" if spread(cell) else "")
            els.append(f'<rect x="{x}" y="{y}" width="{px}" height="{PY}" fill="{fill}" '
                       f'stroke="#ffffff"/>')
            els.append(f'<text x="{x + px // 2}" y="{y + 15}" {FONT} text-anchor="middle" '
                       f'fill="{fg}">{escape(word)}</text>')
    width = max(left + len(cvals) * px, CHAR * (len(m.lag) + len(rname) + len(cname) + 24),
                CHAR * len(m.caption))
    return els, width, top - y0 + len(rvals) * PY


def svg(phase_maps: list[PhaseMap]) -> str:
    """Every lag's map side by side, with the scale under them, as a standalone SVG."""
    els, x, height = [], 10, 0
    for m in phase_maps:
        part, w, h = _svg_map(m, x, 10)
        els += part
        x, height = x + w + 30, max(height, h)
    y = 10 + height + 16
    for k in range(11):
        f = k / 10
        els.append(f'<rect x="{40 + k * 16}" y="{y}" width="16" height="12" '
                   f'fill="{colour(f)}"/>')
    els.append(f'<text x="10" y="{y + 11}" {FONT}>0%</text>')
    els.append(f'<text x="{40 + 11 * 16 + 6}" y="{y + 11}" {FONT}>100% of the effect the config '
               f'can reach; &gt;= {LEARNED:.0%} learned</text>')
    width, height = max(x, 560), y + 24
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}">\n'
            f'<rect width="100%" height="100%" fill="#ffffff"/>\n' + "\n".join(els) + "\n</svg>\n")

