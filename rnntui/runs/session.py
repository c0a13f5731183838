"""The session that trains into a run folder: what the command line, the sweep and the app
all call to train. It runs in the engine's thread (rnntui.engine), which owns TensorFlow."""

from __future__ import annotations

import time
from pathlib import Path

from .. import engine as engines
from ..config import Config
from ..core.control import Control
from ..core.events import Event
from ..core.files import clear_stale_temps
from ..data.source import resolve
from ..engine import Engine
from .folders import (
    CHECKPOINT,
    DEFAULT_RUNS_DIR,
    Run,
    new_run,
    owed_epoch_end,
    truncate_metrics,
)
from .live import stop_requested
from .lock import RunLock
from .recorder import Recorder
from .resume import check_fits, resumable


def train_into_run(config: Config, on_event, *, engine: Engine | None = None,
                   runs_dir: str | Path = DEFAULT_RUNS_DIR, name: str | None = None,
                   resume: Run | None = None, folder: str | Path | None = None, opened=None,
                   control=None, jit: bool | None = None, strategy=None) -> Event:
    """Open a run's folder and train `config` into it: every event recorded (metrics,
    TensorBoard) and passed to `on_event`, a checkpoint at every epoch end and on stop.

    The folder, locked for as long as the training writes it (runs.lock: one writer):
    `resume`'s (checked whole first by runs.resume, then its metrics cut back to its
    checkpoint, which the training continues from), else `folder` as it is (a multiworker's
    scratch), else a new one under `runs_dir`. `opened(path)` hears it before the training
    starts. A run that may not be resumed (RunBusy for a live one), or a folder that cannot
    be made or read, raises ConfigError (BadFile) before anything changes; one that cannot
    be written raises WriteFailed (an OSError naming the file). The training itself never
    raises (Trainer.run).
    In `engine`'s thread (this process's engine by default): called from another thread,
    it is queued there and waited for."""
    engine = engine or engines.get()
    return engine.call(_train_into_run, engine, config, on_event, runs_dir, name, resume,
                       folder, opened, control, jit, strategy)


class StopRequests:
    """Stops the training when someone asks through the run folder (`rnntui stop RUN`, F8 on
    a detached run): looked for at most twice a second, between events."""

    def __init__(self, run: Path, control: Control):
        self.run, self.control, self.last = run, control, 0.0

    def check(self) -> None:
        now = time.monotonic()
        if now - self.last >= 0.5:
            self.last = now
            if stop_requested(self.run):
                self.control.stop()


def _open_folder(config: Config, runs_dir, name, resume: Run | None,
                 folder) -> tuple[RunLock, Run | None, tuple | None]:
    """The folder to train into, locked: (its lock, the run to resume as read under the
    lock, the epoch end it owes). A resume is checked whole before it changes a byte."""
    if resume is None:
        resolve(config)  # a config that cannot train (its file, the memory) makes no folder
        path = Path(folder) if folder is not None else new_run(config, runs_dir, name)
    else:
        path = resume.path
    lock = RunLock(path).acquire(note=False)  # nobody else writes it while we look and cut
    try:
        if resume is not None:  # again, under the lock: it may have moved on
            resume = resumable(path, config.train.epochs, locked=True)
            check_fits(resume)
        lock.note()
        clear_stale_temps(path)  # a killed writer's; ours are all to come
        if resume is None:
            return lock, None, None
        truncate_metrics(path, resume.checkpoint)  # what came after it goes
        return lock, resume, owed_epoch_end(path, resume.checkpoint)
    except BaseException:
        lock.release()
        raise


def _train_into_run(engine: Engine, config: Config, on_event, runs_dir, name, resume,
                    folder, opened, control, jit, strategy) -> Event:
    from ..engine.trainer import Trainer

    lock, resume, owed = _open_folder(config, runs_dir, name, resume, folder)
    path = lock.run
    if resume is not None:  # as read under the lock: validated, its data file read
        config = resume.config
    try:
        if opened is not None:
            opened(path)
        recorder = Recorder(path)
    except BaseException:
        lock.release()
        raise
    control = control or Control()
    asked = StopRequests(path, control)

    def both(event) -> None:
        recorder.on_event(event)
        on_event(event)
        asked.check()

    def while_paused() -> None:  # the trainer waits in a pause: still alive, still asked
        recorder.paused()
        asked.check()

    control.while_paused = while_paused
    try:
        return Trainer(config, engine, both, control, checkpoint_path=path / CHECKPOINT,
                       resume=resume.checkpoint if resume else None, owed=owed, jit=jit,
                       strategy=strategy).run()
    finally:
        control.while_paused = None
        recorder.close()
        lock.release()
