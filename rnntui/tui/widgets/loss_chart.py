"""Live training-loss chart: raw and smoothed loss, validation points, floors and lr changes,
and any number of named series in their own colours (the runs of an overlay, a race).

Why this widget instead of a peer: a numpy braille rasteriser (`rnntui.tui.chart`) renders
an update several times faster than plotext, the library textual-plotext wraps
(bench/chart_speed.py; the figures are in bench/README.md), and it draws the smoothed line
too. textual-plot has no horizontal lines (its issue #15), which the floors need; Textual's
Sparkline cannot draw a line.

Steps are bucketed per pixel column, so the cost depends on the chart's size, not on how
many steps it holds. The app thread only appends to numpy buffers and sets a flag; a timer
(REPAINT_S) repaints when the flag is set, so bursts of updates cost one render.

What goes to the terminal (measured with `python bench/terminal.py`, 120x40 over tmux):
the timer compares the new picture with the one on screen and repaints only the cells that
changed, through TILES side-by-side tiles (Textual sends a changed line from the left edge
of its widget). The x axis reaches ahead to where the run will end (`axis_end`) and the y
axis snaps to a grid (chart.layout), so new steps change only the columns they land in.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from rich.console import Console, Group
from rich.text import Text
from textual.app import ComposeResult
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from ..chart.render import Grid, Series, floor_label, grid_texts, render_grid, series_colour

# 5 repaints a second: the chart is the largest region on screen and each repaint goes
# through Textual's per-line styling; at 10 a second the UI thread took too much of a core
# from a 2-core trainer (bench/app_speed.py).
REPAINT_S = 0.2
TILES = 10  # side by side, they show the picture (see _Tile)
AXIS_HALVINGS = 6  # the x axis end steps through span/64 .. span/2, span


def axis_end(last: int, span: int) -> float:
    """Where the x axis ends for a run planned to `span` steps that reached `last`: the
    smallest of span, span/2, .. span/2^AXIS_HALVINGS at or past `last`. The curve fills at
    least half the width, and the axis moves (the whole chart redraws) only a few times a
    run. 0 (no reach ahead) while the span is unknown."""
    if span <= 0:
        return 0.0
    end = float(span)
    for _ in range(AXIS_HALVINGS):
        if end / 2 < max(last, 1):
            break
        end /= 2
    return end


class _Growable:
    """Append-only numpy buffer with amortised doubling (a list of floats costs 4x the RAM)."""

    def __init__(self, dtype: type, capacity: int = 1024) -> None:
        self._data = np.empty(capacity, dtype=dtype)
        self.size = 0

    def extend(self, values: np.ndarray) -> None:
        """Append `values` (converted to the buffer's dtype)."""
        need = self.size + len(values)
        if need > self._data.size:
            grown = np.empty(max(need, 2 * self._data.size), dtype=self._data.dtype)
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size : need] = values
        self.size = need

    def view(self) -> np.ndarray:
        """The filled part; a view, so callers must not keep it across `extend`."""
        return self._data[: self.size]

    def clear(self) -> None:
        """Forget the contents but keep the memory for the next run."""
        self.size = 0


class _Curve:
    """One named series' points, in growable buffers like the main curve's."""

    def __init__(self, colour: int) -> None:
        self.colour = colour
        self.steps = _Growable(np.int64)
        self.losses = _Growable(np.float32)
        self.val: list[tuple[int, float]] = []


class LossChart(Widget):
    """Braille chart of per-step training loss against reference floors.

    All setters are cheap (store and mark dirty) and must be called from the UI thread; the
    chart repaints itself at most every REPAINT_S seconds.
    """

    DEFAULT_CSS = "LossChart { height: 1fr; min-height: 6; layout: horizontal; }"

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._steps = _Growable(np.int64)
        self._losses = _Growable(np.float32)
        self._val: list[tuple[int, float]] = []
        self._floors: list[tuple[str, float]] = []
        self._lr: list[tuple[int, float]] = []
        self._series: dict[str, _Curve] = {}
        self._dirty = False
        self._span = 0  # the run's planned steps, when known (set_span)
        self._grid: Grid | None = None  # the picture on screen, to compare the next with
        self._strips: list[Strip] | None = None
        self._strips_size = Size(0, 0)
        self.repainted: list[Region] | None = []
        """The cells the last timed repaint sent (None: all of them)."""

    def on_mount(self) -> None:
        self.set_interval(REPAINT_S, self._repaint_if_dirty)

    # --- data API ----------------------------------------------------------------------------

    def set_floors(self, floors: list[tuple[str, float]]) -> None:
        """Replace the horizontal reference lines: (name, loss) each, e.g. ("t-3", 0.519)."""
        self._floors = [(str(n), float(f)) for n, f in floors]
        self._touch()

    def add_losses(self, first_step: int, losses: Sequence[float]) -> None:
        """Append training losses; losses[i] belongs to step first_step + i (1-based batches).

        NaN/inf values are kept (they count in `num_points`) but never drawn.
        """
        n = np.asarray(losses).size
        self.add_points(np.arange(first_step, first_step + n, dtype=np.int64), losses)

    def add_points(self, steps: Sequence[int], losses: Sequence[float]) -> None:
        """Append training losses at the given steps (ascending, after those held): a curve
        read back from a run's metrics, which may have gaps."""
        values = np.asarray(losses, dtype=np.float32).ravel()
        if values.size == 0:
            return
        self._steps.extend(np.asarray(steps, dtype=np.int64).ravel())
        self._losses.extend(values)
        self._touch()

    def add_val(self, step: int, loss: float) -> None:
        """Add one validation loss, measured after `step` training steps."""
        self._val.append((int(step), float(loss)))
        self._touch()

    def mark_lr(self, step: int, lr: float) -> None:
        """Mark that the learning rate became `lr` at `step` (dotted line + "lr 0.01" label)."""
        self._lr.append((int(step), float(lr)))
        self._touch()

    def clear_data(self) -> None:
        """Drop losses, validation points, lr marks and the span (a new run); floors stay."""
        self._steps.clear()
        self._losses.clear()
        self._val.clear()
        self._lr.clear()
        self._span = 0
        self._touch()

    def set_span(self, steps: int) -> None:
        """The run will train up to `steps`: the x axis reaches ahead (see `axis_end`), so
        new steps change the columns they land in and nothing else."""
        self._span = int(steps)
        self._touch()

    # --- named series ---------------------------------------------------------------------

    def add_series(self, name: str, steps: Sequence[int] = (), losses: Sequence[float] = (),
                   val: Sequence[tuple[int, float]] = ()) -> str:
        """Add a curve drawn as its smoothed line in its own colour, named in the legend (a
        series of that name is replaced and keeps its colour). Returns the colour's hex."""
        old = self._series.get(name)
        curve = _Curve(old.colour if old else len(self._series))
        self._series[name] = curve
        values = np.asarray(losses, dtype=np.float32).ravel()
        curve.steps.extend(np.asarray(steps, dtype=np.int64).ravel()[: values.size])
        curve.losses.extend(values)
        curve.val.extend((int(s), float(v)) for s, v in val)
        self._touch()
        return series_colour(curve.colour)

    def extend_series(self, name: str, first_step: int, losses: Sequence[float]) -> None:
        """Append losses to a series (made if new); losses[i] belongs to step first_step + i."""
        curve = self._series.get(name)
        if curve is None:
            self.add_series(name)
            curve = self._series[name]
        values = np.asarray(losses, dtype=np.float32).ravel()
        curve.steps.extend(np.arange(first_step, first_step + values.size, dtype=np.int64))
        curve.losses.extend(values)
        self._touch()

    def add_series_val(self, name: str, step: int, loss: float) -> None:
        """Add one validation point to a series (made if new)."""
        if name not in self._series:
            self.add_series(name)
        self._series[name].val.append((int(step), float(loss)))
        self._touch()

    def clear_series(self) -> None:
        """Drop every named series; the next one added takes the first colour again."""
        self._series.clear()
        self._touch()

    @property
    def series_names(self) -> list[str]:
        """The series' names, in the order they were added (the legend's order)."""
        return list(self._series)

    def series_colour(self, name: str) -> str:
        """The hex colour a series is drawn in."""
        return series_colour(self._series[name].colour)

    def series_points(self, name: str) -> int:
        """How many training losses a series holds."""
        return self._series[name].losses.size

    @property
    def num_points(self) -> int:
        """How many training losses the chart holds."""
        return self._losses.size

    @property
    def num_val(self) -> int:
        """How many validation points the chart holds."""
        return len(self._val)

    def floor_labels(self) -> list[str]:
        """The floor label texts, in `set_floors` order, e.g. ["nothing 0.662", "t-3 0.519"]."""
        return [floor_label(n, f) for n, f in self._floors]

    # --- rendering ---------------------------------------------------------------------------

    def render_rows(self, width: int, height: int) -> list[Text]:
        """The chart as `height` rich Texts of `width` cells, from the current data."""
        return grid_texts(self._draw(width, height))

    def _draw(self, width: int, height: int) -> Grid:
        last = int(self._steps.view()[-1]) if self._steps.size else 0
        return render_grid(
            width,
            height,
            self._steps.view(),
            self._losses.view(),
            self._val,
            self._floors,
            self._lr,
            [Series(name, c.steps.view(), c.losses.view(), c.val, c.colour)
             for name, c in self._series.items()],
            x_end=axis_end(last, self._span),
        )

    def export_svg(self, title: str) -> str:
        """The chart as drawn now, as an SVG document at the widget's size (100x30 before
        layout): only the chart, not the screen around it."""
        width, height = self.size
        width, height = width or 100, height or 30
        console = Console(record=True, width=width, file=io.StringIO(), force_terminal=True,
                          color_system="truecolor")
        for row in self.render_rows(width, height):
            console.print(row)
        return console.export_svg(title=title)

    def render(self) -> Group:
        """A rich renderable of the chart at the widget's size (80x24 before layout).

        Textual paints through `render_line`; this is for exports and tests.
        """
        width, height = self.size
        return Group(*self.render_rows(width or 80, height or 24))

    def render_line(self, y: int) -> Strip:
        # Rows are rendered once per size (or style) and reused for every line request; new
        # data shows when the timer repaints the cells it changed (_repaint_if_dirty).
        if self._strips is None or self._grid is None or self._strips_size != self.size:
            self._grid = self._draw(*self.size)
            self._strips = [self._strip(text) for text in grid_texts(self._grid)]
            self._strips_size = self.size
        if 0 <= y < len(self._strips):
            return self._strips[y]
        return Strip.blank(self.size.width, self.rich_style)

    def _strip(self, text: Text) -> Strip:
        return Strip(text.render(self.app.console), self.size.width).apply_style(self.rich_style)


    def notify_style_update(self) -> None:
        # A theme or CSS change alters the background baked into the cached strips.
        super().notify_style_update()
        self._strips = None

    def _touch(self) -> None:
        self._dirty = True

    def repaint_now(self) -> None:
        """What changed, painted now rather than at the timer's next turn (a run's first
        loss: F5 to the first loss on screen, bench/first_loss.py)."""
        self._repaint_if_dirty()

    def _repaint_if_dirty(self) -> None:
        """On the timer: repaint only the cells that changed since the last picture (a
        growing curve changes a few columns; a whole repaint of 120x40 is ~10 KB)."""
        if not self._dirty:
            return
        self._dirty = False
        if self._strips is None or self._grid is None or self._strips_size != self.size:
            self.repainted = None
            self.refresh()  # render_line draws it all
            return
        old = self._grid
        self._grid = new = self._draw(*self.size)
        if old.chars.shape != new.chars.shape:
            self._strips, self.repainted = None, None
            self.refresh()
            return
        changed = (old.chars != new.chars) | (old.styles != new.styles)
        rows = np.flatnonzero(changed.any(axis=1)).tolist()
        regions = []
        for r, text in zip(rows, grid_texts(new, rows), strict=True):
            cols = np.flatnonzero(changed[r])
            a, b = int(cols[0]), int(cols[-1]) + 1
            regions.append(Region(a, r, b - a, 1))
            self._strips[r] = self._strip(text)
        self.repainted = regions
        for tile in self.query_children(_Tile):
            x0 = tile.region.x - self.content_region.x
            mine = [Region(max(a, x0) - x0, y, min(a + w, x0 + tile.size.width) - max(a, x0), 1)
                    for a, y, w, _ in regions if a < x0 + tile.size.width and a + w > x0]
            if mine:  # refresh() with no region would repaint the whole tile
                tile.refresh(*mine)

    def refresh(self, *regions: Region, **kwargs) -> LossChart:
        # The tiles show the picture; a repaint of the chart is a repaint of them.
        if not regions and self.is_mounted:
            for tile in self.query_children(_Tile):
                tile.refresh()
        return super().refresh(*regions, **kwargs)

    def compose(self) -> ComposeResult:
        for _ in range(TILES):
            yield _Tile()


class _Tile(Widget):
    """One vertical slice of the chart's picture. Textual sends a changed line from the left
    edge of the widget that holds it up to the change: in one piece, the chart resent every
    row from its left edge for each new column at the curve's head (~4 KB a repaint at
    120x40); in TILES slices, from the left edge of the slice that changed."""

    DEFAULT_CSS = "_Tile { width: 1fr; height: 1fr; }"

    def render_line(self, y: int) -> Strip:
        chart = self.parent
        assert isinstance(chart, LossChart)
        x0 = self.region.x - chart.content_region.x
        return chart.render_line(y).crop(x0, x0 + self.size.width)
