"""One training's objects and running figures, from the trainer's setup to its finish, the
shadow jobs whose events are still to come (rnntui.train), and how a failure is told."""

from __future__ import annotations

import math
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import ConfigError
from .events import Failed

if TYPE_CHECKING:
    from .checkpoint import Checkpoint
    from .combos import ComboTable
    from .data import EpochFeed
    from .insight import Insights


@dataclass(eq=False)
class RunFigures:
    """One training's objects and running figures, from setup to finish."""

    floors: list
    model: Any
    optimizer: Any
    steps: Any
    fused: bool  # the program runs a cuDNN kernel
    insights: Insights
    feed: EpochFeed
    combos: ComboTable  # over the whole validation series (epoch ends)
    pcombos: ComboTable  # over the windows mid-epoch predictions read
    vxw: np.ndarray
    vyw: np.ndarray
    pxw: np.ndarray
    pyw: np.ndarray
    steps_per_epoch: int
    lr: float = math.nan  # the learning rate as set (read once, and at each change)
    step: int = 0
    first_epoch: int = 0
    first_batch: int = 0
    epochs_done: int = 0
    rate: float = 0.0
    train_loss: float = math.nan
    val_loss: float = math.nan
    last_pred: float = 0.0
    start: float = field(default_factory=time.perf_counter)
    # Shadow jobs whose events are still to come, in the order they went (and finish: the
    # shadow runs one at a time): epoch ends and looks mid-epoch (Trainer._send).
    out: deque[Pending] = field(default_factory=deque)
    helped: bool = False  # the helpers (Trainer._helpers) have started

    def looking(self) -> bool:
        """A look mid-epoch is out (one at a time)."""
        return any(p.epoch is None for p in self.out)


@dataclass(eq=False)
class Pending:
    """A shadow job out (Steps.on_shadow): an epoch's end while its validation runs, or a
    look mid-epoch (epoch None), with what its events need."""

    step: int
    future: Any  # -> (validation loss, Predictions, an Insight or None)
    nbytes: int  # what it holds: the weights it was given and its checkpoint
    epoch: int | None = None  # None: a look mid-epoch
    train_loss: float = math.nan
    checkpoint: Checkpoint | None = None  # written once the validation has landed


def read_lr(optimizer) -> float:
    """The learning rate as set: the variable is float32, so 0.05 reads 0.0500000007."""
    return float(f"{float(optimizer.learning_rate.numpy()):.7g}")


def first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:160]


def failed(exc: BaseException) -> Failed:
    """The Failed event for an exception: a setting that cannot be had here is one line
    naming its field."""
    if isinstance(exc, ConfigError):
        return Failed(str(exc), traceback.format_exc(), exc.field)
    return Failed(f"{type(exc).__name__}: {exc}", traceback.format_exc())
