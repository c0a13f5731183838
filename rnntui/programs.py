"""The last training's model, optimizer and compiled Steps, kept for a training of the same
program: a restart after a tweak reuses them instead of building and compiling anew.

Why: XLA never frees what it compiled (its cache lives as long as the process), and each
new tf.function compiles again. Building everything at every restart grew the app by
~12 MB a run (`python bench/restarts.py`: 809 MB after the first restart, 1,260 MB after
40). What decides the program is its key (`program_key`); the rest (learning rate, data,
epochs, rules) is only values. A reused program gets back the weights and optimizer state
a fresh build gives, so the training is the same as on a fresh build.

One program is kept at a time, and `take` hands it out (it is kept no longer), so two
trainings at once never share one. TensorFlow is used only through the objects given here.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import Config

_lock = threading.Lock()
_kept: Program | None = None
# Keys being built ahead (rnntui.warm): the event set when it is kept, the building thread.
_warming: dict[tuple, tuple[threading.Event, int]] = {}


def program_key(config: Config, device: str, kernel: str, mixed: bool, jit: bool,
                chunk: int) -> tuple:
    """Everything that changes the compiled program or the initial weights."""
    from .source import io_sizes  # a file's vocabularies set the model's widths

    t = config.train
    return (config.model, t.num_steps, t.batch_size, t.optimizer, t.clip_norm, t.carry_state,
            config.data.seed, io_sizes(config.data), device, kernel, mixed, jit, chunk)


@dataclass(eq=False)
class Program:
    """A built model, its optimizer and their compiled Steps, with every variable's value
    as first built (to put back before the next training)."""

    key: tuple
    model: Any
    optimizer: Any
    steps: Any
    initial: list[np.ndarray]
    probe: Any = None  # the insight Probe traced for this model, reused with it (rebind)

    @classmethod
    def made(cls, key: tuple, model, optimizer, steps) -> Program:
        """Wrap a fresh build (the optimizer built): its values now are the initial ones."""
        return cls(key, model, optimizer, steps,
                   [v.numpy() for v in _variables(model, optimizer)])

    def reset(self, learning_rate: float) -> None:
        """Back to the fresh build's weights and optimizer state, at `learning_rate`."""
        for v, value in zip(_variables(self.model, self.optimizer), self.initial, strict=True):
            v.assign(value)
        self.optimizer.learning_rate = learning_rate


def take_or_build(tf, config: Config, strategy, k: int, kernel: str, mixed: bool, jit: bool):
    """(model, optimizer, steps, program) for a training: the kept program when its key is
    this one (waiting for one being made ahead, rnntui.warm), else built (not compiled:
    Steps.compile). Never across distribution strategies, whose variables belong to their
    strategy: their program is None, kept by nobody."""
    from .model import build_model, build_optimizer
    from .steps import Steps

    key = program_key(config, tf.constant(0).device, kernel, mixed, jit, k)
    if strategy is None:
        wait_warm(key)
        program = take(key)
        if program is not None:
            program.reset(config.train.learning_rate)
            return program.model, program.optimizer, program.steps, program
    model = build_model(config, seed=config.data.seed, kernel=kernel, mixed=mixed)
    optimizer = build_optimizer(config, mixed, summed=strategy is not None)
    if strategy is None:
        steps = Steps(tf, model, optimizer, config, k, jit=jit, mixed=mixed)
        return model, optimizer, steps, Program.made(key, model, optimizer, steps)
    from .distribute import DistSteps

    return model, optimizer, DistSteps(tf, strategy, model, optimizer, config, k,
                                       mixed=mixed), None


def _variables(model, optimizer) -> list:
    return [*model.weights, *optimizer.variables]


def take(key: tuple) -> Program | None:
    """The kept program if it has this key (no longer kept), else None: build one."""
    global _kept
    with _lock:
        if _kept is None or _kept.key != key:
            return None
        program, _kept = _kept, None
    return program


def keep(program: Program) -> None:
    """Keep `program` for the next training; the one kept before is let go."""
    global _kept
    with _lock:
        _kept = program


def warming(key: tuple) -> threading.Event:
    """Say that `key` is being built ahead; set the event returned when it is kept."""
    done = threading.Event()
    with _lock:
        _warming[key] = done, threading.get_ident()
    return done


def warmed(key: tuple, done: threading.Event) -> None:
    with _lock:
        if _warming.get(key, (None,))[0] is done:
            del _warming[key]
    done.set()


def wait_warm(key: tuple) -> None:
    """Wait while this key is being built ahead: a training of it takes that build rather
    than compiling the same program beside it."""
    with _lock:
        done, builder = _warming.get(key, (None, None))
    if done is not None and builder != threading.get_ident():
        done.wait()


def kept() -> Program | None:
    """The program kept now, if any (for tests)."""
    return _kept


def forget() -> None:
    """Keep nothing: the next training builds afresh."""
    global _kept
    with _lock:
        _kept = None


def trim_heap() -> None:
    """Hand the memory a finished training freed back to the system: glibc keeps freed heap
    pages otherwise, and the app's resident size wandered by ~80 MB over 40 restarts (with
    it: flat within a few MB). Does nothing without glibc."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # ctypes lets go of the GIL meanwhile
    except (OSError, AttributeError):
        pass
