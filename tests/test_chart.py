"""The braille loss chart: pure rasteriser tests plus one Textual pilot test of the widget."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
from appsupport import wait_for
from rich.console import Group
from rich.text import Text
from textual.app import App, ComposeResult

from rnntui.tui.chart.render import (
    FLOOR_COLOURS,
    VAL_COLOUR,
    VAL_MARKER,
    compute_layout,
    fmt_step,
    render_chart,
    y_range,
)
from rnntui.tui.widgets.loss_chart import LossChart, axis_end
from rnntui.tui.widgets.status import spark_rows

FLOORS = [("nothing", 0.662), ("t-3", 0.519), ("t-3,t-8", 0.454)]
LABELS = ["nothing 0.662", "t-3 0.519", "t-3,t-8 0.454"]
NO_STEPS = np.zeros(0, dtype=np.int64)
NO_LOSSES = np.zeros(0, dtype=np.float32)


def curve(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A decaying, noisy loss curve over steps 1..n that settles between the floors."""
    steps = np.arange(1, n + 1, dtype=np.int64)
    rng = np.random.default_rng(seed)
    noise = 0.02 * rng.standard_normal(n)
    losses = 0.48 + 0.4 * np.exp(-steps / max(n / 6, 1)) + noise
    return steps, losses.astype(np.float32)


def is_braille(ch: str) -> bool:
    return 0x2801 <= ord(ch) <= 0x28FF


def colour_at(text: Text, col: int) -> str | None:
    """Hex colour of the span covering `col`, if any."""
    for span in text.spans:
        if span.start <= col < span.end and span.style.color is not None:
            return span.style.color.triplet.hex
    return None


def test_floor_is_a_dashed_line_with_its_label_on_the_expected_row() -> None:
    rows = render_chart(80, 24, NO_STEPS, NO_LOSSES, [], FLOORS, [])
    lay, _ = compute_layout(80, 24, NO_STEPS, NO_LOSSES, [], FLOORS, [])
    found = []
    for i, ((_name, value), label) in enumerate(zip(FLOORS, LABELS, strict=True)):
        row = lay.row_of(value)
        plain = rows[row].plain
        assert plain.endswith(label), (row, plain)
        dashes = plain[lay.left : lay.left + 20]
        # Dashed: braille dots on every other cell, blanks between.
        assert all(is_braille(c) for c in dashes[::2]), dashes
        assert dashes[1::2].strip() == "", dashes
        assert colour_at(rows[row], lay.left) == FLOOR_COLOURS[i].lower()
        assert colour_at(rows[row], len(plain) - 1) == FLOOR_COLOURS[i].lower()
        found.append(row)
    # A higher loss sits higher on screen, and each floor has its own row.
    assert found == sorted(found) and len(set(found)) == 3


def test_floor_labels_stay_on_their_rows_with_data() -> None:
    steps, losses = curve(2000)
    rows = render_chart(120, 40, steps, losses, [], FLOORS, [])
    lay, _ = compute_layout(120, 40, steps, losses, [], FLOORS, [])
    for (_name, value), label in zip(FLOORS, LABELS, strict=True):
        assert label in rows[lay.row_of(value)].plain


@pytest.mark.parametrize(
    "size",
    [(1, 1), (2, 2), (3, 1), (1, 7), (5, 3), (13, 4), (14, 5), (16, 9), (40, 12), (80, 24)]
    + [(120, 40), (300, 100)],
)
@pytest.mark.parametrize("n", [0, 1, 3, 2000])
def test_output_is_exactly_width_by_height(size: tuple[int, int], n: int) -> None:
    width, height = size
    steps, losses = curve(n)
    val = [(max(n // 2, 1), 0.5)] if n else []
    lr = [(max(n // 3, 1), 0.01)] if n else []
    rows = render_chart(width, height, steps, losses, val, FLOORS, lr)
    assert len(rows) == height
    for row in rows:
        assert row.cell_len == width
        assert len(row.plain) == width


def test_nan_and_inf_are_ignored() -> None:
    steps, losses = curve(500)
    dirty = losses.copy()
    bad = np.arange(0, 500, 7)
    dirty[bad] = np.nan
    dirty[bad[::3]] = np.inf
    dirty[bad[1::3]] = -np.inf
    keep = np.ones(500, dtype=bool)
    keep[bad] = False
    got = [r.plain for r in render_chart(80, 24, steps, dirty, [], FLOORS, [])]
    want = [r.plain for r in render_chart(80, 24, steps[keep], losses[keep], [], FLOORS, [])]
    assert got == want
    # All-NaN data is the same as no data, and NaN floors / validation losses are skipped.
    all_nan = np.full(50, np.nan, dtype=np.float32)
    nan_rows = render_chart(60, 15, steps[:50], all_nan, [(10, float("nan"))], FLOORS, [])
    empty_rows = render_chart(60, 15, NO_STEPS, NO_LOSSES, [], FLOORS, [])
    assert [r.plain for r in nan_rows[:-2]] == [r.plain for r in empty_rows[:-2]]
    rows = render_chart(60, 15, steps, losses, [], [*FLOORS, ("bad", float("inf"))], [])
    assert not any("bad" in r.plain for r in rows)


def test_200k_points_render_quickly_with_compact_step_labels() -> None:
    steps, losses = curve(200_000)
    render_chart(240, 40, steps, losses, [], FLOORS, [])  # warm-up
    start = time.perf_counter()
    rows = render_chart(240, 40, steps, losses, [(100_000, 0.5)], FLOORS, [(150_000, 0.001)])
    assert time.perf_counter() - start < 0.5
    assert len(rows) == 40 and all(r.cell_len == 240 for r in rows)
    assert "200k" in rows[-1].plain and "100k" in rows[-1].plain
    plot = "".join(r.plain for r in rows[:-2])
    assert sum(map(is_braille, plot)) > 500


def test_few_points_still_draw_a_line() -> None:
    steps = np.array([1, 2, 3])
    losses = np.array([0.7, 0.6, 0.5], dtype=np.float32)
    rows = render_chart(40, 12, steps, losses, [], [], [])
    lay, _ = compute_layout(40, 12, steps, losses, [], [], [])
    plot = [r.plain for r in rows[: lay.ph]]
    # The line is unbroken from step 1 to the right edge, and nothing is drawn before step 1.
    for col in range(lay.col_of(1), 40):
        assert any(is_braille(p[col]) for p in plot), col
    assert not any(is_braille(p[lay.col_of(1) - 1]) for p in plot)
    # With no data at all only the axes are left.
    rows = render_chart(40, 12, NO_STEPS, NO_LOSSES, [], [], [])
    assert not any(is_braille(c) for r in rows for c in r.plain)
    assert "┤" in "".join(r.plain for r in rows)


def test_validation_markers_appear_at_their_points() -> None:
    steps, losses = curve(2000)
    val = [(400, 0.62), (800, 0.55), (1200, 0.52), (1600, 0.5), (2000, 0.49)]
    rows = render_chart(120, 40, steps, losses, val, FLOORS, [])
    lay, _ = compute_layout(120, 40, steps, losses, val, FLOORS, [])
    for step, loss in val:
        row, col = lay.row_of(loss), lay.col_of(step)
        assert rows[row].plain[col] == VAL_MARKER, (step, loss)
        assert colour_at(rows[row], col) == VAL_COLOUR.lower()


def test_lr_marker_draws_a_dotted_line_and_label() -> None:
    steps, losses = curve(2000)
    rows = render_chart(120, 40, steps, losses, [], FLOORS, [(1000, 0.01)])
    lay, _ = compute_layout(120, 40, steps, losses, [], FLOORS, [(1000, 0.01)])
    col = lay.col_of(1000)
    labelled = [i for i, r in enumerate(rows) if "lr 0.01" in r.plain]
    assert labelled and labelled[0] <= 2
    column = [r.plain[col] for r in rows[: lay.ph]]
    assert sum(map(is_braille, column)) >= lay.ph // 2


def test_y_ticks_and_axis() -> None:
    steps, losses = curve(2000)
    rows = render_chart(120, 40, steps, losses, [], FLOORS, [])
    lay, ticks = compute_layout(120, 40, steps, losses, [], FLOORS, [])
    assert 3 <= len(ticks) <= 20 and 5 <= lay.left <= 8
    for value, label in ticks:
        plain = rows[lay.row_of(value)].plain
        assert plain[: lay.left].strip() == label + "┤", plain[: lay.left]
        assert 2 <= len(label.split(".")[1]) <= 3
    assert "0.50" in {label for _, label in ticks}
    assert rows[-2].plain[lay.left - 1] == "└"
    assert rows[-1].plain.split()[0] == "0" and "1k" in rows[-1].plain


def test_step_labels_use_k_and_m() -> None:
    got = [fmt_step(v) for v in (0, 500, 1000, 1500, 200_000, 1_200_000)]
    assert got == ["0", "500", "1k", "1.5k", "200k", "1.2M"]


def test_y_range_clips_huge_early_losses_and_keeps_floors() -> None:
    steps, losses = curve(2000)
    losses[:20] = 1e4
    lo, hi = y_range(losses, [(100, 500.0), (2000, 0.47)], FLOORS)
    assert lo < 0.454 and 0.662 < hi < 1.0
    assert y_range(NO_LOSSES, [], FLOORS)[0] < 0.454 < 0.662 < y_range(NO_LOSSES, [], FLOORS)[1]
    assert y_range(NO_LOSSES, [], []) == (0.0, 1.0)


class ChartApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LossChart(id="chart")


async def test_loss_chart_widget_in_an_app() -> None:
    app = ChartApp()
    async with app.run_test(size=(80, 24)) as pilot:
        chart = app.query_one(LossChart)
        chart.set_floors(FLOORS)
        _, losses = curve(1500)
        chart.add_losses(1, losses[:1000].tolist())
        chart.add_losses(1001, losses[1000:])  # past the buffer's first capacity
        chart.add_val(1000, 0.5)
        chart.mark_lr(800, 0.01)
        await wait_for(pilot, lambda: not chart._dirty, 30)  # a timer picks up the new data
        assert chart.num_points == 1500
        assert chart.floor_labels() == LABELS
        assert chart in app.screen.query(LossChart)
        assert chart.size.width == 80 and chart.size.height == 24
        lines = [chart.render_line(y).text for y in range(24)]
        assert all(len(line) == 80 for line in lines)
        assert any(line.endswith("nothing 0.662") for line in lines)
        assert any("lr 0.01" in line for line in lines)
        assert isinstance(chart.render(), Group)
        # The SVG splits text where the chart's tiles meet: read it as the text it shows.
        shown = "".join(re.findall(r">([^<]*)</text>", app.export_screenshot()))
        assert "nothing" in shown.replace("&#160;", " ")
        chart.clear_data()
        await wait_for(pilot, lambda: not chart._dirty, 30)
        assert chart.num_points == 0 and chart.floor_labels() == LABELS
        lines = [chart.render_line(y).text for y in range(24)]
        assert not any("lr 0.01" in line for line in lines)


def test_axis_end_reaches_ahead_in_halvings_of_the_run() -> None:
    assert axis_end(500, 0) == 0  # no plan: the data sets the end
    assert axis_end(1, 6400) == 100  # 6400 / 2**AXIS_HALVINGS
    assert axis_end(100, 6400) == 100 and axis_end(101, 6400) == 200
    assert axis_end(3300, 6400) == 6400
    assert axis_end(9000, 6400) == 6400  # past the plan (a resumed run): the data decides


def test_y_axis_ends_on_a_grid_and_stays_while_the_data_drifts() -> None:
    steps, losses = curve(2000)
    lay, _ = compute_layout(80, 24, steps, losses, [], FLOORS, [])
    for end in (lay.y0, lay.y1):  # the grid for this range: 0.025
        assert end / 0.025 == pytest.approx(round(end / 0.025))
    for n in (1900, 1950, 1990):  # the percentiles drift, the axis does not
        drift, _ = compute_layout(80, 24, steps[:n], losses[:n], [], FLOORS, [])
        assert (drift.y0, drift.y1) == (lay.y0, lay.y1)
    higher, _ = compute_layout(80, 24, steps, losses + 1.0, [], FLOORS, [])
    assert higher.y1 > np.percentile(losses[500:] + 1.0, 99) > lay.y1


def test_a_dashed_floor_is_one_style_run() -> None:
    rows = render_chart(80, 24, NO_STEPS, NO_LOSSES, [], FLOORS[:1], [])
    lay, _ = compute_layout(80, 24, NO_STEPS, NO_LOSSES, [], FLOORS[:1], [])
    row = rows[lay.row_of(FLOORS[0][1])]
    # the tick label, the axis, then dashes, blanks and label in the floor's colour
    assert len([s for s in row.spans if s.start >= lay.left]) == 1


async def test_chart_repaints_only_the_cells_that_changed() -> None:
    app = ChartApp()
    async with app.run_test(size=(80, 24)) as pilot:
        chart = app.query_one(LossChart)
        chart.set_floors(FLOORS)
        chart.set_span(2000)
        _, losses = curve(2000)
        chart.add_losses(1, losses[:1500])
        await pilot.pause(0.3)
        chart.add_losses(1501, losses[1500:1505])  # may move the y axis once, with room
        chart._repaint_if_dirty()
        chart._touch()  # nothing new: nothing to send
        chart._repaint_if_dirty()
        assert chart.repainted == []
        chart.add_losses(1506, losses[1505:1515])
        chart._repaint_if_dirty()
        lay = chart._grid.layout
        # The smoothed line's last window (8 steps) and the join with the column before.
        assert chart.repainted and min(r.x for r in chart.repainted) >= lay.col_of(1490) - 1


def test_spark_rows() -> None:
    assert spark_rows([], 4, 2) == ["    ", "▁▁▁▁"]
    assert spark_rows([0.0, 1.0], 2, 2) == [" █", "▁█"]
    assert spark_rows([0.0, 0.5, 1.0, 0.5], 4, 1) == ["▁▄█▄"]
