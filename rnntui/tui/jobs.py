"""What the app asks of the engine (rnntui.engine) and its helper, and the messages that
come back.

The engine thread loads TensorFlow, warms the form's program, trains and races, one command
after another; the helper reads files (a data file's checks and floors, the runs list, a
run's curve) and exports. Nothing here touches a widget: events go through a Bridge, and
everything else is posted as a message (post_message is thread-safe, and never blocks the
thread that posts). TensorFlow is imported in the engine's thread, never here.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.message import Message

from ..config import Config, ConfigError
from ..core.control import Control
from ..core.events import Failed
from ..core.files import WriteFailed
from ..core.verdict import Floor
from ..data import source
from ..engine import Engine
from ..engine.executor import UI
from ..engine.programs import trim_heap
from ..engine.warm import warm as warm_program
from ..runs.folders import METRICS, Run
from ..runs.session import train_into_run
from ..runs.sweep import run_one
from .bridge import Bridge
from .compare import Curve, read_curve

Post = Callable[[Message], object]


class TensorFlowLoaded(Message):
    """TensorFlow is loaded: `device` is what `auto` trains on; or the one-line `error`."""

    def __init__(self, device: str, error: str = ""):
        super().__init__()
        self.device, self.error = device, error


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


class TrainingDropped(Message):
    """A training was stopped while it still waited for the engine (a restart, then F8):
    it never started, and made no run folder."""

    def __init__(self, run_id: int):
        super().__init__()
        self.run_id = run_id


class Exported(Message):
    """An export finished: the file written, or the one-line error."""

    def __init__(self, path: Path | None, error: str = ""):
        super().__init__()
        self.path, self.error = path, error


class FileChecked(Message):
    """A data file read for the form (`ask`: which check this answers): the config with
    the sizes it gives, and its empirical floors; or the one-line `error`."""

    def __init__(self, ask: int, config: Config | None, floors: list[Floor], error: str = ""):
        super().__init__()
        self.ask, self.config, self.floors, self.error = ask, config, floors, error


@dataclass
class TrainJob:
    config: Config
    runs_dir: Path
    resume: Run | None = None  # continue this run from its checkpoint instead of a new one


class Jobs:
    """The app's door to the engine: each method queues work and returns at once."""

    def __init__(self, engine: Engine, post: Post):
        self.engine, self.post = engine, post

    def background(self, fn: Callable, *args: Any, run: Hashable = "ui") -> Future:
        """fn(*args) in the helper, ahead of a training's jobs (a person waits for it)."""
        return self.engine.executor.submit(fn, *args, run=run, priority=UI)

    def load(self, config: Config) -> None:
        """Import TensorFlow, its CPU threads chosen for `config`: TensorFlowLoaded."""
        def loaded(future: Future) -> None:
            error = future.exception()
            self.post(TensorFlowLoaded("", f"{type(error).__name__}: {error}") if error
                      else TensorFlowLoaded(future.result()))

        self.engine.load(config).add_done_callback(loaded)

    def warm(self, config: Config) -> None:
        """Make the form's program ahead (engine.warm); an invalid config is the form's to
        say. A newer warm, or a training, replaces it."""
        self.engine.submit("warm", warm_program, self.engine, config, makes=config)

    def train(self, job: TrainJob, bridge: Bridge, control: Control) -> None:
        """Train the job into its run folder, after whatever the engine is doing (a restart:
        the old training's stop): RunOpened, then the events through `bridge`. Stopped
        before it starts (a quit or F8 meanwhile), it is dropped: TrainingDropped."""
        future = self.engine.submit_training("train", control, _train_in_run, self.engine,
                                             job, bridge, control, self.post,
                                             makes=None if job.resume else job.config)
        future.add_done_callback(lambda f: _ended(f, bridge, control, self.post))

    def race(self, items: list[tuple[dict, Config]], runs_dir: Path, control: Control,
             bridges: list[Bridge], post: Post) -> None:
        """Train each config after the other, each into its own run folder: LapDone for
        each, RaceOver at the end or a stop, both to `post` (the race screen's)."""
        future = self.engine.submit_training("race", control, _race, self.engine, items,
                                             runs_dir, control, bridges, post)
        future.add_done_callback(lambda f: (control.done.set(), post(RaceOver())))

    def export(self, run: Path) -> None:
        """The run's last checkpoint as run/model.keras (a model of its own): Exported."""
        self.background(_export, run, self.post, run="export")

    def check_file(self, ask: int, config: Config, post: Post) -> None:
        """Read the form's data file: FileChecked, to `post` (the form's)."""
        self.background(_check_file, ask, config, post)


def _ended(future: Future, bridge: Bridge, control: Control, post: Post) -> None:
    """A training command is over: whatever it raised becomes its Failed event; dropped
    before it started, TrainingDropped."""
    if future.cancelled():
        post(TrainingDropped(bridge.run_id))
    elif (error := future.exception()) is not None:
        bridge.on_event(Failed(f"{type(error).__name__}: {error}"))
    control.done.set()


def _train_in_run(engine: Engine, job: TrainJob, bridge: Bridge, control: Control,
                  post: Post) -> None:
    """In the engine thread: the training into its run folder (runs.session), posting
    RunOpened with a resumed run's curve so far. A folder that cannot be made or read ends
    the run with a Failed event naming it."""
    path = job.resume.path if job.resume else Path(job.runs_dir)

    def opened(where: Path) -> None:
        nonlocal path
        path = where
        post(RunOpened(bridge.run_id, where, read_curve(where) if job.resume else None))

    try:
        train_into_run(job.config, bridge.on_event, engine=engine, runs_dir=job.runs_dir,
                       resume=job.resume, opened=opened, control=control)
    except ConfigError as err:  # BadFile: the folder or its files; a bad data file
        bridge.on_event(Failed(str(err), bad_field=err.field))
    except WriteFailed as err:  # (it names its file: a full disk, a read-only folder)
        bridge.on_event(Failed(str(err)))
    except OSError as err:
        bridge.on_event(Failed(f"{path / METRICS}: cannot write: {err.strerror or err}"))
    finally:
        trim_heap()  # restart after restart, the app must not grow (bench/restarts.py)


def _race(engine: Engine, items, runs_dir: Path, control: Control, bridges: list[Bridge],
          post: Post) -> None:
    for i, ((values, config), bridge) in enumerate(zip(items, bridges, strict=True)):
        if control.stopped:
            break
        try:
            result = run_one(values, config, str(runs_dir), control, bridge.on_event,
                             engine=engine)
        except ConfigError as err:  # BadFile: no run folder could be made
            post(LapDone(i, None, str(err)))
            break
        post(LapDone(i, result))


def _export(run: Path, post: Post) -> None:
    from ..runs.export import export_keras

    try:
        post(Exported(export_keras(run, run / "model.keras")))
    except ConfigError as err:  # BadFile: no checkpoint, or one that does not fit
        post(Exported(None, str(err)))
    except Exception as err:  # a Keras save problem: one line, never a traceback
        post(Exported(None, f"{run / 'model.keras'}: {type(err).__name__}: {err}"))


def _check_file(ask: int, config: Config, post: Post) -> None:
    try:
        resolved = source.resolve(config)
        post(FileChecked(ask, resolved, source.floors(resolved.data)))
    except ConfigError as err:
        post(FileChecked(ask, None, [], str(err)))
