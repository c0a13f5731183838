"""Why it learns: the learned rule table (lag effects), gradient reach and the hidden state.

Everything is measured on the validation series with the state warmed up, by the model's
own Keras layers run as training runs them: windows of num_steps, the state carried from
window to window (or reset at each window's start with carry_state off). TensorFlow is
passed in as `tf`, as in steps.py, so this module imports without it.

- Lag effects: for each row, flip X at ONE position s (0 and 1, everything else as in the
  series) and read P(Y_{s+k}=1) for every k = 0..K at once. The difference, averaged over
  rows, is the effect of X[t-k] on P(Y_t=1). With carry_state off the flip's offset inside
  its window cycles evenly over rows, so a lag the reset cuts off reads as it is used.
- Gradient reach: |dLoss_t / dX[t-k]| (X one-hot) by lag, backpropagated through the whole
  unrolled stretch, never truncated: how far the network could carry a gradient. What
  training's truncation lets through is `window_share`.
- Hidden state: the last layer's h over the predictions window, and for the LSTM and GRU
  its gates, computed from the layer's weights and its own inputs and outputs.
"""

from __future__ import annotations

import math

import numpy as np

from ..config import Config
from ..core.events import Insight
from . import measures
from .measures import lags_shown, true_deltas, window_share

ROWS = 128  # rows per measurement (each flipped both ways): see `Probe.rows`
HIDDEN_UNITS = 16  # units in the hidden-state heat map
MIN_WARMUP = 32  # steps run before anything is read, so the zero start state is forgotten


class Probe:
    """The compiled measurements of one model: made with its program, kept with it and
    rebound to each training that reuses it (`rebind`), or made by `rnntui inspect`.

    The tf.functions read the model's variables, so they follow training without a
    retrace. `compile()` traces them ahead (from any thread).
    """

    def __init__(self, tf, model, config: Config, vx: np.ndarray, vy: np.ndarray):
        import keras

        self.tf = tf
        d, m, t = config.data, config.model, config.train
        self.cell, self.n, self.carry = m.cell, t.num_steps, t.carry_state
        self.k = k = lags_shown(() if d.data_file else d.rules)
        # A file's process is unknown: no true effect to draw against (nan, not 0).
        self.deltas = [math.nan] * (k + 1) if d.data_file else true_deltas(d.rules, k)
        self.share = window_share(self.n, k)
        self.vx, self.vy = vx, vy
        self.shape = [(m.state_size,)] * len(model.inputs[1:])
        top = model.get_layer(f"{m.cell}{m.num_layers - 1}")
        self.top = top
        # The same layers, with the last recurrent layer's output and input sequences too.
        self.model = keras.Model(model.inputs, [model.outputs[0], *model.outputs[1:],
                                                top.output[0], top.input[0]])
        self.warmup = max(MIN_WARMUP, 2 * k)
        n = self.n
        self.rows = max(n, ROWS // n * n)  # a multiple of n: every offset equally often
        self.effect_len = self._whole(self.warmup + n + k + 1)
        self.reach_len = self._whole(self.warmup + k + 1)
        self._effect_rows()
        # Graph mode, not XLA: XLA ran the effects faster but took longer to compile than a
        # fast-preset run trains on 2 cores. Any number of
        # rows, as the hidden state's rows ride along with the effects' rows.
        rows = tf.TensorSpec((None, None), tf.uint8)
        self._forward = tf.function(self._run, input_signature=[
            rows, tf.TensorSpec((), tf.int32)])
        self._grad = tf.function(self._input_grads, input_signature=[
            rows, tf.TensorSpec((None,), tf.uint8)])
        # Seconds per measurement once its programs are ready (Insights fills it): a probe
        # kept for a restart has them, and needs no warm-up beside the next training.
        self.cost: dict[str, float] = {}

    def rebind(self, config: Config, vx: np.ndarray, vy: np.ndarray) -> bool:
        """Serve another training of the same program (engine.programs reused its model):
        its validation series and truth, with these already traced programs. False, and
        nothing changed, if its lags differ (K sets the rows' lengths)."""
        d = config.data
        k = lags_shown(() if d.data_file else d.rules)
        if k != self.k:
            return False
        self.deltas = [math.nan] * (k + 1) if d.data_file else true_deltas(d.rules, k)
        self.vx, self.vy = vx, vy
        self._effect_rows()
        return True

    def _whole(self, steps: int) -> int:
        """Steps rounded up to whole windows."""
        return -(-steps // self.n) * self.n

    def _take(self, series: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
        """Rows of the series from `starts`, wrapping around a series shorter than a row."""
        pos = np.asarray(starts)[:, None] + np.arange(length)[None, :]
        return np.take(series, pos, mode="wrap")

    def _effect_rows(self) -> None:
        """The rows of both measurements, spread over the validation series."""
        r, n = self.rows, self.n
        stride = max(1, (len(self.vx) - self.effect_len) // r)
        starts = np.arange(r) * stride
        x = self._take(self.vx, starts, self.effect_len)
        self.flip = self.warmup + np.arange(r) % n  # each offset in the window equally often
        lo, hi = x.copy(), x.copy()
        lo[np.arange(r), self.flip] = 0
        hi[np.arange(r), self.flip] = 1
        self.effect_x = np.concatenate([lo, hi])
        self.reach_x = self._take(self.vx, starts, self.reach_len)
        self.reach_y = self._take(self.vy, starts + self.reach_len - 1, 1)[:, 0]

    # -- the TensorFlow programs ---------------------------------------------------------

    def _windows(self, x):
        """One-hot rows as (rows, windows, n, 2): a window indexed by a tensor keeps its
        static length, which the unrolled layers need."""
        tf = self.tf
        return tf.reshape(tf.one_hot(tf.cast(x, tf.int32), 2), (tf.shape(x)[0], -1, self.n, 2))

    def _run(self, x, keep):
        """Forward over whole windows from a zero state, carried or reset as in training:
        P(Y=1) (rows, steps), and the last layer's output and input sequences of the last
        `keep` rows only (keep, steps, ...): a state of 1024 over every row would be GBs."""
        tf, n = self.tf, self.n
        rows, steps = tf.shape(x)[0], tf.shape(x)[1]
        first = rows - keep
        onehot = self._windows(x)
        state = [tf.zeros((rows, *s)) for s in self.shape]
        parts = [tf.TensorArray(tf.float32, size=steps // n) for _ in range(3)]

        def body(i, state, probs, hs, ins):
            logits, *out = self.model([onehot[:, i], *state], training=False)
            new, h, inp = out[:-2], out[-2], out[-1]
            new = new if self.carry else [tf.zeros_like(s) for s in state]
            return (i + 1, [tf.cast(s, tf.float32) for s in new],
                    probs.write(i, tf.nn.softmax(logits)[..., 1]),
                    hs.write(i, tf.cast(h[first:], tf.float32)),
                    ins.write(i, tf.cast(inp[first:], tf.float32)))

        _, _, *parts = tf.while_loop(lambda i, *_: i < steps // n, body,
                                     (tf.constant(0), state, *parts))

        def joined(ta):  # (windows, rows, n, ...) -> (rows, steps, ...)
            a = tf.experimental.numpy.moveaxis(ta.stack(), 0, 1)
            return tf.reshape(a, tf.concat([tf.shape(a)[:1], [steps], tf.shape(a)[3:]], 0))

        return tuple(joined(p) for p in parts)

    def _input_grads(self, x, y):
        """|dLoss_T / d onehot(X_t)| for every t, where T is each row's last step; the
        state is carried throughout (untruncated backprop)."""
        tf, n = self.tf, self.n
        rows, steps = tf.shape(x)[0], tf.shape(x)[1]
        onehot = tf.one_hot(tf.cast(x, tf.int32), 2)
        with tf.GradientTape() as tape:
            tape.watch(onehot)
            xs = tf.reshape(onehot, (rows, -1, n, 2))
            state = [tf.zeros((rows, *s)) for s in self.shape]

            def body(i, state, logits):
                logits, *out = self.model([xs[:, i], *state], training=False)
                return i + 1, [tf.cast(s, tf.float32) for s in out[:-2]], logits[:, -1]

            _, _, logits = tf.while_loop(lambda i, *_: i < steps // n, body,
                                         (tf.constant(0), state, tf.zeros((rows, 2))))
            # Rows are independent: the gradient of the sum is each row's own.
            loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(
                tf.cast(y, tf.int32), logits))
        return tf.norm(tape.gradient(loss, onehot), axis=-1)

    def compile(self) -> None:
        """Make the programs ready now, so that the first measurement does not pay for it:
        tracing, and the graph optimisation TensorFlow runs at a program's first call."""
        self.hidden(0, 1)
        self.reach()

    # -- the measurements ------------------------------------------------------------------

    def _pieces(self, start: int, stop: int) -> tuple[np.ndarray, int]:
        """Rows as long as the effects' rows that cover validation positions start..stop:
        each runs `lead` steps (whole windows) of warm-up, then reports the rest. With
        carry_state off the windows line up with the evaluation's, so its values are the
        evaluation's own. Returns the rows and the first position reported."""
        lead = self._whole(self.warmup)
        fresh = self.effect_len - lead
        first = start // self.n * self.n
        count = max(1, -(-(stop - first) // fresh))
        return self._take(self.vx, first - lead + fresh * np.arange(count), self.effect_len), first

    def _effects_of(self, p: np.ndarray) -> list[float]:
        r = self.rows
        at = self.flip[:, None] + np.arange(self.k + 1)[None, :]
        rows = np.arange(r)[:, None]
        diff = p[r:2 * r][rows, at].astype(np.float64) - p[:r][rows, at]
        return diff.mean(axis=0).tolist()

    def effects(self) -> list[float]:
        """Mean change of P(Y_t=1) when X[t-k] flips 0 -> 1, for k = 0..K."""
        p = self._forward(self.tf.constant(self.effect_x), self.tf.constant(0))[0]
        return self._effects_of(p.numpy())

    def reach(self) -> list[float]:
        """Mean |dLoss_t / dX[t-k]| for k = 0..K, untruncated."""
        g = self._grad(self.tf.constant(self.reach_x), self.tf.constant(self.reach_y)).numpy()
        last = self.reach_len - 1
        return [float(g[:, last - k].mean()) for k in range(self.k + 1)]

    def _both(self, start: int, stop: int):
        """The effects and (h, P(Y=1), gates) at positions start..stop, in one forward: the
        hidden state's rows ride along with the effects' rows."""
        pieces, first = self._pieces(start, stop)
        x = np.concatenate([self.effect_x, pieces])
        p, h, inputs = (v.numpy() for v in self._forward(self.tf.constant(x),
                                                         self.tf.constant(len(pieces))))
        effects = self._effects_of(p)
        p = p[2 * self.rows:]
        # The state before each step: the previous h, zero at each reset.
        h_prev = np.concatenate([np.zeros_like(h[:, :1]), h[:, :-1]], axis=1)
        if not self.carry:
            h_prev[:, ::self.n] = 0
        weights = {w.name: w.numpy() for w in self.top.cell.weights}
        gates = measures.gates(self.cell, weights, inputs, h, h_prev)
        lead = self._whole(self.warmup)

        def reported(a: np.ndarray) -> np.ndarray:  # pieces -> positions start..stop
            a = a[:, lead:].reshape(-1, *a.shape[2:])
            return a[start - first:stop - first]

        return effects, (reported(h), reported(p), {k: reported(g) for k, g in gates.items()})

    def hidden(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, dict]:
        """(h, P(Y=1), gates) of the last layer at validation positions start..stop (row 0
        of the evaluation), warmed up; h is (steps, units), gates maps name -> the same."""
        return self._both(start, stop)[1]

    def measure(self, step: int, window: tuple[int, int],
                reach: tuple[int, list[float]] | None = None,
                units: int = HIDDEN_UNITS) -> Insight:
        """An Insight event; the gradient reach is measured unless given as (the step it
        was measured at, its values): a recent one reused."""
        effects, (h, _, gates) = self._both(*window)
        top = np.sort(np.argsort(-np.abs(h).mean(axis=0), kind="stable")[:units])

        def rows(a: np.ndarray) -> list[list[float]]:
            return np.round(a[:, top].T, 4).tolist()

        reach_step, reach = (step, self.reach()) if reach is None else reach
        return Insight(step, [round(e, 6) for e in effects], self.deltas, reach, self.share,
                       rows(h), top.tolist(), {name: rows(g) for name, g in gates.items()},
                       reach_step)
