"""A training's checkpoints: written in the writer's thread (engine.checkpoint.Writer), and
what a run's end owes them. A write that failed is said where the run ends, with where it
can go on from; a stop's checkpoint is on disk before the stop goes on."""

from __future__ import annotations

import traceback
from pathlib import Path

import numpy as np

from ..core.control import Control
from ..core.events import Diverged, Event, Failed
from .checkpoint import Checkpoint, Writer
from .training import failed, first_line


class Saves:
    """One training's checkpoints at `path` (None: a run that keeps none)."""

    def __init__(self, path: Path | None, control: Control):
        self.control = control
        self.writer = Writer(path, control.writing) if path is not None else None
        self._say_where = False  # the run failed writing a file: its end says where it stands

    def put(self, epoch: int, batch: int, step: int, model, optimizer,
            state: list[np.ndarray]) -> list[np.ndarray]:
        """A checkpoint of now, written and synced in the writer's thread while training
        goes on (written in line, the epoch ends of a short-epoch run took much of its
        time, bench/between_chunks.py). Returns the weights it holds (read once: the shadow
        job gets the same). Raises an earlier write's error, after queuing this one."""
        if self.writer is None:
            return model.get_weights()
        ckpt = Checkpoint.capture(epoch, batch, step, model, optimizer, state)
        self.writer.put(ckpt)
        return ckpt.weights

    def flush(self) -> None:
        """Every checkpoint put on disk; raises a write's error."""
        if self.writer is not None:
            self.writer.flush()

    def stop_saved(self) -> None:
        """A stop: its checkpoint on disk before anything else (a quitting app waits for
        this, not for the validation and insight that follow); a write error raises."""
        self.flush()
        self.control.saved.set()

    def ending(self, event: Diverged | Failed) -> Event:
        """A run ending diverged or failed, once its checkpoints are on disk (a stop's,
        queued before an earlier write's error was raised, is tried here): Failed naming
        the file and the last good checkpoint if one could not be written."""
        if self.writer is None:
            return event
        try:
            self.writer.flush()
        except Exception as exc:  # noqa: BLE001 (said in the run's last line)
            said = (event.message if isinstance(event, Failed)
                    else f"diverged at step {event.step:,}")
            return Failed(f"{said}; {first_line(exc)}; {self.writer.describe_last_good()}",
                          traceback.format_exc())
        if isinstance(event, Failed) and self._say_where:
            event.message = f"{event.message}; {self.writer.describe_last_good()}"
        return event

    def failure(self, exc: Exception) -> Failed:
        """The Failed event for `exc`; a file that could not be written will say where the
        run can go on from (at `ending`, once what was queued is written)."""
        self._say_where = isinstance(exc, OSError)
        return failed(exc)

    def close(self) -> None:
        """Every checkpoint on disk and the writer's thread ended (the run's lock is let go
        after this: no write of ours may land after it). Not bounded: a write in hand is
        never abandoned half done."""
        if self.writer is not None:
            self.writer.close()
        self.control.saved.set()  # nothing more of ours will be written
