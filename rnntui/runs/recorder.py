"""Writes a run's folder from the engine's events, so that anyone can follow it: the
metrics (metrics.jsonl), the latest look (look.json), the heartbeat (live.json) and the
TensorBoard events.

- metrics.jsonl: one JSON line per event (Started, Compiled, Progress, EpochEnd and how it
  ended), each with the wall time since the session began. Every step's loss is kept up
  to `keep_steps` (1M: ~20 bytes a step); past it, one line per AGG_STEPS steps (or per
  second) holds the first, least, greatest and last losses of its steps (`"span": n`):
  a 10M-step run stays tens of MB, and its curve draws the same at any zoom the chart has.
- look.json: the newest Predictions and Insight, rewritten whole at most once a second
  (they are large, and only the latest matters to a viewer).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from ..core.events import EpochEnd, Event, Insight, Predictions, Progress, Started
from ..core.files import write_atomic
from .folders import LOOK, METRICS, TB
from .live import Heartbeat
from .report import dumps

KEEP_STEPS = 1_000_000  # every step's loss kept up to here
AGG_STEPS = 1000  # past it, one line per this many steps ...
AGG_S = 1.0  # ... or per second, whichever comes first (a viewer lags at most this)
LOOK_S = 1.0  # look.json at most this often


class Recorder:
    """An event listener (the trainer knows no run folder)."""

    def __init__(self, run: Path, keep_steps: int | None = None):
        self.run = run
        self.keep_steps = KEEP_STEPS if keep_steps is None else keep_steps
        self._f = open(run / METRICS, "a", encoding="utf-8")  # noqa: SIM115 (closed on finish)
        self._tb = None
        self._floors: list = []
        self._t0 = time.perf_counter()
        self._held: list[Progress] = []  # past keep_steps, not written yet
        self._held_since = 0.0
        self._look: dict[str, dict] = {}
        self._look_at = 0.0
        self.heart = Heartbeat(run)
        self.heart.start()  # at once: a viewer knows who trains it before TensorFlow loads
        self._ended = False

    def on_event(self, event: Event) -> None:
        if isinstance(event, Started):
            self._floors = event.floors
            self._open_tensorboard()
            self._scalars(0, floors=True)
        if isinstance(event, Progress):
            self._progress(event)
        elif isinstance(event, (Predictions, Insight)):
            self._looked(event)
        else:
            self._flush_held()
            self._line(event.to_json())
        if isinstance(event, EpochEnd):
            self._scalars(event.step, val=event.val_loss, floors=True)
        if not isinstance(event, Progress):  # (a Progress beats in _progress)
            self.heart.beat(getattr(event, "step", self.heart.step))
        if event.kind in ("finished", "diverged", "failed"):
            stopped = getattr(event, "stopped", False)
            self.heart.end("stopped" if stopped else event.kind)
            self._ended = True
            self.close()

    def _line(self, d: dict) -> None:
        d["wall_s"] = round(time.perf_counter() - self._t0, 3)
        self._f.write(dumps(d) + "\n")
        self._f.flush()

    def _progress(self, e: Progress) -> None:
        self.heart.beat(e.step)
        if e.losses:
            self._scalars(e.step, train=sum(e.losses) / len(e.losses))
        if e.step <= self.keep_steps:
            self._line(e.to_json())
            return
        if not self._held:
            self._held_since = time.perf_counter()
        self._held.append(e)
        span = e.step - (self._held[0].step - len(self._held[0].losses))
        if span >= AGG_STEPS or time.perf_counter() - self._held_since >= AGG_S:
            self._flush_held()

    def _flush_held(self) -> None:
        """The steps held, as one aggregate line: first, least, greatest, last loss."""
        if not self._held:
            return
        held, self._held = self._held, []
        losses = [x for e in held for x in e.losses]
        finite = [x for x in losses if math.isfinite(x)] or losses
        last = held[-1]
        d = last.to_json()
        d.update(losses=[losses[0], min(finite), max(finite), losses[-1]], span=len(losses),
                 grad_norm=sum(e.grad_norm for e in held) / len(held))
        self._line(d)

    def _looked(self, event: Predictions | Insight) -> None:
        """The newest of each into look.json, at most every LOOK_S (and always an epoch
        end's, whose step the last EpochEnd line has)."""
        self._look[event.kind] = event.to_json()
        if time.perf_counter() - self._look_at >= LOOK_S:
            self._look_at = time.perf_counter()
            write_atomic(self.run / LOOK, dumps(self._look) + "\n")

    def _open_tensorboard(self) -> None:
        try:
            import tensorflow as tf  # loaded already: the trainer imported it

            self._tb = tf.summary.create_file_writer(str(self.run / TB))
        except Exception:  # TensorBoard files are a convenience; never fail a run for them
            self._tb = None

    def _scalars(self, step: int, train: float | None = None, val: float | None = None,
                 floors: bool = False) -> None:
        if self._tb is None:
            return
        import tensorflow as tf

        with self._tb.as_default(step=step):
            if train is not None and math.isfinite(train):
                tf.summary.scalar("loss/train", train)
            if val is not None and math.isfinite(val):
                tf.summary.scalar("loss/val", val)
            if floors:  # one point per epoch draws each floor as a flat line
                for f in self._floors:
                    tf.summary.scalar(f"floor/{f.name}", f.loss)

    def close(self) -> None:
        """The session is over (its last event, or an error that ended it without one)."""
        if not self._ended:  # no ending event came: the training broke off
            self._ended = True
            self.heart.end("failed")
        self._flush_held()
        if self._look:  # the last look, whatever its time
            write_atomic(self.run / LOOK, dumps(self._look) + "\n")
        if not self._f.closed:
            self._f.close()
        if self._tb is not None:
            self._tb.flush()
            self._tb.close()
            self._tb = None
