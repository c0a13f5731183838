"""Why it learns: lag effects, gradient reach, the hidden state, and the memory readout.

Everything is measured on the validation series with the state warmed up, by the model's
own Keras layers run as training runs them: windows of num_steps, the state carried from
window to window (or reset at each window's start with carry_state off). TensorFlow is
passed in as `tf`, as in steps.py, so this module imports without it.

- Lag effects: for each row, flip X at ONE position s (0 and 1, everything else as in the
  series) and read P(Y_{s+k}=1) for every k = 0..K at once. The difference, averaged over
  rows, is the effect of X[t-k] on P(Y_t=1), with its standard error over the rows. With
  carry_state off the flip's offset inside its window cycles evenly over rows, so a lag
  the reset cuts off reads as it is used.
- Gradient reach: |dLoss_t / dX[t-k]| along the flip (the one-hot's 1 minus its 0
  direction: the change an input can make), backpropagated through the network as it
  runs: never truncated, the state carried, or reset at each window with carry_state off
  (so beyond the window it is exactly 0). What training's truncation lets through is
  `window_share`.
- Hidden state: the last layer's h over the predictions window, and for the LSTM and GRU
  its gates (and the LSTM's cell state), computed from the layer's weights and its own
  inputs and outputs.
- Memory: per lag, how well X[t-k] can be read out of the last layer's state at t (h, and
  c for the LSTM) by a logistic readout, fitted on one part of a validation stretch and
  scored on the other (measures.memory). A lag can be remembered and not used.
"""

from __future__ import annotations

import math

import numpy as np

from ..config import Config, effective_stride
from ..core.events import Insight
from . import measures
from .measures import lags_shown, true_deltas, window_share

ROWS = 128  # rows per measurement (each flipped both ways): see `Probe.rows`
HIDDEN_UNITS = 16  # units in the hidden-state heat map
MIN_WARMUP = 32  # steps run before anything is read, so the zero start state is forgotten
MEMORY_STEPS = 1024  # validation positions the memory readout fits (half) and scores (half)


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
        self.share = window_share(self.n, k)  # the positions measured: whole windows
        # The positions trained, whose errors the style backpropagates (the panel's row)
        self.trained_share = window_share(self.n, k, effective_stride(t))
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
        # The gradient reach's first measurement runs eagerly, and its graph is traced by
        # the second (`reach`), in this run or the next that keeps the probe. That graph, a
        # gradient through the loop over windows, took 0.5-3 s of CPU to trace and
        # optimise, 2-14 eager reaches: most of a short run's fixed cost (bench/README.md).
        self._grad = tf.function(self._input_grads, input_signature=[
            rows, tf.TensorSpec((None,), tf.uint8)])
        self._reached = False
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
        """|dLoss_T / dX_t| along the flip, for every t, where T is each row's last step:
        untruncated backprop through the state carried, or reset at each window's start
        as in training with carry_state off."""
        tf, n = self.tf, self.n
        rows, steps = tf.shape(x)[0], tf.shape(x)[1]
        onehot = tf.one_hot(tf.cast(x, tf.int32), 2)
        with tf.GradientTape() as tape:
            tape.watch(onehot)
            xs = tf.reshape(onehot, (rows, -1, n, 2))
            state = [tf.zeros((rows, *s)) for s in self.shape]

            def body(i, state, logits):
                logits, *out = self.model([xs[:, i], *state], training=False)
                new = out[:-2] if self.carry else [tf.zeros_like(s) for s in state]
                return i + 1, [tf.cast(s, tf.float32) for s in new], logits[:, -1]

            _, _, logits = tf.while_loop(lambda i, *_: i < steps // n, body,
                                         (tf.constant(0), state, tf.zeros((rows, 2))))
            # Rows are independent: the gradient of the sum is each row's own.
            loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(
                tf.cast(y, tf.int32), logits))
        g = tape.gradient(loss, onehot)
        return tf.abs(g[..., 1] - g[..., 0])  # flipping X moves the one-hot by (-1, +1)

    def compile(self) -> None:
        """Make the forward's program ready now, so that the first measurement does not
        pay for it: tracing, and the graph optimisation TensorFlow runs at a program's first
        call. Not the gradient reach's: `reach` makes it when it is measured again."""
        self.hidden(0, 1)

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

    def _effects_of(self, p: np.ndarray) -> tuple[list[float], list[float]]:
        """(mean effect, its standard error) for lags 0..K. The rows flip at each offset in
        the window equally often, by design: the error is taken within each offset
        (stratified), so what differs between offsets (a reset cutting a lag off) is the
        measure's, not noise."""
        r, n = self.rows, self.n
        at = self.flip[:, None] + np.arange(self.k + 1)[None, :]
        rows = np.arange(r)[:, None]
        diff = p[r:2 * r][rows, at].astype(np.float64) - p[:r][rows, at]
        per = r // n  # rows at each offset (rows is a multiple of n)
        if per >= 2:
            by_offset = diff.reshape(per, n, -1)  # row i flips at offset i % n
            se = np.sqrt((by_offset.var(axis=0, ddof=1) / per).sum(axis=0)) / n
        else:
            se = diff.std(axis=0, ddof=1) / math.sqrt(r) if r > 1 else np.zeros(self.k + 1)
        return diff.mean(axis=0).tolist(), se.tolist()

    def effects(self) -> tuple[list[float], list[float]]:
        """Mean change of P(Y_t=1) when X[t-k] flips 0 -> 1, for k = 0..K, and its
        standard error."""
        p = self._forward(self.tf.constant(self.effect_x), self.tf.constant(0))[0]
        return self._effects_of(p.numpy())

    def reach(self) -> list[float]:
        """Mean |dLoss_t / dX[t-k]| along the flip, for k = 0..K. The first runs eagerly;
        the next ones on the program, which the second traces: measured again, by a long run
        or by the next run of a kept program, the reach pays for it. The same values within
        float32 rounding."""
        fn = self._grad if self._reached else self._input_grads
        self._reached = True
        g = fn(self.tf.constant(self.reach_x), self.tf.constant(self.reach_y)).numpy()
        last = self.reach_len - 1
        return [float(g[:, last - k].mean()) for k in range(self.k + 1)]

    def _memory_stretch(self) -> tuple[int, int]:
        """The validation positions the memory readout reads: MEMORY_STEPS after K."""
        stop = min(len(self.vx), self.k + MEMORY_STEPS)
        return self.k, max(self.k + 2, stop)

    def _look(self, start: int, stop: int) -> dict:
        """One forward of the effects' rows, the pieces over positions start..stop and those
        over the memory stretch: the effects and their SE, (h, P(Y=1), gates) at
        start..stop, and the memory by lag."""
        window, w_first = self._pieces(start, stop)
        m_start, m_stop = self._memory_stretch()
        stretch, m_first = self._pieces(m_start, m_stop)
        x = np.concatenate([self.effect_x, window, stretch])
        p, h, inputs = (v.numpy() for v in self._forward(
            self.tf.constant(x), self.tf.constant(len(window) + len(stretch))))
        effects, se = self._effects_of(p)
        p = p[2 * self.rows:]
        gates = self._gates(h, inputs)
        lead, split = self._whole(self.warmup), len(window)

        def reported(a: np.ndarray, rows: slice, first: int, a0: int, a1: int) -> np.ndarray:
            a = a[rows, lead:].reshape(-1, *a.shape[2:])  # pieces -> positions
            return a[a0 - first:a1 - first]

        at_window = dict(rows=slice(0, split), first=w_first, a0=start, a1=stop)
        at_stretch = dict(rows=slice(split, None), first=m_first, a0=m_start, a1=m_stop)
        state = reported(h, **at_stretch)
        if "c" in gates:  # the LSTM's memory is in its cell state too
            state = np.concatenate([state, reported(gates["c"], **at_stretch)], axis=1)
        memory = measures.memory(state, self.vx[m_start - self.k:m_stop], self.k)
        hidden = (reported(h, **at_window), reported(p, **at_window),
                  {k: reported(g, **at_window) for k, g in gates.items()})
        return {"effects": effects, "se": se, "hidden": hidden, "memory": memory}

    def _gates(self, h: np.ndarray, inputs: np.ndarray) -> dict[str, np.ndarray]:
        """The last layer's gates (and the LSTM's cell state) over the pieces' rows."""
        resets = np.arange(h.shape[1]) % self.n == 0
        # The state before each step: the previous h, zero at each reset.
        h_prev = np.concatenate([np.zeros_like(h[:, :1]), h[:, :-1]], axis=1)
        if not self.carry:
            h_prev[:, resets] = 0
        weights = {w.name: w.numpy() for w in self.top.cell.weights}
        return measures.gates(self.cell, weights, inputs, h, h_prev,
                              None if self.carry else resets)

    def hidden(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, dict]:
        """(h, P(Y=1), gates) of the last layer at validation positions start..stop (row 0
        of the evaluation), warmed up; h is (steps, units), gates maps name -> the same."""
        return self._look(start, stop)["hidden"]

    def measure(self, step: int, window: tuple[int, int],
                reach: tuple[int, list[float]] | None = None,
                units: int = HIDDEN_UNITS) -> Insight:
        """An Insight event; the gradient reach is measured unless given as (the step it
        was measured at, its values): a recent one reused. The hidden state's units are
        those that vary most over the window."""
        look = self._look(*window)
        h, _, gates = look["hidden"]
        top = np.sort(np.argsort(-h.var(axis=0), kind="stable")[:units])

        def rows(a: np.ndarray) -> list[list[float]]:
            return np.round(a[:, top].T, 4).tolist()

        reach_step, reach = (step, self.reach()) if reach is None else reach
        return Insight(step, [round(e, 6) for e in look["effects"]], self.deltas, reach,
                       self.trained_share, rows(h), top.tolist(),
                       {name: rows(g) for name, g in gates.items()}, reach_step,
                       effects_se=[round(e, 6) for e in look["se"]],
                       memory=[round(m, 4) for m in look["memory"]],
                       achievable=self.achievable())

    def achievable(self) -> list[float]:
        """Per lag, the effect this config can reach: the delta, or with carry_state off
        delta x window_share (the positions whose window holds the lag)."""
        return [d if self.carry else d * s for d, s in zip(self.deltas, self.share, strict=True)]
