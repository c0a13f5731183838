"""When the trainer measures what the model learned, so that it costs little
(bench/insight_cost.py): within a budget of the training time, and always at the last
epoch end."""

from __future__ import annotations

import threading
import time

import numpy as np

from ..core.events import Insight
from .probe import Probe

# Measuring may take at most this share of the training time so far (the last epoch end's
# measurement, the run's answer, is always taken): training with insight on stays >= 95% of
# the speed with it off (bench/insight_cost.py).
BUDGET = 0.02
# Gradient reach costs about three forwards and changes slowly: measured at most this often.
REACH_EVERY_S = 5.0


def affordable(spent: float, cost: float, elapsed: float) -> bool:
    """Whether spending `cost` more seconds measuring, after `spent` in `elapsed` seconds of
    training, stays within BUDGET of it."""
    return spent + cost <= BUDGET * elapsed


class Insights:
    """When the trainer measures, so that it costs little (bench/insight_cost.py): while
    measuring has taken at most BUDGET of the training time so far, with a mid-epoch
    predictions event or at an epoch end; and always at the last epoch end (the run's
    answer). Gradient reach costs the most (a backward pass) and changes slowly: measured
    first, then at most every REACH_EVERY_S within the budget (the probe's first reach runs
    eagerly, the next on its graph: Probe.reach); in between the latest is repeated
    (Insight.reach_step). With no probe (insight off) nothing is measured: None."""

    def __init__(self, probe: Probe | None):
        """`probe`: the model's measurements, or None (insight off). Every method but the
        two `_due` checks runs in the helper thread."""
        self.probe = probe
        self.latest: Insight | None = None
        self.spent = 0.0
        self.start = self.reach_at = time.perf_counter()
        self.reach: tuple[int, list[float]] | None = None  # (step, values)
        self._ready = threading.Event()  # set by prepare, read by the trainer
        self._error: BaseException | None = None
        # Seconds of the latest of each measurement (written in the helper thread only):
        # the probe's own, so a kept probe starts with what it cost last time.
        self.cost = probe.cost if probe is not None else {}
        if "measure" in self.cost:
            self._ready.set()  # a kept probe, traced and timed by the run before

    def prepare(self) -> None:
        """Make the probe's forward program ready (tracing, and the graph optimisation of
        a first call: a fraction of a second of CPU, more for a big state over a long
        window) and learn what a measurement costs. Not the gradient reach's program: its
        first measurement runs eagerly, and its graph is made for the next (Probe.reach).
        A job for the engine's helper thread, which alone drives the probe: the trainer
        sends it after its first chunk, below its other jobs, and a measurement that comes
        first does it itself. Measurements skip until it is done; only the last epoch
        end's waits for it. A probe kept from the last run is ready, its costs known:
        nothing to do (its warm-up calls would cost a short run more than its budget)."""
        if self.probe is None or self._ready.is_set():
            return
        try:
            if "measure" not in self.cost:
                self.probe.compile()
                self._timed("measure", self.probe.measure, 0, (0, 1), (0, []))
        except BaseException as exc:  # raised again by every measurement that needs it
            self.cost.clear()
            self._error = exc
        finally:
            self._ready.set()

    def begin(self) -> None:
        """Training starts now: the budget counts from here."""
        self.start = self.reach_at = time.perf_counter()

    def ready(self) -> bool:
        """The probe's programs are ready (`prepare` has run), or there is no probe."""
        return self.probe is None or self._ready.is_set()

    def _prepared(self) -> None:
        """`prepare` now if it has not run (in the helper thread, as every measurement);
        its error, if it failed, is raised."""
        self.prepare()
        if self._error is not None:
            raise self._error

    def _timed(self, what: str, fn, *args):
        t0 = time.perf_counter()
        out = fn(*args)
        self.cost[what] = time.perf_counter() - t0
        return out

    def _affordable(self) -> bool:
        """Whether measuring now (and the gradient reach too, if it is due) keeps the time
        spent within BUDGET of the training time so far."""
        get = self.cost.get  # none known after a failed warm-up: take raises its error
        cost = get("measure", 0.0) + (get("reach", 0.0) if self.reach is None else 0.0)
        return affordable(self.spent, cost, time.perf_counter() - self.start)

    def take(self, step: int, window: tuple[int, int]) -> Insight:
        """Measure the probe's model now (the trainer runs it on the shadow model, with the
        weights of `step`, in the helper thread)."""
        self._prepared()
        t0 = time.perf_counter()
        if self.reach is None or (t0 - self.reach_at >= REACH_EVERY_S and affordable(
                self.spent, self.cost.get("measure", 0.0) + self.cost.get("reach", 0.0),
                t0 - self.start)):
            self.reach, self.reach_at = (step, self._timed("reach", self.probe.reach)), t0
        self.latest = self._timed("measure", self.probe.measure, step, window, self.reach)
        self.spent += time.perf_counter() - t0
        return self.latest

    def tick_due(self) -> bool:
        """With a mid-epoch predictions event: whether to measure (`take`) now, within the
        budget (and once the programs are ready)."""
        return self.probe is not None and self._ready.is_set() and self._affordable()

    def end_due(self, loss: float, last: bool) -> bool:
        """At an epoch end: whether to measure now; not when off, over budget (short epochs
        would spend more than BUDGET on it) or the model has diverged (its training `loss`). Always
        at the `last`."""
        if self.probe is None or not np.isfinite(loss):
            return False
        return last or (self._ready.is_set() and self._affordable())

    def final(self, step: int) -> Insight | None:
        """What the model at `step` learned: the last measurement when it was of this step
        (the last epoch end's always is), else its effects measured now (a stop mid-epoch).
        None with no probe."""
        if self.probe is None:
            return None
        if self.latest is not None and self.latest.step == step:
            return self.latest
        self._prepared()
        effects, se = self.probe.effects()
        p = self.probe
        return Insight(step, effects, p.deltas, [], p.share, effects_se=se)
