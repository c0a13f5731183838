"""One training's objects and running figures, from the trainer's setup to its finish, and
an epoch end whose validation is still running (rnntui.train)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

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
    pending: Pending | None = None  # an epoch end whose validation is still running
    helped: bool = False  # the helpers (Trainer._helpers) have started
    look: tuple[int, Any] | None = None  # a look mid-epoch that is out: (step, Future)


@dataclass(eq=False)
class Pending:
    """An epoch's end while its validation runs (Steps.validate): what its EpochEnd and
    the events after it need."""

    epoch: int
    step: int
    train_loss: float
    checkpoint: Checkpoint | None  # written once the validation has landed
    future: Any  # -> (validation loss, P(Y=1) per position, an Insight or None)
