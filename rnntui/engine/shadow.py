"""A training's jobs on the shadow model: each epoch end's validation, and a look mid-epoch
about once a second, run in the engine's helper thread with the weights of their step while
training goes on, and landed as events in the order they went.

An epoch end's job gives EpochEnd (then its Predictions and Insight); a look's, Predictions
and Insight. Training does not wait for them (in line, an epoch end's validation and
measurements slowed a run of short epochs, bench/between_chunks.py) unless MAX_OUT jobs
or MAX_OUT_BYTES of weights are out.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.events import Diverged, EpochEnd, Event, Insight
from ..core.verdict import Verdict
from ..insight.combos import ComboTable
from ..insight.measures import by_lag, lag_effects
from .executor import LATER, RUN, Executor
from .sampling import panel_samples

# A loss this large (nats) is divergence even while finite: the model gives the true class a
# probability below e^-50. A huge learning rate grows the loss to ~1e6 without any NaN.
DIVERGED_LOSS = 50.0
# Jobs out at once, and the weights they may hold, before a send waits for the oldest: the
# first validations wait for the evaluation's compile (~1 s), which 0.1-s epochs must not.
MAX_OUT, MAX_OUT_BYTES = 16, 256 << 20
# The share of the time a look mid-epoch may take (its evaluation, measurement and sample,
# in the helper beside training, on the same cores): looks are spaced out to keep within
# it (a char model in the app with its text panel on: 94% of headless, bench/app_speed.py).
LOOK_BUDGET = 0.05


def on_shadow(executor: Executor, run: Hashable, steps, weights: list[np.ndarray] | None,
              fn, *args: Any, priority: int = RUN) -> Future:
    """fn(*args) on the shadow model given these weights (None: as it is), in the helper
    thread, as a Future tagged with `run`. Without a shadow model (a distribution
    strategy) it runs at once, in the caller's thread."""
    if steps.shadow is None:
        done: Future = Future()
        try:
            done.set_result(steps.shadow_job(weights, fn, *args))
        except Exception as exc:  # raised where it is waited for, as a helper's would be
            done.set_exception(exc)
        return done
    return executor.submit(steps.shadow_job, weights, fn, *args, run=run, priority=priority)


def compile_beside(executor: Executor, run: Hashable, steps, vxw, look_xw, prime) -> None:
    """A fresh program's compile takes seconds, mostly on one core: the helper compiles
    the evaluation and traces the sampler beside it, on the other, instead of beside the
    first chunks (where a char model's trained at a quarter of its speed)."""
    on_shadow(executor, run, steps, None, steps.compile_evaluation, vxw, look_xw,
              priority=LATER)
    if prime:
        on_shadow(executor, run, steps, None, panel_samples, steps, prime, 0, priority=LATER)


def compile_program(executor: Executor, run: Hashable, steps, beside: tuple | None,
                    deterministic: bool) -> bool:
    """Make `steps`' training program (once: a kept program has it). A fresh one's
    evaluation and sampler compile in the helper beside it (compile_beside), but not for a
    deterministic run (beside it, two same-seed runs' first losses once differed); XLA's
    compile is then made by the run's second call, in the trainer's thread, the two side
    by side on two cores (sent to the helper, it queued behind the evaluation's: the fast
    preset reached its floors in 3.5 s against 3.0, bench/time_to_floor.py). Returns
    whether the compiles beside went out."""
    sent = (steps.traced() is None and steps.shadow is not None and beside is not None
            and not deterministic)
    if sent:
        compile_beside(executor, run, steps, *beside)
    steps.compile(None if sent else executor)
    return sent


@dataclass(eq=False)
class Pending:
    """A job out: an epoch's end (its validation) or a look mid-epoch (epoch None)."""

    step: int
    future: Future  # -> (validation loss, Predictions, an Insight or None)
    nbytes: int  # the weights it was given
    epoch: int | None = None  # None: a look mid-epoch
    train_loss: float = math.nan


class ShadowJobs:
    """Sends a training's shadow jobs to the helper and lands their events through `emit`.
    `verdict(loss, insight)` reads a validation loss with the latest measurement (an epoch
    end not measured itself, to keep within the budget, is read with the last one that
    was, which its verdict dates by its step); `run` tags the jobs (a divergence
    cancels them). Without a shadow model (a distribution strategy) each job runs at once
    in the trainer's thread."""

    def __init__(self, steps, executor: Executor, run: Hashable,
                 emit: Callable[[Event | None], Any],
                 verdict: Callable[[float, Insight | None], Verdict]):
        self.steps, self.executor, self.run = steps, executor, run
        self.emit, self.verdict = emit, verdict
        self.out: deque[Pending] = deque()
        self.val_loss = math.nan  # the last epoch end's, once landed
        self.epochs_done = 0  # epoch ends landed (a resumed run starts from its checkpoint's)
        self.seen: Insight | None = None  # the latest measurement landed
        self.look_seconds = 0.0  # what the latest look took in the helper (written there)
        self.looks = 0  # looks done (the first also traces the sampler: not timed)

    def look_every(self, at_least: float) -> float:
        """Seconds from one look to the next: `at_least`, or longer when the last look took
        more than LOOK_BUDGET of that."""
        return max(at_least, self.look_seconds / LOOK_BUDGET)

    def submit(self, weights: list[np.ndarray] | None, fn, *args: Any,
               priority: int = RUN) -> Future:
        """fn(*args) on the shadow model given these weights, in the helper (on_shadow)."""
        return on_shadow(self.executor, self.run, self.steps, weights, fn, *args,
                         priority=priority)

    def send(self, weights: list[np.ndarray], step: int, xs, ys, combos: ComboTable,
             measure: Callable[[int, tuple[int, int]], Any] | None, epoch: int | None = None,
             train_loss: float = math.nan) -> Event | None:
        """A job on the weights of `step`: the evaluation over these windows, its
        Predictions, and `measure(step, window)` if given. Past MAX_OUT jobs or
        MAX_OUT_BYTES held, the oldest is landed here. Returns Diverged, or None."""
        steps = self.steps

        def job():
            t0 = time.perf_counter()
            loss, probs, top = steps.shadow_evaluate_top(xs, ys)
            seen = measure(step, combos.window) if measure is not None else None
            samples = panel_samples(steps, combos.prime, step) if combos.sampled else None
            event = combos.event(step, probs, ys, top, samples)
            if epoch is None:
                self.looks += 1
                if self.looks > 1:
                    self.look_seconds = time.perf_counter() - t0
            return loss, event, seen

        held = sum(w.nbytes for w in weights)
        self.out.append(Pending(step, self.submit(weights, job), held, epoch, train_loss))
        while len(self.out) > MAX_OUT or sum(p.nbytes for p in self.out) > MAX_OUT_BYTES:
            ended = self._land_one()
            if ended is not None:
                return ended
        return None

    def look_out(self) -> bool:
        """A look mid-epoch is out (one at a time)."""
        return any(p.epoch is None for p in self.out)

    def land(self, wait: bool = True, through_look: bool = False) -> Event | None:
        """Emit the events of the jobs out, oldest first: all of them (waiting), only those
        done (`wait` False), or those up to the last look (`through_look`). Returns
        Diverged, or None."""
        while self.out and (wait or self.out[0].future.done()):
            if through_look and not self.look_out():
                break
            ended = self._land_one()
            if ended is not None:
                return ended
        return None

    def drop_looks(self) -> None:
        """A stop: the looks not started yet are cancelled (nobody waits for them); the
        epoch ends out still land, so the metrics keep every epoch's validation."""
        self.out = deque(p for p in self.out if p.epoch is not None or not p.future.cancel())

    def _land_one(self) -> Event | None:
        p = self.out.popleft()
        loss, predictions, seen = p.future.result()
        self.seen = seen or self.seen
        if p.epoch is not None:
            self.val_loss = loss
            self.epochs_done += 1
            self.emit(EpochEnd(p.epoch, p.step, p.train_loss, loss, self.verdict(loss, self.seen),
                               lag_effects(seen.effects if seen else None),
                               by_lag(seen.memory if seen else None)))
            if not math.isfinite(loss) or loss > DIVERGED_LOSS:
                self.abandon()  # what comes after it is of a diverged model
                return self.emit(Diverged(p.step, loss))
        self.emit(predictions)
        self.emit(seen)
        return None

    def abandon(self) -> None:
        """Cancel every job of the run not started yet, and forget those out."""
        self.executor.cancel(self.run)
        self.out.clear()
