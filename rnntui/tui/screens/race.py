"""The race (F4): a grid over the form's config, trained one config after another.

Every config's curve is drawn live on one chart in its own colour, and a leaderboard ranks
them: the steps each took to reach each floor (runs.sweep's measure) and the final
validation loss. A grid of two fields also gets its phase map beside the chart, a cell
filled in as each config ends. Each config becomes a run folder, as in `rnntui sweep`. The screen is
installed once, so a race goes on (and stays on show) while the user is elsewhere.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Input, Label, Static

from ...config import Config, ConfigError, format_value, validate
from ...core.control import Control
from ...core.events import Diverged, EpochEnd, Failed, Finished, Progress, Started
from ...runs.phasemap import lag_names
from ...runs.sweep import grid_configs, parse_grid, parse_seeds
from ..bridge import Bridge, Tick, TrainerEvent
from ..chart.render import SERIES_COLOURS, series_colour
from ..compare import fmt_loss, shared_task
from ..jobs import Jobs, LapDone, RaceOver
from ..runstate import floors_of
from ..widgets.footer import QuietFooter
from ..widgets.loss_chart import LossChart
from ..widgets.phase_map import PhaseMapView

DEFAULT_GRID = "num_steps=2,5,10"
MAX_CONFIGS = len(SERIES_COLOURS)  # one colour each


def grid_items(text: str) -> list[str]:
    """'num_steps = 2, 5  cell=basic,gru' -> ['num_steps=2,5', 'cell=basic,gru']."""
    squeezed = re.sub(r"\s*([=,])\s*", r"\1", text.strip())
    return [item for item in re.split(r"[\s;]+", squeezed) if item]


def parse_race(text: str, base: Config) -> tuple[list[tuple[str, list]],
                                                 list[tuple[dict, Config]], int]:
    """The grid the user typed, its configs and the seeds per grid point (`seeds=N`);
    ConfigError naming what is wrong."""
    items = grid_items(text)
    seeds = [item.split("=", 1)[1] for item in items if item.startswith("seeds=")]
    items = [item for item in items if not item.startswith("seeds=")]
    if not items:
        raise ConfigError("grid", "type FIELD=V1,V2,... (e.g. num_steps=2,5,10 seeds=3)")
    grid = parse_grid(items)
    for name, values in grid:
        if len(set(values)) < len(values):  # two curves of one name could not be told apart
            raise ConfigError("grid", f"{name} lists a value twice")
    n = parse_seeds(seeds[-1]) if seeds else 1
    # The engine reads a data file, not the UI: the fields only, here.
    configs = grid_configs(base, grid, validate, seeds=n)
    if len(configs) > MAX_CONFIGS:
        raise ConfigError("grid", f"{len(configs)} configs; a race takes 1 to {MAX_CONFIGS}")
    return grid, configs, n


def label(values: dict) -> str:
    """A config's name in the legend and the leaderboard, e.g. "num_steps=5 cell=gru"."""
    return " ".join(f"{k}={format_value(k, v)}" for k, v in values.items())


class RaceScreen(Screen[None]):
    """Type a grid, press enter: the race runs in the engine's thread; F8 stops it."""

    BINDINGS = [Binding("escape", "close", "Back")]

    _ids = itertools.count(1)  # bridge run ids, unique across races

    def __init__(self, runs_dir: Path, base: Callable[[], Config | None],
                 busy: Callable[[], bool], jobs: Jobs):
        """`base()`: the form's config (None while invalid); `busy()`: a training runs;
        `jobs`: the app's door to the engine, which runs the race."""
        super().__init__()
        self.runs_dir, self.base, self.busy, self.jobs = runs_dir, base, busy, jobs
        self.control: Control | None = None
        self.items: list[tuple[dict, Config]] = []
        self.bridges: list[Bridge] = []
        self._index: dict[int, int] = {}  # bridge run id -> config index
        self.results: dict[int, object] = {}  # index -> SweepResult, or a one-line message
        self.ended: dict[int, str] = {}  # index -> stopped / diverged / failed, from events
        self._started: dict[int, Started] = {}
        self._latest: tuple[int, Progress] | None = None
        self._note = ""

    def compose(self) -> ComposeResult:
        yield Static("[b]Race[/]: the form's config over a grid, one config after another; "
                     "enter starts, F8 stops, escape goes back", id="race-title")
        with Horizontal(id="race-grid-row"):
            yield Label("grid", id="race-grid-label")
            yield Input(DEFAULT_GRID, id="race-grid",
                        placeholder="FIELD=V1,V2,... e.g. num_steps=2,5,10 cell=basic,gru"
                                    " seeds=2")
        yield Static("", id="race-error", markup=False)
        yield Static("no race yet", id="race-status")
        with Horizontal(id="race-view"):
            yield LossChart(id="race-chart")
            yield PhaseMapView(id="race-map")
        yield DataTable(id="race-board", cursor_type="none", zebra_stripes=True)
        yield QuietFooter(compact=True)

    def on_mount(self) -> None:
        self.chart = self.query_one("#race-chart", LossChart)
        self.board = self.query_one("#race-board", DataTable)
        self.phase_map = self.query_one("#race-map", PhaseMapView)
        self.phase_map.display = False  # until a race over two fields starts
        self.set_interval(0.25, self._paint_status)

    @property
    def racing(self) -> bool:
        """A race was started and its worker has not returned yet."""
        return self.control is not None and not self.control.done.is_set()

    # ---- starting and steering --------------------------------------------------------
    @on(Input.Submitted, "#race-grid")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.start(event.value)

    def start(self, text: str) -> None:
        """Parse the grid against the form's config and run it; problems show inline."""
        error = self.query_one("#race-error", Static)
        base = self.base()
        if self.racing:
            problem = "a race is running: F8 stops it"
        elif self.busy():
            problem = "a training is running: stop it (F8) before a race"
        elif base is None:
            problem = "the form has errors (escape shows them): fix them before a race"
        else:
            try:
                (grid, items, seeds), problem = parse_race(text, base), ""
            except ConfigError as err:
                problem = str(err)
        error.update(problem)
        if problem:
            return
        self.items, self.results, self.ended, self._started = items, {}, {}, {}
        self._latest = None
        self.bridges = [Bridge(self, next(self._ids)) for _ in items]
        self._index = {b.run_id: i for i, b in enumerate(self.bridges)}
        self.chart.clear_series()
        configs = [c for _, c in items]
        self.phase_map.show(grid, lag_names(base.data.rules), seeds)
        if shared_task(configs):
            self.chart.set_floors(list(floors_of(configs[0])))
            self._note = ""
        else:
            self.chart.set_floors([])
            self._note = "  (bases differ, floors not shared)"
        for values, _ in items:
            self.chart.add_series(label(values))
        self.control = Control()
        self._fill_board()
        self.jobs.race(items, self.runs_dir, self.control, self.bridges, self.post_message)


    def stop(self) -> None:
        """F8: the config running stops within a chunk (checkpointed); no other starts."""
        if self.control is not None:
            self.control.stop()

    def toggle_pause(self) -> None:
        """F6: pause or resume the config running."""
        if self.control is not None:
            (self.control.resume if self.control.paused else self.control.pause)()

    def action_close(self) -> None:
        if self.racing:
            self.notify("the race goes on: F4 shows it, F8 stops it", timeout=3)
        self.app.pop_screen()

    # ---- events from the race -----------------------------------------------------------
    def on_tick(self, message: Tick) -> None:
        message.stop()  # not the app's: its run ids are another count
        if message.run_id in self._index:
            self._drain(self._index[message.run_id])

    def on_trainer_event(self, message: TrainerEvent) -> None:
        message.stop()
        i = self._index.get(message.run_id)
        if i is None:
            return
        self._drain(i)
        e = message.event
        if isinstance(e, Started):
            self._started[i] = e
            self._fill_board()
            self.phase_map.running(i)
        elif isinstance(e, EpochEnd):
            self.chart.add_series_val(label(self.items[i][0]), e.step, e.val_loss)
        elif isinstance(e, Diverged):
            self.ended[i] = f"diverged at step {e.step}"
        elif isinstance(e, Failed):
            self.ended[i] = e.message
        elif isinstance(e, Finished) and e.stopped:
            self.ended[i] = "stopped"

    def _drain(self, i: int) -> None:
        d = self.bridges[i].drain()
        if d.losses:
            self.chart.extend_series(label(self.items[i][0]), d.first_step, d.losses)
        if d.latest is not None:
            self._latest = (i, d.latest)

    def on_lap_done(self, message: LapDone) -> None:
        message.stop()
        self.results[message.index] = message.result or message.message
        self._fill_board()
        self.phase_map.result(message.index, self.results[message.index])

    def on_race_over(self, message: RaceOver) -> None:
        message.stop()
        self._fill_board()
        self._paint_status()

    # ---- painting ---------------------------------------------------------------------------
    def _paint_status(self) -> None:
        n = len(self.items)
        if not n:
            return
        if self.racing and self._latest is not None:
            i, p = self._latest
            total = self._started[i].total_steps if i in self._started else 0
            text = (f"racing config {i + 1}/{n} [b]{label(self.items[i][0])}[/]: step "
                    f"{p.step:,}/{total:,}, {p.steps_per_sec:,.0f} steps/s")
            if self.control is not None and self.control.paused:
                text += "  [yellow]paused (F6)[/]"
        elif self.racing:
            text = f"racing: compiling config {len(self.results) + 1}/{n}"
        else:
            stopped = self.control is not None and self.control.stopped
            text = f"race {'stopped' if stopped else 'over'}: {len(self.results)}/{n} configs ran"
        self.query_one("#race-status", Static).update(text + self._note)

    def _status_of(self, i: int) -> str:
        result = self.results.get(i)
        if isinstance(result, str):
            return result
        if result is not None:
            return self.ended.get(i, result.status)
        if self.racing:
            return "running" if i == len(self.results) else "waiting"
        return "not run"

    def _fill_board(self) -> None:
        """The leaderboard: finished configs by final validation loss, then the others."""
        floors = [name for name, _ in floors_of(self.items[0][1])[1:]] if self.items else []
        self.board.clear(columns=True)
        self.board.add_columns("", "config", *(f"steps to {f}" for f in floors), "val loss",
                               "wall", "status")

        def rank(i: int) -> tuple:
            r = self.results.get(i)
            val = getattr(r, "val_loss", math.nan)
            return (0, val, i) if math.isfinite(val) else (1, 0.0, i)

        for i in sorted(range(len(self.items)), key=rank):
            r = self.results.get(i)
            reached = getattr(r, "steps_to_floor", {})
            self.board.add_row(
                Text("━━", style=f"bold {series_colour(i)}"), label(self.items[i][0]),
                *(f"{reached[f]:,}" if reached.get(f) else "-" for f in floors),
                fmt_loss(getattr(r, "val_loss", math.nan)),
                f"{r.wall_s:.1f}s" if hasattr(r, "wall_s") else "-", self._status_of(i),
                key=str(i))
