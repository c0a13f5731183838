"""Writes a run's metrics.jsonl and TensorBoard events from the engine's events."""

from __future__ import annotations

import math
import time
from pathlib import Path

from ..core.events import EpochEnd, Event, Insight, Predictions, Progress, Started
from .folders import METRICS, TB
from .report import dumps


class Recorder:
    """Writes a run's metrics.jsonl and TensorBoard events from the trainer's events: one
    JSON line per event (Started, Compiled, each chunk's Progress, EpochEnd, and how it
    ended), each with the wall time since the session began."""

    def __init__(self, run: Path):
        self.run = run
        self._f = open(run / METRICS, "a", encoding="utf-8")  # noqa: SIM115 (closed on finish)
        self._tb = None
        self._floors: list = []
        self._t0 = time.perf_counter()

    def on_event(self, event: Event) -> None:
        if isinstance(event, Started):
            self._floors = event.floors
            self._open_tensorboard()
            self._scalars(0, floors=True)
        if not isinstance(event, (Predictions, Insight)):  # every event the run's story needs
            d = event.to_json()
            d["wall_s"] = round(time.perf_counter() - self._t0, 3)
            self._f.write(dumps(d) + "\n")
            self._f.flush()
        if isinstance(event, Progress) and event.losses:
            self._scalars(event.step, train=sum(event.losses) / len(event.losses))
        elif isinstance(event, EpochEnd):
            self._scalars(event.step, val=event.val_loss, floors=True)
        if event.kind in ("finished", "diverged", "failed"):
            self.close()

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
        if not self._f.closed:
            self._f.close()
        if self._tb is not None:
            self._tb.flush()
            self._tb.close()
            self._tb = None
