"""The last training's model, optimizer and compiled Steps, kept for a training of the same
program: a restart after a tweak reuses them instead of building and compiling anew.

Why: XLA never frees what it compiled (its cache lives as long as the process), and each
new tf.function compiles again; building everything at every restart grew the app at each
run (bench/restarts.py). What decides the program is its key (`program_key`); the rest
(learning rate, data, epochs, rules) is only values. A reused program gets back the
weights and optimizer state a fresh build gives, so the training is the same as on a
fresh build.

The cache is a plain field of the engine (`Engine.programs`), touched only by the engine
thread: a warm puts the form's program there, a training takes it and puts it back when
it ends. One program is kept at a time.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import Config, effective_stride
from ..data.source import io_sizes


def program_key(config: Config, device: str, kernel: str, mixed: bool, jit: bool,
                chunk: int) -> tuple:
    """Everything that changes the compiled program or the initial weights."""
    t = config.train
    return (config.model, t.num_steps, effective_stride(t), t.batch_size, t.optimizer,
            t.clip_norm, t.carry_state, config.data.seed, io_sizes(config.data), device,
            kernel, mixed, jit, chunk)


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


def _variables(model, optimizer) -> list:
    from .checkpoint import random_states  # the dropout masks start afresh too

    return [*model.weights, *random_states(model), *optimizer.variables]


class ProgramCache:
    """The one program kept for the next training (the engine thread's alone)."""

    def __init__(self) -> None:
        self.kept: Program | None = None
        self.built = 0  # programs built in this process: a restart that reuses builds none

    def take(self, key: tuple) -> Program | None:
        """The kept program if it has this key (no longer kept), else None: build one."""
        if self.kept is None or self.kept.key != key:
            return None
        program, self.kept = self.kept, None
        return program

    def keep(self, program: Program) -> None:
        """Keep `program` for the next training; the one kept before is let go."""
        self.kept = program

    def forget(self) -> None:
        """Keep nothing: the next training builds afresh."""
        self.kept = None

    def take_or_build(self, tf, config: Config, strategy, k: int, kernel: str, mixed: bool,
                      jit: bool):
        """(model, optimizer, steps, program) for a training: the kept program when its key
        is this one, else built (not compiled: Steps.compile). Never across distribution
        strategies, whose variables belong to their strategy: their program is None, kept
        by nobody."""
        from .model import build_model, build_optimizer
        from .steps import Steps

        key = program_key(config, tf.constant(0).device, kernel, mixed, jit, k)
        if strategy is None:
            program = self.take(key)
            if program is not None:
                program.reset(config.train.learning_rate)
                return program.model, program.optimizer, program.steps, program
        self.built += 1
        model = build_model(config, seed=config.data.seed, kernel=kernel, mixed=mixed)
        optimizer = build_optimizer(config, mixed, summed=strategy is not None)
        if strategy is None:
            steps = Steps(tf, model, optimizer, config, k, jit=jit, mixed=mixed,
                          graph_first=kernel != "window")
            return model, optimizer, steps, Program.made(key, model, optimizer, steps)
        from .distribute import DistSteps

        return model, optimizer, DistSteps(tf, strategy, model, optimizer, config, k,
                                           mixed=mixed), None


def trim_heap() -> None:
    """Hand the memory a finished training freed back to the system: glibc keeps freed heap
    pages otherwise, and the app's resident size wandered over many restarts (with it: flat
    within a few MB, bench/restarts.py). Does nothing without glibc."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # ctypes lets go of the GIL meanwhile
    except (OSError, AttributeError):
        pass
