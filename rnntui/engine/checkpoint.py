"""Checkpoints: weights, optimizer slots, the carried state, the step and the data position.

One .npz file, written to a temporary name and renamed into place, so a process killed
mid-write leaves the last good checkpoint readable. numpy only; restoring into a model
takes its Keras objects but imports nothing itself.
"""

from __future__ import annotations

import json
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.files import BadFile, failed_write, write_atomic_with

FORMAT = "rnntui-checkpoint-1"


# A LossScaleOptimizer's own variables, before the wrapped optimizer's, in the checkpoints
# written before the split (Keras 3.12-3.15): iteration, learning_rate, step_counter,
# dynamic_scale. The loss scale is the last two.
LEGACY_SCALER_VARS = 4


def random_states(model) -> list:
    """The model's random number generators' states, in layer order: its dropout layers'
    (model.build_model), which are no weights but decide the masks still to be drawn, so a
    resumed run draws the masks the uninterrupted run would have."""
    found = (getattr(layer, "seed_generator", None) for layer in model.layers)
    return [g.state for g in found if g is not None]


def inner_optimizer(optimizer):
    """The optimizer that holds the slots: the one a LossScaleOptimizer wraps, or itself."""
    return getattr(optimizer, "inner_optimizer", optimizer)


@dataclass
class Checkpoint:
    """Kept apart so a run resumes across precisions: `optimizer` holds the slots of the
    optimizer proper (a LossScaleOptimizer's inner one), the same arrays in float32 and
    mixed; `loss_scale` holds a mixed run's scaler (its step counter and scale). A float32
    run resumed in mixed starts the scale afresh; a mixed run resumed in float32 drops it.
    """

    epoch: int  # the epoch to continue in
    batch: int  # the batch of that epoch to continue at (0 at an epoch boundary)
    step: int  # batches trained so far
    weights: list[np.ndarray] = field(default_factory=list)
    optimizer: list[np.ndarray] = field(default_factory=list)
    state: list[np.ndarray] = field(default_factory=list)  # the carried state at `batch`
    learning_rate: float = 0.0
    loss_scale: list[np.ndarray] = field(default_factory=list)  # empty for float32
    legacy: bool = False  # written before the split: a mixed run's `optimizer` is the
    # LossScaleOptimizer's whole list (see LEGACY_SCALER_VARS)
    random: list[np.ndarray] = field(default_factory=list)  # random_states; empty before
    # dropout, and for a model without it

    @classmethod
    def capture(cls, epoch, batch, step, model, optimizer, state) -> Checkpoint:
        inner = inner_optimizer(optimizer)
        scale = ([optimizer.step_counter, optimizer.dynamic_scale] if inner is not optimizer
                 else [])
        return cls(epoch, batch, step, [np.asarray(w) for w in model.get_weights()],
                   [np.asarray(v.numpy()) for v in inner.variables],
                   [np.asarray(s) for s in state], float(optimizer.learning_rate.numpy()),
                   [np.asarray(v.numpy()) for v in scale],
                   random=[np.asarray(v.numpy()) for v in random_states(model)])

    def restore(self, path: Path, model, optimizer) -> None:
        """Load into a built model and optimizer; BadFile if the shapes do not fit."""
        wanted = [tuple(w.shape) for w in model.get_weights()]
        got = [tuple(w.shape) for w in self.weights]
        if wanted != got:
            raise BadFile(path, f"its weights {got} do not fit this model {wanted}")
        inner = inner_optimizer(optimizer)
        slots, scale = self._slots_for([tuple(v.shape) for v in inner.variables])
        if slots is None:
            raise BadFile(path, "its optimizer state does not fit this optimizer")
        model.set_weights(self.weights)
        for var, value in zip(inner.variables, slots, strict=True):
            var.assign(value)
        if scale and inner is not optimizer:
            optimizer.step_counter.assign(scale[0])
            optimizer.dynamic_scale.assign(scale[1])
        generators = random_states(model)
        if len(generators) == len(self.random):  # none kept: the masks start afresh
            for var, value in zip(generators, self.random, strict=True):
                var.assign(value)

    def _slots_for(self, shapes: list[tuple]) -> tuple[list | None, list]:
        """(the slots for an optimizer of these shapes or None, the loss scale), reading a
        legacy mixed checkpoint's scaler variables apart from its slots."""
        if [tuple(a.shape) for a in self.optimizer] == shapes:
            return self.optimizer, self.loss_scale
        tail = self.optimizer[LEGACY_SCALER_VARS:]
        if self.legacy and [tuple(a.shape) for a in tail] == shapes:
            return tail, self.optimizer[2:LEGACY_SCALER_VARS]
        return None, []


def save(path: str | Path, ckpt: Checkpoint) -> None:
    """Write atomically: a temporary file in the same folder, fsync, rename."""
    path = Path(path)
    meta = {"format": FORMAT, "epoch": ckpt.epoch, "batch": ckpt.batch, "step": ckpt.step,
            "learning_rate": ckpt.learning_rate, "weights": len(ckpt.weights),
            "optimizer": len(ckpt.optimizer), "state": len(ckpt.state),
            "loss_scale": len(ckpt.loss_scale), "random": len(ckpt.random)}
    arrays = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    for prefix, items in (("w", ckpt.weights), ("o", ckpt.optimizer), ("s", ckpt.state),
                          ("l", ckpt.loss_scale), ("r", ckpt.random)):
        arrays.update({f"{prefix}{i}": a for i, a in enumerate(items)})
    # A name of its own, synced, renamed into place: WriteFailed naming the file if the
    # disk is full or the folder read-only, and no temporary left behind.
    write_atomic_with(path, lambda f: np.savez(f, **arrays))


def load(path: str | Path) -> Checkpoint:
    """Read a checkpoint; anything wrong is a BadFile naming it."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
                raise BadFile(path, f"is not an rnntui checkpoint ({got!r})")
            legacy = "loss_scale" not in meta  # written before the split
            counts = {**meta, "loss_scale": meta.get("loss_scale", 0),
                      "random": meta.get("random", 0)}
            items = {p: [z[f"{p}{i}"] for i in range(int(counts[n]))]
                     for p, n in (("w", "weights"), ("o", "optimizer"), ("s", "state"),
                                  ("l", "loss_scale"), ("r", "random"))}
            return Checkpoint(int(meta["epoch"]), int(meta["batch"]), int(meta["step"]),
                              items["w"], items["o"], items["s"],
                              float(meta.get("learning_rate", 0.0)), items["l"], legacy,
                              items["r"])
    except BadFile:
        raise
    except FileNotFoundError:
        raise BadFile(path, "no such checkpoint") from None
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError) as err:
        raise BadFile(path, f"is corrupt or not a checkpoint ({type(err).__name__})") from None


class Writer:
    """Writes checkpoints in a thread, so training goes on while one is written and synced
    (an fsync takes tens of milliseconds, at every epoch end). Checkpoints are written in
    order; one waiting when a newer comes is skipped (the newer holds everything it did).

    A write that failed is raised, as WriteFailed naming the file and the last good
    checkpoint, at the next `put` (after that put's checkpoint is queued: the stop
    checkpoint is still tried) or at `flush`, in the trainer's thread. `close` waits at
    most `timeout` s and never abandons a file half written: the thread is left to end."""

    def __init__(self, path: str | Path, writing: threading.Event | None = None):
        """`writing`: set while a file is being written (a quitting app waits on it)."""
        self.path = Path(path)
        self.writing = writing or threading.Event()
        self._cond = threading.Condition()
        self._waiting: Checkpoint | None = None
        self._busy = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self.last_good: Checkpoint | None = None  # the newest on disk (weights dropped)
        self.failed = False  # a write failed at least once (the run's end says so)

    def put(self, ckpt: Checkpoint) -> None:
        with self._cond:
            self._waiting = ckpt
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="rnntui-checkpoint",
                                                daemon=True)
                self._thread.start()
            self._cond.notify_all()
            self._raise()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every checkpoint put is on disk; raises a write's error. False if
        `timeout` s passed first (still writing)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._waiting is None and not self._busy,
                                       timeout):
                return False
            self._raise()
        return True

    def close(self, timeout: float | None = None) -> bool:
        """Flush, then end the thread (errors are left to `flush`). False if the write in
        hand outlasted `timeout` s: its thread goes on to finish the file."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._waiting is None and not self._busy,
                                       timeout):
                return False
            thread, self._thread = self._thread, None
            self._cond.notify_all()
        if thread is not None:
            thread.join()
        return True

    def describe_last_good(self) -> str:
        """Where the run can go on from, for a failure's one line."""
        ck = self.last_good
        if ck is None:
            if self.path.exists():
                return f"the checkpoint on disk ({self.path}) is the one from before"
            return "no checkpoint was saved"
        return f"the last good checkpoint is {self.path} at step {ck.step:,}"

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _loop(self) -> None:
        me = threading.current_thread()
        while True:
            with self._cond:
                while self._waiting is None and self._thread is me:
                    self._cond.wait()
                if self._waiting is None:  # closed
                    return
                ckpt, self._waiting, self._busy = self._waiting, None, True
            self.writing.set()
            try:
                save(self.path, ckpt)
                good = Checkpoint(ckpt.epoch, ckpt.batch, ckpt.step)
                with self._cond:
                    self.last_good = good
            except OSError as err:  # reported in the trainer's thread
                with self._cond:
                    self.failed = True
                    self._error = failed_write(self.path, err)
            except BaseException as err:  # noqa: BLE001 (reported in the trainer's thread)
                with self._cond:
                    self.failed = True
                    self._error = err
            finally:
                self.writing.clear()
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
