"""One training in progress: its objects (model, optimizer, compiled steps, data feed,
shadow jobs) and its running numbers, from the trainer's setup to its finish; and how a
failure is told."""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import Config, ConfigError, effective_stride
from ..core.events import Failed, Started
from ..data import source
from .plan import Plan, steps_per_epoch

if TYPE_CHECKING:
    from ..data.feed import EpochFeed
    from ..insight.combos import ComboTable
    from ..insight.schedule import Insights
    from .shadow import ShadowJobs


@dataclass(eq=False)
class Training:
    """What one training holds and counts, from setup to finish (rnntui.engine.trainer)."""

    floors: list
    model: Any
    optimizer: Any
    steps: Any
    fused: bool  # the program runs a cuDNN kernel
    insights: Insights
    feed: EpochFeed
    shadow: ShadowJobs  # validations and measurements out in the helper thread
    combos: ComboTable  # over the whole validation series (epoch ends)
    look_combos: ComboTable  # over the windows a look mid-epoch reads
    vxw: np.ndarray  # the validation windows
    vyw: np.ndarray
    look_xw: np.ndarray  # the first of them, which a look mid-epoch evaluates
    look_yw: np.ndarray
    steps_per_epoch: int
    lr: float = math.nan  # the learning rate as set (read once, and at each change)
    step: int = 0
    first_epoch: int = 0
    first_batch: int = 0
    rate: float = 0.0
    train_loss: float = math.nan
    last_look: float = 0.0  # when the last look mid-epoch went out (perf_counter)
    start: float = field(default_factory=time.perf_counter)
    waited_from: float = 0.0  # steps.compile_waited when the run began
    compiles_sent: bool = False  # the evaluation's compile and the probe's tracing are out
    stopped_mid_epoch: bool = False  # its weights changed since the last epoch end

    def training_rate(self, trained: int, wall: float) -> float:
        """Steps/s over `wall` s from the first chunk, the waits for XLA's compile (the
        calls after a run's first, steps.first_steps) left out."""
        return trained / max(wall - (self.steps.compile_waited - self.waited_from), 1e-9)


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


def started(config: Config, plan: Plan, device_name: str, on_gpu: bool, notice: str,
            floors: list) -> Started:
    """The Started event: the floors realised on the validation sample, the plan (chunk,
    kernel, precision) and every notice."""
    from .tfload import threads_notice

    d, t = config.data, config.train
    per_epoch = steps_per_epoch(config)
    notices = (notice, *plan.notices, threads_notice(config, on_gpu))
    targets, inputs = source.symbols(d)
    return Started(config, device_name, floors, source.window_floor(d, t.num_steps,
                                                                  effective_stride(t)),
                   per_epoch, per_epoch * t.epochs, plan.chunk,
                   "; ".join(n for n in notices if n), source.floors(d), targets, inputs)
