"""Saving what is on show: the chart as SVG (ctrl+s), which run a model export takes
(ctrl+e), and the palette's commands for the app's keys."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from textual.app import SystemCommand
from textual.screen import Screen

from .screens.race import RaceScreen
from .screens.runs import RunsScreen
from .widgets.deck import PANELS
from .widgets.loss_chart import LossChart

# The palette's commands beside Textual's own: (name, help, the app's action).
COMMANDS = (
    ("Train", "Start training (F5)", "train"),
    ("Pause / resume", "Pause or resume training (F6)", "pause"),
    ("Stop", "Stop training (F8)", "stop"),
    ("Help", "Every key binding (F1)", "help"),
    ("Runs", "List, compare, overlay and resume runs (F3)", "runs"),
    ("Race", "Train a grid of configs on one chart (F4)", "race"),
    ("Save chart SVG", "The chart on show, as SVG (ctrl+s)", "save_chart"),
    ("Export model", "The run's model as a .keras file (ctrl+e)", "export_model"),
    ("Hidden state / gates", "The state, then each gate in turn (F7)", "deck:gates"),
    ("Learning timeline", "The lag effects at every epoch end, or now (F9)", "deck:timeline"),
    ("Sample warmer", "A text's sample at the next higher temperature (ctrl+up)",
     "deck:warmer"),
    ("Sample cooler", "A text's sample at the next lower temperature (ctrl+down)",
     "deck:cooler"),
    ("Train detached", "The form's config as its own process, which outlives the app and"
     " the connection; watched here (ctrl+t)", "train_detached"),
)


def commands(app) -> Iterator[SystemCommand]:
    """The palette's commands for the app's own actions (COMMANDS) and each deck panel."""
    for name, help_text, action in COMMANDS:
        action, _, key = action.partition(":")  # "deck:gates": app.action_deck("gates")
        fn = getattr(app, f"action_{action}")
        yield SystemCommand(name, help_text, (lambda fn=fn, key=key: fn(key)) if key else fn)
    for panel, name in PANELS.items():
        yield SystemCommand(f"Show {name}", "In the lower-right panel (F2 cycles them)",
                            lambda panel=panel: app.action_panel(panel))


def export_target(screen: Screen, run_path: Path | None) -> Path | None:
    """The run ctrl+e exports: the one highlighted in the runs screen, else the app's."""
    return screen.highlighted_path if isinstance(screen, RunsScreen) else run_path


def export_model(run: Path | None, jobs, notify) -> None:
    """ctrl+e: export `run`'s model in the helper (tui.jobs: Exported comes back)."""
    if run is None:
        notify("no run yet: train first (F5) or pick a run in the runs screen (F3)",
               severity="warning", timeout=4)
        return
    notify(f"exporting {run.name} to .keras…", timeout=2)
    jobs.export(run)


def exported_text(path: Path | None, error: str) -> tuple[str, str]:
    """What to tell the user of an export: the file written, or why not; and its severity."""
    return (f"export failed: {error}", "error") if path is None else (f"wrote {path}",
                                                                        "information")


def save_chart(screen: Screen, race: RaceScreen, runs_dir: Path,
               run_path: Path | None) -> tuple[str, str]:
    """Write the chart on `screen` as SVG: into the run folder, or `runs_dir` for the race
    and the runs' overlay. Returns (what to tell the user, its severity)."""
    charts = screen.query(LossChart)
    if not charts:
        return "no chart on this screen", "warning"
    if isinstance(screen, (RunsScreen, RaceScreen)):
        kind = "race" if screen is race else "overlay"
        path = runs_dir / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}.svg"
    elif run_path is not None:
        path = run_path / "loss-chart.svg"
    else:
        return "no run yet: train first (F5); the chart goes into its run folder", "warning"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(charts.first().export_svg(f"rnntui {path.stem}"), encoding="utf-8")
    except OSError as err:
        return f"{path}: cannot write: {err.strerror or err}", "error"
    return f"saved the chart to {path}", "information"
