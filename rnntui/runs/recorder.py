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

A write that fails (a full disk, a read-only folder) raises WriteFailed naming the file,
which ends the training as Failed; a metrics line is written whole or cut back, never
torn; once one write failed, the recorder writes nothing more but the live record's
"failed", where it can.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from pathlib import Path

from ..core.events import EpochEnd, Event, Insight, Predictions, Progress, Started
from ..core.files import PRIVATE_DIR, WriteFailed, failed_write, open_private, write_atomic
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
        try:
            self._f = open_private(run / METRICS)
            self._size = os.fstat(self._f.fileno()).st_size
        except OSError as err:
            raise failed_write(run / METRICS, err) from None
        self.broken: WriteFailed | None = None  # the write that failed, if one did
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
        if self.broken is not None:  # the training is ending with the failure
            if event.kind in ("finished", "diverged", "failed"):
                self.close()
            return
        try:
            self._record(event)
        except OSError as err:
            self.broken = failed_write(getattr(err, "filename", None) or self.run, err)
            if event.kind == "failed":  # a failure (a checkpoint the full disk refused)
                self.close()  # whose own line will not go: it stands, said, not recorded
                return
            raise self.broken from None

    def paused(self) -> None:
        """The trainer waits in a pause: the live record says so (runs.live)."""
        if self.broken is None:
            self.heart.paused()

    def _record(self, event: Event) -> None:
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
        """One metrics line, whole or not at all (a short write is cut back)."""
        d["wall_s"] = round(time.perf_counter() - self._t0, 3)
        data = (dumps(d) + "\n").encode("utf-8")
        fd = self._f.fileno()
        try:
            done = 0
            while done < len(data):
                done += os.write(fd, data[done:])
        except OSError as err:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, self._size)
            raise failed_write(self.run / METRICS, err) from None
        self._size += len(data)

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
            write_atomic(self.run / LOOK, dumps(self._look) + "\n")  # WriteFailed names it

    def _open_tensorboard(self) -> None:
        try:
            import tensorflow as tf  # loaded already: the trainer imported it

            (self.run / TB).mkdir(mode=PRIVATE_DIR, exist_ok=True)
            os.chmod(self.run / TB, PRIVATE_DIR)  # (TensorFlow would make it as the umask says)
            self._tb = tf.summary.create_file_writer(str(self.run / TB))
        except Exception:  # TensorBoard files are a convenience; never fail a run for them
            self._tb = None

    def _scalars(self, step: int, train: float | None = None, val: float | None = None,
                 floors: bool = False) -> None:
        if self._tb is None:
            return
        import tensorflow as tf

        try:
            with self._tb.as_default(step=step):
                if train is not None and math.isfinite(train):
                    _scalar(tf, "loss/train", train)
                if val is not None and math.isfinite(val):
                    _scalar(tf, "loss/val", val)
                if floors:  # one point per epoch draws each floor as a flat line
                    for f in self._floors:
                        _scalar(tf, f"floor/{f.name}", f.loss)
                    self._tb.flush()  # (a full disk shows at a flush, not at a scalar)
        except tf.errors.OpError as err:
            self._tb = None
            raise _tb_failed(self.run / TB, err) from None

    def close(self) -> None:
        """The session is over (its last event, or an error that ended it without one).
        Never raises: what cannot be written now is left (the failure was said)."""
        if not self._ended:  # no ending event came: the training broke off
            self._ended = True
            with contextlib.suppress(OSError):
                self.heart.end("failed")
        if self.broken is None:
            with contextlib.suppress(OSError):
                self._flush_held()
                if self._look:  # the last look, whatever its time
                    write_atomic(self.run / LOOK, dumps(self._look) + "\n")
        if not self._f.closed:
            with contextlib.suppress(OSError):
                self._f.close()
        if self._tb is not None:
            tb, self._tb = self._tb, None
            with contextlib.suppress(Exception):  # TensorFlow's own errors: said already
                tb.flush()
                tb.close()


def _tb_failed(path: Path, err) -> WriteFailed:
    """TensorFlow's error writing the TensorBoard events, as one line naming the folder."""
    import errno

    text = str(getattr(err, "message", err)).splitlines()[0] if str(err) else "error"
    code = errno.ENOSPC if "space" in text.lower() else errno.EIO
    return WriteFailed(path, OSError(code, text))


def _scalar(tf, tag: str, value: float) -> None:
    """What tf.summary.scalar writes (a float32 scalar, tagged for TensorBoard's scalars
    plugin), without importing the tensorboard package: its import took 0.5 s of the
    first loss (bench/first_loss.py)."""
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata(data_class=summary_pb2.DATA_CLASS_SCALAR)
    metadata.plugin_data.plugin_name = "scalars"
    tf.summary.write(tag, tf.constant(value, tf.float32), metadata=metadata)
