"""Training over several replicas with tf.distribute: mirrored (the local GPUs, or logical CPU
devices for testing) and multiworker (the hosts in TF_CONFIG).

How it keeps a single device's results:
- The batch's rows split evenly: replica r takes rows r*B/R .. (r+1)*B/R of every batch
  and carries the state of those rows only, so the carried state means what it does on one
  device.
- Each replica's loss is its rows' mean divided by R; summed over replicas it is the whole
  batch's mean. The gradients are summed over replicas once, before the norm and the
  clipping, so both see the whole batch's gradient; the optimizer then applies that sum as
  given (model.build_optimizer(summed=True)) instead of summing over replicas again.

Why not the one-device program: tf.distribute refuses an optimizer update (a sync point)
inside a tf.while_loop, and XLA does not compile a program over several devices. So each
batch is one call of a graph function. Unrolling several batches into one traced call
was measured slower (its trace alone took longer than the calls it saved), so a trainer
chunk of up to plan.DIST_CHUNK batches is a Python loop of calls, short enough that stop
and pause respond within about a chunk.
"""

from __future__ import annotations

import json
import os

import numpy as np

from ..config import Config, ConfigError, split_error
from .steps import Steps, applied_norm, make_update
from .tfload import logical_gpu, split_cpu


def is_chief() -> bool:
    """Whether this process is the multiworker chief (worker 0 when there is no chief)."""
    try:
        cfg = json.loads(os.environ.get("TF_CONFIG", "") or "{}")
    except ValueError:
        return True
    task = cfg.get("task", {})
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    has_chief = "chief" in cfg.get("cluster", {})
    return kind == "chief" or (not has_chief and kind == "worker" and index == 0)


def make_strategy(tf, config: Config):
    """(strategy, device name to show, on a GPU, notice). ConfigError when it cannot be had.
    A GPU asked for (--device gpu) and not there trains on CPU devices with a notice."""
    t = config.train
    if t.strategy == "multiworker":
        if not os.environ.get("TF_CONFIG"):
            raise ConfigError("strategy", "multiworker needs TF_CONFIG set (the cluster and"
                              " this task); see the README")
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        gpus = tf.config.list_logical_devices("GPU")
        where = f"{len(gpus)} GPU{'s' if len(gpus) > 1 else ''}" if gpus else "CPU"
        name = f"multiworker {strategy.num_replicas_in_sync} replicas ({where} per worker)"
        _check_split(t.batch_size, strategy.num_replicas_in_sync)
        return strategy, name, bool(gpus), ""
    # Physical, not logical: listing logical devices would start the runtime, after which
    # the CPU can no longer be split.
    gpus = [] if t.device == "cpu" else tf.config.list_physical_devices("GPU")
    first = int(t.device.partition(":")[2] or 0)
    notice = ""
    if first < len(gpus):
        n = t.replicas or len(gpus) - first
        if first + n > len(gpus):
            have = f"{len(gpus) - first} GPUs visible" + (f" from gpu:{first}" if first else "")
            raise ConfigError("replicas", f"{n} asked for, {have}")
        devices = [logical_gpu(tf, i) for i in range(first, first + n)]
        span = f"gpu:{first}" + (f"-{first + n - 1}" if n > 1 else "")
        name, kind = f"mirrored {n}×GPU ({span})", "GPU"
    else:
        n = t.replicas or 1
        if n > 1:
            split_cpu(tf, n)
        have = len(tf.config.list_logical_devices("CPU"))
        if have < n:
            raise ConfigError("replicas", f"{n} CPU devices asked for; TensorFlow started in"
                              f" this process with {have} (restart to change it)")
        devices, kind = [f"/CPU:{i}" for i in range(n)], "CPU"
        name = f"mirrored {n}×CPU"
        if t.device.startswith("gpu"):
            seen = f"{len(gpus)} GPU{'s' if len(gpus) > 1 else ''}" if gpus else "no GPU"
            notice = f"device: {t.device} asked for, {seen} visible; mirrored over CPU devices"
    _check_split(t.batch_size, n)
    # The default all-reduce (NCCL) is for GPUs; CPU devices reduce by copying to one.
    ops = None if kind == "GPU" else tf.distribute.ReductionToOneDevice()
    strategy = tf.distribute.MirroredStrategy(devices, cross_device_ops=ops)
    return strategy, name, kind == "GPU", notice


def _check_split(batch_size: int, replicas: int) -> None:
    if batch_size % replicas:
        raise split_error(batch_size, replicas)


class DistSteps(Steps):
    """Steps over a tf.distribute strategy. The state is a list of per-replica values.

    Evaluation runs the one-device program on the first replica's device over the whole
    batch, with the mirrored weights: every replica holds the same weights, so it is the
    same result. (Without that device scope it would land on GPU:0 whatever was chosen.)
    """

    overlaps = False  # no shadow model: its variables would belong to the strategy

    def __init__(self, tf, strategy, model, optimizer, config: Config, chunk: int,
                 mixed: bool = False):
        super().__init__(tf, model, optimizer, config, chunk, jit=False, mixed=mixed)
        self.strategy = strategy
        self.replicas = r = strategy.num_replicas_in_sync
        self.rows = self.batch // r
        self.eval_device = strategy.extended.worker_devices[0]
        variables = model.trainable_variables
        forward = self.forward
        sum_op = tf.distribute.ReduceOp.SUM

        from .model import sums_once  # (keras: not at module load)

        share = 1.0 if sums_once(optimizer) else 1.0 / r

        def reduce(grads):
            ctx = tf.distribute.get_replica_context()
            return ctx.all_reduce(sum_op, grads), share

        update = make_update(tf, optimizer, variables, float(config.train.clip_norm), mixed,
                             reduce)

        def replica_step(xs, ys, i, state):
            with tf.GradientTape() as tape:
                loss, _, state = forward(xs[i], ys[i], state, True)
                part = loss / r  # summed over replicas: the whole batch's mean
            norm = update(tape, part)
            return tf.distribute.get_replica_context().all_reduce(sum_op, part), norm, state

        def train_step(xs, ys, i, state):
            loss, norm, state = strategy.run(replica_step, (xs, ys, i, state))
            first = strategy.experimental_local_results
            return first(loss)[0], first(norm)[0], state

        self._dist_train = tf.function(train_step, autograph=False)  # as Steps'

    def _split(self, arrays: np.ndarray, axis: int):
        """A per-replica value: replica r gets rows r*rows .. (r+1)*rows along `axis`."""
        rows, tf = self.rows, self.tf

        def part(ctx):
            r = ctx.replica_id_in_sync_group
            index = [slice(None)] * arrays.ndim
            index[axis] = slice(r * rows, (r + 1) * rows)
            return tf.constant(arrays[tuple(index)])

        return self.strategy.experimental_distribute_values_from_function(part)

    def zero_state(self) -> list:
        zeros = np.zeros(self.shape, np.float32)
        return [self._split(zeros, 0) for _ in range(self.n_states)]

    def export_state(self, state) -> list[np.ndarray]:
        return [self.strategy.gather(s, axis=0).numpy() for s in state]

    def import_state(self, arrays) -> list:
        return [self._split(np.asarray(a, np.float32), 0) for a in arrays]

    def train(self, xs: np.ndarray, ys: np.ndarray, state: list, at: int | None = None):
        """A graph call per batch (see the module's docstring); the chunk is padded to K and
        handed to the replicas once, each call picking its batch by index."""
        xd, yd = self._split(self._pad(xs), 1), self._split(self._pad(ys), 1)
        losses, norms = [], []
        for i in range(len(xs)):
            loss, norm, state = self._dist_train(xd, yd, self.tf.constant(i), state)
            losses.append(loss)
            norms.append(norm)
        losses = np.array([v.numpy() for v in losses], np.float32)
        norms = np.array([v.numpy() for v in norms], np.float32)
        return losses, applied_norm(norms, self.mixed) if len(norms) else 0.0, state

    def compile(self, helper=None) -> None:
        """Trace the training step now (it runs nothing), so the first chunk does not pay
        for it."""
        xs = self._split(np.zeros((self.k, self.batch, self.num_steps), np.uint8), 1)
        self._train_fn = self._dist_train.get_concrete_function(xs, xs, self.tf.constant(0),
                                                                self.zero_state())
