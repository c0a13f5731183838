"""The runs screen (F3): every run folder under the runs directory, listed and compared.

Up and down move; space selects; enter or o overlays the selected runs' curves on one chart,
each in its own colour, next to a table of the config fields that differ; r resumes the
highlighted run from its checkpoint; w watches it (a run another process trains, marked
live, follows as it grows: tui.watching); c copies its config string. A folder that cannot be
read is listed with the reason, never a traceback. The files are read in the engine's
helper (tui.jobs); each answer carries the number of its ask, so a late one never
overwrites a newer one.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static

from ...config import ConfigError, config_string
from ...data import source
from ...runs.folders import Run, RunSummary, list_runs, open_run, read_metrics
from ...runs.live import Live, liveness
from ...runs.resume import resumable
from ..compare import Curve, config_diff, fmt_loss, read_curve, shared_task
from ..jobs import Jobs
from ..widgets.footer import QuietFooter
from ..widgets.loss_chart import LossChart

COLUMNS = (("mark", ""), ("run", "run"), ("cell", "cell"), ("num_steps", "num_steps"),
           ("state_size", "state_size"), ("val", "val loss"), ("learned", "fractions"),
           ("status", "status"))


@dataclass
class RunRow:
    path: Path
    summary: RunSummary | None  # None when the folder cannot be read
    problem: str = ""  # why not, in one line
    live: Live | None = None  # its trainer's live record (runs.live), for a readable run


def scan(runs_dir: Path) -> list[RunRow]:
    """Every folder under runs_dir, newest first: the readable runs, and the others with the
    reason (a corrupt config.toml or metrics file, a folder that is no run)."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    readable = {s.path.name: s for s in list_runs(root)}
    rows = []
    for path in sorted((p for p in root.iterdir() if p.is_dir()), reverse=True):
        if path.name in readable:
            rows.append(RunRow(path, readable[path.name], live=liveness(path)))
            continue
        try:  # list_runs skipped it: find out why
            open_run(path)
            read_metrics(path)
            problem = "cannot be read"
        except ConfigError as err:
            problem = str(err)
        rows.append(RunRow(path, None, problem))
    return rows


class RunsScreen(Screen[Run | Path | None]):
    """Dismisses with a Run to resume, a run folder to watch, or None."""

    BINDINGS = [
        Binding("space", "toggle", "Select"),
        Binding("o", "overlay", "Overlay"),
        Binding("r", "resume", "Resume"),
        Binding("w", "watch", "Watch"),
        Binding("c", "copy", "Copy config string", show=False),
        Binding("escape", "close", "Back", show=False),
    ]

    class Listed(Message):
        def __init__(self, ask: int, rows: list[RunRow]):
            super().__init__()
            self.ask, self.rows = ask, rows

    class Loaded(Message):
        def __init__(self, ask: int, curves: list[tuple[RunRow, Curve]], problems: list[str],
                     floors: tuple):
            super().__init__()
            self.ask, self.curves, self.problems, self.floors = ask, curves, problems, floors

    def __init__(self, runs_dir: Path, current: Path | None, busy: Callable[[], bool],
                 jobs: Jobs):
        """`current`: the app's run folder; `busy()`: whether a training or race runs;
        `jobs`: the app's door to the engine's helper, which reads the files."""
        super().__init__()
        self.runs_dir, self.current, self.busy, self.jobs = Path(runs_dir), current, busy, jobs
        self._asks = itertools.count(1)
        self._scanned = self._loaded = 0  # the latest ask of each kind
        self.rows: dict[str, RunRow] = {}
        self.selected: list[str] = []  # row keys, in the order they were selected
        self.overlaid: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static(f"Runs in {self.runs_dir}: reading…", id="runs-title", markup=False)
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="runs-detail")
        yield Static("", id="runs-message")
        with Horizontal(id="runs-compare"):
            yield LossChart(id="runs-chart")
            with Vertical(id="runs-side"):
                yield Static("space selects runs, enter overlays them", id="runs-note")
                yield DataTable(id="runs-diff", cursor_type="none", show_cursor=False)
        yield QuietFooter(compact=True)

    def on_mount(self) -> None:
        self.table = self.query_one("#runs-table", DataTable)
        self.chart = self.query_one("#runs-chart", LossChart)
        for key, title in COLUMNS:
            self.table.add_column(title, key=key)
        self.table.focus()
        self._scan()

    def _scan(self) -> None:
        self._scanned = ask = next(self._asks)
        self.jobs.background(lambda: self.post_message(self.Listed(ask, scan(self.runs_dir))))

    def on_runs_screen_listed(self, message: Listed) -> None:
        if message.ask != self._scanned:
            return
        self.rows = {str(r.path): r for r in message.rows}
        bad = sum(r.summary is None for r in message.rows)
        self.query_one("#runs-title", Static).update(Text.assemble(
            ("Runs", "bold"), f" in {self.runs_dir}: {len(self.rows) - bad} runs",
            f", {bad} unreadable" if bad else "",
            ("   space select · enter overlay · r resume · w watch · c copy config string",
              "dim")))
        for key, row in self.rows.items():
            self.table.add_row(*self._cells(row), key=key)
        if not self.rows:
            self._say(f"no runs in {self.runs_dir} yet: train one (F5) or race (F4)")
        live = [k for k, r in self.rows.items() if r.live is not None and r.live.live
                and not (r.path == self.current and self.busy())]
        if live:  # the newest live run under the cursor: w watches it
            self.table.move_cursor(row=self.table.get_row_index(live[0]))
            self._say(f"{len(live)} live: w watches the highlighted one")

    def _cells(self, row: RunRow) -> list:
        mark = self._mark(str(row.path))
        s = row.summary
        if s is None:
            return [mark, Text(row.path.name, style="dim"), "-", "-", "-", "-", "-",
                    Text("unreadable", style="red")]
        status: str | Text = s.status
        if row.path == self.current and self.busy():
            status = "training"
        elif row.live is not None and row.live.state == "training":
            status = Text("● live", style="bold green")  # another process trains it: w
        elif row.live is not None and row.live.state == "not responding":
            status = Text("not responding", style="bold red")
        learned = " ".join(f"{k} {v:.0%}" for k, v in s.fractions.items()) or "-"
        return [mark, row.path.name, s.config.model.cell, str(s.config.train.num_steps),
                str(s.config.model.state_size), fmt_loss(s.val_loss), learned, status]

    def _mark(self, key: str) -> Text:
        text = "✓" if key in self.selected else " "
        if key in self.overlaid:
            k = self.overlaid.index(key)
            colour = self.chart.series_colour(self._legend_name(k))
            return Text(f"{text} #{k + 1}", style=f"bold {colour}")
        return Text(text)

    def _legend_name(self, k: int) -> str:
        # The table shows the full name next to the same #k; the time is left out here.
        return f"#{k + 1} {re.sub(r'^[0-9]{8}-[0-9]{6}-', '', Path(self.overlaid[k]).name)}"

    def _say(self, text: str, error: bool = False) -> None:
        self.query_one("#runs-message", Static).update(Text(text, style="red" if error else ""))

    def _row(self) -> RunRow | None:
        """The highlighted row."""
        if not self.rows or self.table.cursor_row < 0:
            return None
        key = self.table.coordinate_to_cell_key((self.table.cursor_row, 0)).row_key.value
        return self.rows.get(key or "")

    @property
    def highlighted_path(self) -> Path | None:
        """The folder of the row under the cursor (what ctrl+e exports)."""
        row = self._row()
        return row.path if row else None

    @on(DataTable.RowHighlighted, "#runs-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        row = self.rows.get(event.row_key.value or "")
        detail = self.query_one("#runs-detail", Static)
        if row is None:
            detail.update("")
        elif row.summary is None:
            detail.update(Text(f"{row.path.name} cannot be read: {row.problem}", style="red"))
        else:
            detail.update(Text.assemble((row.path.name, "bold"), f"  {row.path}  ",
                                        ("config string (c copies it):", "dim"), "\n",
                                        config_string(row.summary.config)))

    # ---- actions ----------------------------------------------------------------------------
    def action_toggle(self) -> None:
        row = self._row()
        if row is None:
            return
        key = str(row.path)
        if key in self.selected:
            self.selected.remove(key)
        else:
            self.selected.append(key)
        self.table.update_cell(key, "mark", self._mark(key), update_width=True)
        self._say(f"{len(self.selected)} selected: enter overlays them")

    @on(DataTable.RowSelected, "#runs-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_overlay()

    def action_overlay(self) -> None:
        keys = self.selected or ([str(self._row().path)] if self._row() else [])
        rows = [self.rows[k] for k in keys if k in self.rows]
        bad = [r for r in rows if r.summary is None]
        if bad:
            self._say(f"{bad[0].path.name} cannot be read: {bad[0].problem}", error=True)
            return
        if rows:
            self._say(f"reading {len(rows)} runs…")
            self._load(rows)

    def _load(self, rows: list[RunRow]) -> None:
        self._loaded = ask = next(self._asks)
        self.jobs.background(self._read_curves, ask, rows)

    def _read_curves(self, ask: int, rows: list[RunRow]) -> None:
        """In the helper: the runs' curves, and the floors they share (a data file's read)."""
        curves, problems = [], []
        for row in rows:
            try:
                curves.append((row, read_curve(row.path)))
            except ConfigError as err:
                problems.append(str(err))
        configs = [row.summary.config for row, _ in curves if row.summary]
        floors: tuple = ()
        if configs and shared_task(configs):
            try:
                floors = tuple((f.name, f.loss) for f in source.floors(configs[0].data))
            except ConfigError:  # a data file gone since: no floors to draw
                floors = ()
        self.post_message(self.Loaded(ask, curves, problems, floors))

    def on_runs_screen_loaded(self, message: Loaded) -> None:
        if message.ask != self._loaded:
            return
        old = self.overlaid
        self.overlaid = [str(row.path) for row, _ in message.curves]
        self.chart.clear_series()
        for k, (_, curve) in enumerate(message.curves):
            self.chart.add_series(self._legend_name(k), curve.steps, curve.losses, curve.val)
        for key in {*old, *self.overlaid}:
            self.table.update_cell(key, "mark", self._mark(key), update_width=True)
        configs = [row.summary.config for row, _ in message.curves if row.summary]
        note = self.query_one("#runs-note", Static)
        if configs and shared_task(configs):
            self.chart.set_floors(list(message.floors))
            note.update("fields that differ" if len(configs) > 1 else "one run")
        else:
            self.chart.set_floors([])
            note.update("rules differ, floors not shared")
        diff = config_diff(configs)
        table = self.query_one("#runs-diff", DataTable)
        table.clear(columns=True)
        table.add_columns("field", *(f"#{k + 1}" for k in range(len(configs))))
        for name, values in diff:
            table.add_row(name, *values)
        if len(configs) > 1 and not diff:
            table.add_row("(none)", *("same" for _ in configs))
        self._say("; ".join(message.problems) if message.problems
                  else f"{len(configs)} runs overlaid", error=bool(message.problems))

    class Resumable(Message):
        """The helper's answer to r: the run, ready to resume, or why not."""

        def __init__(self, run: Run | None, error: str = ""):
            super().__init__()
            self.run, self.error = run, error

    def action_resume(self) -> None:
        """r: the highlighted run, if runs.resume says it may be resumed (checked in the
        helper: it reads the checkpoint and the data file)."""
        row = self._row()
        if row is None:
            return
        if self.busy():
            self._say("a training or race is running: stop it (F8) before resuming", True)
            return
        self._say(f"checking {row.path.name}…")
        self.jobs.background(self._check_resume, row.path)

    def _check_resume(self, path: Path) -> None:
        try:
            self.post_message(self.Resumable(resumable(path)))
        except ConfigError as err:
            self.post_message(self.Resumable(None, f"cannot resume: {err}"))

    def on_runs_screen_resumable(self, message: Resumable) -> None:
        if message.run is None:
            self._say(message.error, error=True)
        elif self.busy():
            self._say("a training or race is running: stop it (F8) before resuming", True)
        else:
            self.dismiss(message.run)

    def action_watch(self) -> None:
        """Follow the highlighted run as its trainer writes it (read-only)."""
        row = self._row()
        if row is None:
            return
        if row.summary is None:
            self._say(f"cannot watch: {row.path.name} cannot be read: {row.problem}", True)
        elif row.path == self.current and self.busy():
            self._say("this app trains it: it is on the main screen already", True)
        elif self.busy():
            self._say("a training or race is running: stop it (F8) before watching", True)
        else:
            self.dismiss(row.path)

    def action_copy(self) -> None:
        row = self._row()
        if row is not None and row.summary is not None:
            self.app.copy_to_clipboard(config_string(row.summary.config))
            self._say(f"copied the config string of {row.path.name}")

    def action_close(self) -> None:
        self.dismiss(None)
