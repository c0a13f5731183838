"""The compiled chunk functions: K training batches, or the whole validation set, per call.

Why it is fast: one tf.function (XLA-compiled for long runs) runs a tf.while_loop over a
chunk of K batches, so Python and the dispatcher are paid once per chunk, not once per
batch (plain Keras `fit` pays them per batch). The chunk has one fixed shape, padded at the
end of an epoch, with the loop's trip count as an argument: XLA compiles once.

Kept apart from the trainer's bookkeeping so the TensorFlow program is in one place.
"""

from __future__ import annotations

import contextlib
import math
import time
from concurrent.futures import Future

import numpy as np

from ..config import Config, states_per_layer
from .forward import make_forward, stride_parts

# An XLA program's compile takes 1.5-4.5 s on 2 cores, the plain graph's trace a third to a
# fifth of it: a run's first call, cut to 1/FIRST_CUT of a chunk (at least a batch), trains
# on the plain graph, so the first loss waits for the trace alone (F5 the instant the app
# shows idle: 2.9 s, bench/first_loss.py --after 0); the next call makes XLA's program, or
# waits for the helper to finish making it (a warm sends it there: Steps.compile). A
# fixed count of steps, never "until the compile is done": the same config trains the
# same run, bit for bit, however fast the compile was, warm or not (the graph's last
# digits differ from XLA's). Two whole chunks on the graph cost the seed's short runs 6%
# (bench/between_chunks.py: 91%).
FIRST_CUT = 4


def first_steps(chunk: int) -> int:
    """The steps of a run's first call (and an XLA program's plain-graph steps)."""
    return max(1, chunk // FIRST_CUT)

COMPILES = "compile"  # the helper's tag for the XLA compiles: no run's stop waits for one


TOP = 3  # a symbol model's most likely next symbols, shown per position


def _shown_probability(tf, logits, y):
    """P(Y=1) for two classes; with more, the probability given to the true symbol."""
    p = tf.nn.softmax(logits)
    if logits.shape[-1] == 2:
        return p[..., 1]
    return tf.gather(p, tf.cast(y, tf.int32), batch_dims=2)


def make_update(tf, optimizer, variables, clip: float, mixed: bool, reduce=None):
    """(tape, loss) -> gradient norm, after one optimizer update.

    `mixed`: the loss is scaled before the gradient (optimizer is a LossScaleOptimizer, which
    unscales and skips overflowing steps); the norm is reported and clipped unscaled, and is
    not finite exactly when the step was skipped (see applied_norm).
    `reduce`: sums gradients over replicas (tf.distribute), so the norm and the clipping see
    the whole batch's gradient, as one device would; it returns the share of that sum to
    hand the optimizer: 1 when the optimizer applies it as given (model.sums_once), 1/R
    when it sums over replicas again itself.
    """

    def update(tape, loss):
        # Scaling the loss is scaling the gradient that backprop starts from.
        start = optimizer.scale_loss(tf.ones_like(loss)) if mixed else None
        grads = tape.gradient(loss, variables, output_gradients=start)
        if reduce is not None:
            grads, share = reduce(grads)
        norm = tf.linalg.global_norm(grads)
        if mixed:
            norm = norm / optimizer.dynamic_scale
        if clip > 0:
            factor = tf.minimum(1.0, clip / norm)
            grads = [g * factor for g in grads]
        if reduce is not None and share != 1.0:
            grads = [g * share for g in grads]
        optimizer.apply(grads, variables)
        return norm

    return update


def _done() -> Future:
    done: Future = Future()
    done.set_result(None)
    return done


def applied_norm(norms: np.ndarray, mixed: bool) -> float:
    """The mean gradient norm of a chunk's steps that were applied. Under mixed precision
    the loss scaler skips a step whose gradient overflowed (its norm is inf): those are left
    out, and a chunk with none applied reports nan (no update: the chart leaves a gap).
    In float32 every step is applied, so an inf stays visible there."""
    if mixed:
        norms = norms[np.isfinite(norms)]
    return float(norms.mean()) if len(norms) else math.nan


class Steps:
    """Compiled training and evaluation over windows of shape (batches, batch_size, num_steps).

    The state is a list of (batch_size, state_size) tensors, carried between calls by the
    caller. With carry_state off it is reset to zeros after every batch, in both.
    """

    overlaps = True  # evaluates beside training, on a shadow model (see on_shadow)

    def __init__(self, tf, model, optimizer, config: Config, chunk: int, jit: bool = True,
                 mixed: bool = False, graph_first: bool = True):
        self.tf, self.config = tf, config
        self.k = chunk
        t, m = config.train, config.model
        self.batch, self.num_steps = t.batch_size, t.num_steps
        self.shape = (t.batch_size, m.state_size)
        self.n_states = m.num_layers * states_per_layer(m.cell)
        self.mixed = mixed
        self.eval_device: str | None = None  # DistSteps: the first replica's device
        variables = model.trainable_variables
        optimizer.build(variables)
        self.forward = forward = make_forward(tf, model, t.carry_state,
                                              stride_parts(model, config, mixed))
        update = make_update(tf, optimizer, variables, float(t.clip_norm), mixed)
        self._train_fn = None  # the traced training program, once compiled

        def train_chunk(xs, ys, n, state):
            def body(i, state, losses, norms):
                with tf.GradientTape() as tape:
                    loss, _, new = forward(xs[i], ys[i], state, True)
                norm = update(tape, loss)
                return i + 1, new, losses.write(i, loss), norms.write(i, norm)

            losses = tf.TensorArray(tf.float32, size=self.k)
            norms = tf.TensorArray(tf.float32, size=self.k)
            _, state, losses, norms = tf.while_loop(
                lambda i, *_: i < n, body, (tf.constant(0), list(state), losses, norms),
                maximum_iterations=self.k)
            return losses.stack(), norms.stack(), state

        self.jit, self.carry = jit, t.carry_state
        # No autograph: the loops are tf.while_loop already, and converting the code they
        # call (the model, kernels.py) took seconds of the trace.
        self._train = tf.function(train_chunk, jit_compile=jit, autograph=False)
        # The same chunk as a plain graph, for a run's first steps (first_steps); not for
        # the window kernels (`graph_first` off), whose graph traced in 1.6 s: with XLA's
        # trace after it, the char LSTM's whole run took 12.4 against 13.7 steps/s
        # (bench/char_speed.py).
        self._graph = (tf.function(train_chunk, jit_compile=False, autograph=False)
                       if jit and graph_first else None)
        self._xla: Future | None = None  # XLA's compile, in the helper (compile)
        self.graph_steps = first_steps(chunk)
        self.compile_waited = 0.0  # seconds train() spent on XLA's compile (all runs')
        self.model = model
        self.model_classes = int(model.outputs[0].shape[-1])
        self._eval = self._evaluation(forward)
        # The device the program was built on: the shadow's jobs run in the engine's helper
        # thread, and a thread starts outside its creator's device scope.
        self.device = tf.constant(0).device
        # A copy of the model (same layers, its own variables) that evaluates and is
        # measured in the helper thread (shadow_job), with the weights it is given, while
        # training goes on. DistSteps has none: its variables belong to its strategy.
        self.shadow = self._shadow_eval = None
        if self.overlaps:
            import keras

            self.shadow = keras.models.clone_model(model)
            self._shadow_eval = self._evaluation(make_forward(tf, self.shadow, t.carry_state))
        self._zero: list | None = None  # zero_state's tensors
        self.eval_windows = 0  # windows an evaluation call takes (0: all given)

    def _evaluation(self, forward):
        """The compiled evaluation over the first `n` of some windows through `forward` (a
        model's), from `state`: per window its loss, per position the probability shown
        (_shown_probability) and, for a model of more than two classes, its TOP most likely
        classes (probabilities, classes); then the state it ends in."""
        tf = self.tf
        classes = self.model_classes

        def evaluate(xs, ys, n, state):
            def body(i, state, losses, probs, *tops):
                loss, logits, new = forward(xs[i], ys[i], state, False)
                p1 = _shown_probability(tf, logits, ys[i])
                if tops:
                    best = tf.math.top_k(tf.nn.softmax(logits), min(TOP, classes))
                    tops = (tops[0].write(i, best.values), tops[1].write(i, best.indices))
                return (i + 1, new, losses.write(i, loss), probs.write(i, p1), *tops)

            size = tf.shape(xs)[0]
            dtypes = (tf.float32, tf.float32) + ((tf.float32, tf.int32) if classes > 2 else ())
            arrays = [tf.TensorArray(dtype, size=size) for dtype in dtypes]
            _, state, *out = tf.while_loop(lambda i, *_: i < n, body,
                                           (tf.constant(0), list(state), *arrays))
            return (*(a.stack() for a in out), state)

        return tf.function(evaluate, jit_compile=self.jit, autograph=False)

    def _zeros(self) -> list:
        return [self.tf.zeros(self.shape) for _ in range(self.n_states)]

    def zero_state(self) -> list:
        """The state a training chunk starts from (DistSteps: one part per replica); the
        evaluation program always starts from `_zeros`, on one device. Made once: tensors
        never change, and each epoch starts from it."""
        if self._zero is None:
            self._zero = self._zeros()
        return list(self._zero)

    def export_state(self, state) -> list[np.ndarray]:
        """The carried state as (batch_size, state_size) arrays, for a checkpoint."""
        return [s.numpy() for s in state]

    def import_state(self, arrays) -> list:
        return [self.tf.constant(a) for a in arrays]

    def traced(self):
        """The compiled training program (for graph_uses_cudnn)."""
        return self._train_fn

    def _pad(self, a: np.ndarray, size: int | None = None) -> np.ndarray:
        """`a` padded with zeros to `size` windows (the training chunk's K)."""
        size = size or self.k
        if len(a) == size:
            return a
        out = np.zeros((size, *a.shape[1:]), dtype=a.dtype)
        out[: len(a)] = a
        return out

    def train(self, xs: np.ndarray, ys: np.ndarray, state: list, at: int | None = None):
        """Train on up to K batches; returns (per-step losses, mean grad norm, new state).
        `at`: the run's step the chunk starts at. An XLA program trains a run's first
        first_steps(K) steps on the plain graph, cut at exactly that step whatever the
        chunks (a resumed run's differ); None: all on XLA's."""
        n = len(xs)
        cut = 0 if self._graph is None or at is None else min(n, max(0, self.graph_steps - at))
        losses, norms = [], []
        for fn, part in ((self._graph, slice(0, cut)), (self._train, slice(cut, n))):
            m = len(xs[part])
            if not m:
                continue
            if fn is self._train and self._graph is not None:
                self._xla_compiled()
            loss, norm, state = fn(self._pad(xs[part]), self._pad(ys[part]),
                                   self.tf.constant(m), state)
            losses.append(loss.numpy()[:m])
            norms.append(norm.numpy()[:m])
        if not losses:
            return np.zeros(0, np.float32), 0.0, state
        return np.concatenate(losses), applied_norm(np.concatenate(norms), self.mixed), state

    def evaluate(self, xs: np.ndarray, ys: np.ndarray) -> tuple[float, np.ndarray]:
        """(mean loss, predicted P(Y=1) per position) of the model as it is now, run as
        training runs, without updates; in the calling thread (the trainer sends it to the
        helper instead, as a shadow job)."""
        return self.shadow_job(self.model.get_weights(), self.shadow_evaluate, xs, ys)

    def shadow_evaluate(self, xs: np.ndarray, ys: np.ndarray) -> tuple[float, np.ndarray]:
        """`evaluate` for the shadow model's weights (for DistSteps, which has no shadow: the
        model's)."""
        return self.shadow_evaluate_top(xs, ys)[:2]

    def shadow_evaluate_top(self, xs: np.ndarray, ys: np.ndarray):
        """`shadow_evaluate`, and for more than two classes the TOP classes per position as
        (probabilities, classes) laid out as the windows plus one axis (else None)."""
        fn = self._shadow_eval if self.shadow is not None else self._eval
        size = self.eval_windows or len(xs)
        parts = []
        with self._on_eval_device():
            state = self._zeros()
            for i in range(0, len(xs), size):  # the state carried from part to part
                n = min(size, len(xs) - i)
                *out, state = fn(self._pad(xs[i:i + n], size), self._pad(ys[i:i + n], size),
                                 self.tf.constant(n), state)
                parts.append([a.numpy()[:n] for a in out])
        losses, probs, *top = (np.concatenate(a) for a in zip(*parts, strict=True))
        return float(np.mean(losses)), probs, (tuple(top) if top else None)

    def shadow_job(self, weights: list[np.ndarray] | None, fn, *args):
        """fn(*args) on the shadow model given these weights (model.get_weights()' order;
        None: as it is), on the program's device: the body of the trainer's jobs in the
        engine's helper thread, which alone drives the shadow. Without a shadow (DistSteps)
        fn runs on the model, and the trainer runs it in its own thread."""
        with self.tf.device(self.device):
            if weights is not None and self.shadow is not None:
                self.shadow.set_weights(weights)
            return fn(*args)

    def _on_eval_device(self):
        """The evaluation's device scope: none for one device (the trainer's scope holds)."""
        return self.tf.device(self.eval_device) if self.eval_device else contextlib.nullcontext()

    def compile(self, helper=None) -> None:
        """Make the training program now (once: a kept program has it). An XLA program's
        plain graph is traced here, for a run's first call (first_steps); XLA's compile goes
        to `helper` (an Executor: a warm's, whose engine is idle), or without one is made
        by the call after, in the trainer's thread, while the helper compiles the
        evaluation (queued behind XLA's, the evaluation's compile made the seed's fast
        preset reach its floors 0.8 s later, bench/time_to_floor.py). The evaluation is
        compiled by `compile_evaluation` in the helper thread: compiled beside the
        training's, it delayed the first chunk (bench/first_loss.py). Zero-trip calls
        update nothing."""
        if self._train_fn is not None:
            return
        empty = np.zeros((0, self.batch, self.num_steps), dtype=np.uint8)
        args = (self._pad(empty), self._pad(empty), self.tf.constant(0), self.zero_state())
        first = self._graph or self._train
        self._train_fn = first.get_concrete_function(*args)
        first(*args)
        if self._graph is not None and helper is not None:
            from .executor import RUN

            self._xla = helper.submit(self._compile_xla, *args, run=COMPILES, priority=RUN)

    def _compile_xla(self, *args) -> None:
        """XLA's compile (a zero-trip call), in the helper or here."""
        with self.tf.device(self.device):
            self._train(*args)

    def _xla_compiled(self) -> None:
        """Wait for XLA's compile in the helper; compile it here if none was sent (or its
        job was dropped: the helper closed). The time goes to compile_waited."""
        if self._xla is not None and self._xla.done() and not self._xla.cancelled():
            self._xla.result()
            return
        t0 = time.perf_counter()
        self._wait_xla()
        self.compile_waited += time.perf_counter() - t0

    def _wait_xla(self) -> None:
        if self._xla is not None and not self._xla.cancelled():
            self._xla.result()
            return
        empty = np.zeros((0, self.batch, self.num_steps), dtype=np.uint8)
        self._compile_xla(self._pad(empty), self._pad(empty), self.tf.constant(0),
                          self.zero_state())
        self._xla = _done()

    def compile_evaluation(self, *windows: np.ndarray) -> None:
        """Compile the evaluation (a zero-trip call) for the fewest of these windows (a
        look's): every evaluation then runs in parts of that many, so one program serves
        the looks and the whole validation (XLA compiles for each shape, and a char
        model's second compile, in the helper, cost training seconds at its start). A
        shadow job: the helper's thread, or the trainer's without a shadow. A training sets
        `eval_windows` itself before its first evaluation, so that every same-seed run
        evaluates in the same parts, whenever this runs (two once differed in the 8th
        digit of their first epoch's validation loss: one evaluated whole, before this had
        run)."""
        self.eval_windows = self.eval_windows or min(len(xs) for xs in windows)
        xs = windows[0][: self.eval_windows]
        with self._on_eval_device():
            (self._shadow_eval or self._eval)(xs, xs, self.tf.constant(0), self._zeros())
