"""The session that trains into a run folder: what the command line, the sweep and the app
all call to train. It runs in the engine's thread (rnntui.engine), which owns TensorFlow."""

from __future__ import annotations

import time
from pathlib import Path

from .. import engine as engines
from ..config import Config
from ..core.control import Control
from ..core.events import Event
from ..engine import Engine
from .datarecord import check_unchanged
from .folders import (
    CHECKPOINT,
    DEFAULT_RUNS_DIR,
    Run,
    new_run,
    owed_epoch_end,
    truncate_metrics,
)
from .live import stop_requested
from .recorder import Recorder


def train_into_run(config: Config, on_event, *, engine: Engine | None = None,
                   runs_dir: str | Path = DEFAULT_RUNS_DIR, name: str | None = None,
                   resume: Run | None = None, folder: str | Path | None = None, opened=None,
                   control=None, jit: bool | None = None, strategy=None) -> Event:
    """Open a run's folder and train `config` into it: every event recorded (metrics,
    TensorBoard) and passed to `on_event`, a checkpoint at every epoch end and on stop.

    The folder: `resume`'s (its metrics cut back to its checkpoint, which the training
    continues from; a data file that changed since is refused), else `folder` as it is (a
    multiworker's scratch), else a new one under `runs_dir`. `opened(path)` hears it before
    the training starts. A folder that cannot be made or read raises ConfigError (BadFile)
    or OSError before anything trains; the training itself never raises (Trainer.run).
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


def _train_into_run(engine: Engine, config: Config, on_event, runs_dir, name, resume,
                    folder, opened, control, jit, strategy) -> Event:
    from ..engine.trainer import Trainer

    owed = None
    if resume is not None:
        path = resume.path
        if config.data.data_file:  # the same data, or no resume
            check_unchanged(config.data.data_file, path)
        if resume.checkpoint is not None:
            truncate_metrics(path, resume.checkpoint.step)  # what came after it goes
            owed = owed_epoch_end(path, resume.checkpoint)
    elif folder is not None:
        path = Path(folder)
    else:
        path = new_run(config, runs_dir, name)
    if opened is not None:
        opened(path)
    recorder = Recorder(path)
    control = control or Control()
    asked = StopRequests(path, control)

    def both(event) -> None:
        recorder.on_event(event)
        on_event(event)
        asked.check()

    try:
        return Trainer(config, engine, both, control, checkpoint_path=path / CHECKPOINT,
                       resume=resume.checkpoint if resume else None, owed=owed, jit=jit,
                       strategy=strategy).run()
    finally:
        recorder.close()
