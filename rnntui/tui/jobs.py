"""What the app's thread workers run: a training into its run folder, a race, an export.

All of it runs in a worker thread and touches no widget: events go through a Bridge,
anything else is posted as a message (post_message is thread-safe). TensorFlow is imported
here, inside the functions, never at module load.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from textual.message import Message

from ..config import Config, ConfigError
from ..control import Control
from ..events import Failed
from ..programs import trim_heap
from ..runs import METRICS, Run
from ..sweep import run_one
from ..threads import run_below
from .bridge import Bridge
from .compare import Curve, read_curve

Post = Callable[[Message], object]
# How much lower than the UI a training runs (Linux nice): a key shows on screen without
# waiting for the trainer's share of the CPU (bench/terminal.py). TensorFlow's thread pools,
# made by the first training's thread, inherit it. The terminal app sets it (tui/run.py);
# 0 elsewhere, so tests and pilots train at the machine's normal share.
BACKGROUND_NICE = 0


def run_in_background() -> None:
    """Lower the calling thread's CPU priority by BACKGROUND_NICE (where the OS allows)."""
    if BACKGROUND_NICE > 0:
        run_below(BACKGROUND_NICE)


class RunOpened(Message):
    """A training has its run folder; `history` is the curve so far of a resumed run."""

    def __init__(self, run_id: int, path: Path, history: Curve | None):
        super().__init__()
        self.run_id, self.path, self.history = run_id, path, history


class LapDone(Message):
    """A race's config `index` ended: its sweep result, or the one-line reason it could not
    start (`result` None)."""

    def __init__(self, index: int, result, message: str = ""):
        super().__init__()
        self.index, self.result, self.message = index, result, message


class RaceOver(Message):
    """Every config of the race has run, or the race was stopped."""


class Exported(Message):
    """An export finished: the file written, or the one-line error."""

    def __init__(self, path: Path | None, error: str = ""):
        super().__init__()
        self.path, self.error = path, error


@dataclass
class TrainJob:
    config: Config
    runs_dir: Path
    resume: Run | None = None  # continue this run from its checkpoint instead of a new one


def train_in_run(job: TrainJob, bridge: Bridge, control: Control, post: Post) -> None:
    """Train the job into its run folder (runs.train_into_run), posting RunOpened with a
    resumed run's curve so far. A folder that cannot be made or read ends the run with a
    Failed event naming it."""
    from ..runs import train_into_run  # imports TensorFlow in this thread, if not yet loaded

    run_in_background()
    path = job.resume.path if job.resume else Path(job.runs_dir)

    def opened(where: Path) -> None:
        nonlocal path
        path = where
        post(RunOpened(bridge.run_id, where, read_curve(where) if job.resume else None))

    try:
        train_into_run(job.config, bridge.on_event, runs_dir=job.runs_dir, resume=job.resume,
                       opened=opened, control=control, graph_first=True)
    except ConfigError as err:  # BadFile: the folder or its files
        bridge.on_event(Failed(str(err)))
    except OSError as err:
        bridge.on_event(Failed(f"{path / METRICS}: cannot write: {err.strerror or err}"))
    finally:
        trim_heap()  # restart after restart, the app must not grow (bench/restarts.py)


def race(items: list[tuple[dict, Config]], runs_dir: Path, control: Control,
         bridges: list[Bridge], post: Post) -> None:
    """Train each config after the other, each into its own run folder, until the last
    or a stop; every event goes to that config's bridge, each result is posted."""
    run_in_background()
    try:
        for i, ((values, config), bridge) in enumerate(zip(items, bridges, strict=True)):
            if control.stopped:
                break
            try:
                result = run_one(values, config, str(runs_dir), control, bridge.on_event)
            except ConfigError as err:  # BadFile: no run folder could be made
                post(LapDone(i, None, str(err)))
                break
            post(LapDone(i, result))
    finally:
        control.done.set()
        post(RaceOver())


def export_model(run: Path, post: Post) -> None:
    """Write the run's last checkpoint as run/model.keras (imports TensorFlow)."""
    from ..export import export_keras

    try:
        post(Exported(export_keras(run, run / "model.keras")))
    except ConfigError as err:  # BadFile: no checkpoint, or one that does not fit
        post(Exported(None, str(err)))
    except Exception as err:  # a Keras save problem: one line, never a traceback
        post(Exported(None, f"{run / 'model.keras'}: {type(err).__name__}: {err}"))
