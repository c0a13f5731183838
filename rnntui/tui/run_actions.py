"""The app's keys for runs: the runs screen (F3), the race (F4), the chart as SVG (ctrl+s)
and the model as .keras (ctrl+e).

A mixin of `RnnTui`, kept apart so app.py stays the wiring of one training. It uses the
app's `runs_dir`, `run_path` (the current or last run folder), `race` (the installed race
screen), `busy` and `start_training`.
"""

from __future__ import annotations

import time
from pathlib import Path

from textual import work

from ..runs import Run
from .jobs import Exported, export_model
from .screens.race import RaceScreen
from .screens.runs import RunsScreen
from .widgets.loss_chart import LossChart


class RunActions:
    """F3, F4, ctrl+s and ctrl+e."""

    def action_runs(self) -> None:
        """F3: the runs screen, from the main screen or the race; F3 again goes back."""
        if isinstance(self.screen, RunsScreen):
            self.screen.dismiss(None)
            return
        if self.screen is self.race:
            self.pop_screen()
        if len(self.screen_stack) == 1:  # not over a dialog
            self.push_screen(RunsScreen(self.runs_dir, self.run_path, lambda: self.busy),
                             self._resume)

    def _resume(self, run: Run | None) -> None:
        if run is not None:
            self.start_training(resume=run)

    def action_race(self) -> None:
        """F4: the race screen, from the main screen or the runs; F4 again goes back."""
        if self.screen is self.race:
            self.race.action_close()
            return
        if isinstance(self.screen, RunsScreen):
            self.screen.dismiss(None)
        if len(self.screen_stack) == 1:
            self.push_screen("race")

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        # F5 trains the form, which the runs and race screens hide: not from there.
        if action == "train" and isinstance(self.screen, (RunsScreen, RaceScreen)):
            return False
        return super().check_action(action, parameters)

    def action_save_chart(self) -> None:
        """The chart on show, as an SVG: into the run folder, or runs_dir for a comparison."""
        charts = self.screen.query(LossChart)
        if not charts:
            return
        if isinstance(self.screen, (RunsScreen, RaceScreen)):
            kind = "race" if self.screen is self.race else "overlay"
            path = self.runs_dir / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}.svg"
        elif self.run_path is not None:
            path = self.run_path / "loss-chart.svg"
        else:
            self.notify("no run yet: train first (F5); the chart goes into its run folder",
                        severity="warning", timeout=4)
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(charts.first().export_svg(f"rnntui {path.stem}"), encoding="utf-8")
        except OSError as err:
            self.notify(f"{path}: cannot write: {err.strerror or err}", severity="error")
            return
        self.notify(f"saved the chart to {path}", timeout=4)

    def action_export_model(self) -> None:
        run = (self.screen.highlighted_path if isinstance(self.screen, RunsScreen)
               else self.run_path)
        if run is None:
            self.notify("no run yet: train first (F5) or pick a run in the runs screen (F3)",
                        severity="warning", timeout=4)
            return
        self.notify(f"exporting {run.name} to .keras…", timeout=2)
        self._export(run)

    @work(thread=True, exit_on_error=False, group="export")
    def _export(self, run: Path) -> None:
        export_model(run, self.post_message)

    def on_exported(self, message: Exported) -> None:
        if message.path is None:
            self.notify(f"export failed: {message.error}", severity="error", timeout=6)
        else:
            self.notify(f"wrote {message.path}", timeout=5)
