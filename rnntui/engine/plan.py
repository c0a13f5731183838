"""What a training of a config compiles for, decided without timing (so the same config
always compiles the same program): the chunk of batches per compiled call, the kernel and
precision, XLA or not, and the validation windows. The trainer and the warm both read
them, so the program made ahead has the key the training looks for.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config, effective_stride, windows_per_row
from ..data.generator import windows
from ..data.source import val_series
from .accel import WINDOW_MIN_MACS, batch_macs, choose_kernel, choose_precision

TARGET_CHUNK_S = 0.1  # one compiled call should take 50-200 ms: that is how fast stop responds
# Series steps a mid-epoch predictions event evaluates (the first windows of the validation
# series): about once a second, so a 10M-step validation series must not be evaluated whole
# (it slowed r2rt tenfold). Epoch ends evaluate all of it.
PREDICTION_STEPS = 100_000
# XLA takes seconds of CPU to compile what a plain graph traces in well under one, and
# saves a fraction of a millisecond a step on small models: it pays from a few thousand
# steps. A grid of short runs (the article's 60 of 1 epoch) takes much less CPU without
# it (bench/sweep_speed.py). Longer runs keep it.
XLA_MIN_STEPS = 5000
# Multiply-adds a look's evaluation may cost (its windows x plan.batch_macs): a char
# model's batch costs 500x the seed's, and 40 of its windows a second took half of
# training (bench/char_speed.py). The seed's r2rt keeps its 50 windows.
LOOK_MACS = 32_000_000


def choose_chunk(config: Config, steps_per_epoch: int) -> int:
    """Batches per compiled call, from a cost model so that a call takes ~100 ms on a CPU.

    Measured on 2 CPU cores: about 0.2 ms per batch of fixed cost plus the multiply-adds.
    """
    per_step, target = 2e-4 + batch_macs(config) * 1.5e-9, TARGET_CHUNK_S
    if batch_macs(config) >= WINDOW_MIN_MACS:
        # The window kernels (accel.xla_kernel): ~0.2 ns a multiply-add, forward and
        # backward, and a call's fixed cost of its own (its loops' start, their buffers):
        # the longest call stop allows (bench/char_speed.py's LSTM: 1 batch a call ran at
        # 14 steps/s, 3 at 15).
        per_step, target = batch_macs(config) * 2e-10, 2 * TARGET_CHUNK_S
    k = max(1, min(int(target / per_step), 2000, steps_per_epoch))
    # Even chunks: an epoch of 500 batches runs as 2 x 250, not 399 + 101.
    calls = -(-steps_per_epoch // k)
    return -(-steps_per_epoch // calls)




def validation_windows(config: Config) -> tuple:
    """(vx, vy, their windows vxw and vyw, pn): the validation series, and how many of its
    first windows a mid-epoch look evaluates (see PREDICTION_STEPS and LOOK_MACS)."""
    t = config.train
    vx, vy = val_series(config.data)
    vxw, vyw = windows(vx, t.batch_size, t.num_steps), windows(vy, t.batch_size, t.num_steps)
    pn = max(1, min(len(vxw), PREDICTION_STEPS // (t.batch_size * t.num_steps),
                    LOOK_MACS // batch_macs(config)))
    return vx, vy, vxw, vyw, pn


def steps_per_epoch(config: Config) -> int:
    t = config.train
    return windows_per_row(config.data.size // t.batch_size, t.num_steps, effective_stride(t))


def use_xla(config: Config) -> bool:
    """Whether a run is long enough for XLA's compile time to pay (see XLA_MIN_STEPS)."""
    return steps_per_epoch(config) * config.train.epochs >= XLA_MIN_STEPS


def jit_for(config: Config, kernel: str, distributed: bool, asked: bool | None = None) -> bool:
    """Whether the training program is XLA-compiled: the XLA kernel on one device, for a run
    long enough (use_xla) unless `asked` says. The trainer and the warm both decide here,
    so the program made ahead has the key the training looks for."""
    if kernel == "window":  # compiled in seconds, and only XLA runs it fast
        return not distributed if asked is None else asked
    xla = use_xla(config) if asked is None else asked
    return xla and kernel == "xla" and not distributed


DIST_CHUNK = 25  # batches per distributed trainer chunk: each is a call (distribute.py)


def chunk_for(chunk: int, steps_per_epoch: int) -> int:
    """Batches per trainer chunk: at most `chunk` and DIST_CHUNK, in even chunks (an epoch
    of 60 batches runs as 20 + 20 + 20, not 25 + 25 + 10)."""
    k = max(1, min(chunk, DIST_CHUNK))
    calls = -(-steps_per_epoch // k)
    return max(1, -(-steps_per_epoch // calls))


@dataclass(frozen=True)
class Plan:
    """What a training compiles: batches per call, the RNN kernel, mixed precision or not,
    and the notices the user is owed (a setting this machine cannot have)."""

    chunk: int
    kernel: str  # "xla", "window" or "cudnn" (accel.choose_kernel)
    mixed: bool
    notices: tuple[str, ...] = ()


def plan_for(config: Config, on_gpu: bool, distributed: bool, chunk: int | None = None) -> Plan:
    """The plan for a training of `config` (`chunk`: as asked, else chosen)."""
    per_epoch = steps_per_epoch(config)
    k = chunk or choose_chunk(config, per_epoch)
    if distributed:
        k = chunk_for(k, per_epoch)
    kernel, why_kernel = choose_kernel(config, on_gpu, distributed=distributed)
    mixed, why_mixed = choose_precision(config, on_gpu)
    notices = tuple(n for n in (why_kernel, why_mixed) if n)
    return Plan(k, kernel, mixed, notices)
