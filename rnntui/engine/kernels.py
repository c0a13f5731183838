"""The recurrences as whole windows, each with its gradient written out over the window.

Why: Keras's layers run a cell per time step, and TensorFlow's autodiff backpropagates it
step by step: the input's projection is a small matmul per step, and the recurrent
weights' gradient a sum of one small matmul per step. Here, as in cuDNN and PyTorch's CPU
path, the input projection of a whole window is one matmul before the loop (a row gather
for the first layer's one-hot input: window.from_symbols), the loop does only the recurrent
matmuls and the gates, and the backward loop only carries the state's gradient back: the
weights' gradients are one matmul each over the window, after it (bench/char_speed.py
measures what it buys).

`run_window(kind, xw, u, bh, states)` takes the window's input projection `xw`, time major
(T, batch, gates x units, the input bias in), and the recurrent kernel `u`, and returns the
outputs of every step (T, batch, units) and the final states. The math and the gate
layouts are Keras's (LSTM: i, f, c, o; GRU with reset_after: z, r, h; SimpleRNN's tanh,
which is also the seed's cell), so the weights are keras.layers.LSTM/GRU/SimpleRNN's and
tests/test_kernels.py compares loss and every gradient with Keras's layers within 1e-5.

The loops are tf.while_loop over the window's length (any length, one program), rolled:
compiled by XLA each is a few fused kernels a step, and XLA compiles them in a few
seconds, where a 50-step unrolled Keras LSTM took over a minute on 2 cores. (Tried and
not kept: a 2-layer stack as one wavefront, layer l's step t - l in iteration t, so that
the layers' matmuls run side by side. Its forward ran 2x faster, but a training step ran
at about 0.7x the layers one after the other: above the first layer each step then needs its
input's matmul too, where one matmul over the window does it before the loop.)
"""

from __future__ import annotations

import tensorflow as tf

# ---- the cells: a step forward and a step back ----------------------------------------
#
# A step's gates are kept apart, each its own (batch, units) tensor made by its own
# matmul: XLA's CPU emitter leaves scalar (unvectorised) a fused kernel that reads more
# than one slice of the same tensor, and the gates as slices of one (batch, 4 x units)
# matmul made a 1-layer LSTM 128's window, forward and back, about 1.4x slower (23 ms
# against 15-18 at batch 50; bench/README.md).
#
# step(x, m, bh, state) -> (new state, extras): per gate g, x[g] its input projection (the
# input bias in) and m[g] its recurrent matmul h @ u_g; bh[g] GRU's recurrent bias (else
# None). A state is (h, c) for the LSTM, (h,) otherwise, h the step's output; `extras` are
# what the step back needs besides the states.
# back(extras, new, prev, dh, rest) -> (per gate d x[g], per gate d m[g], the gradient of
# h_prev besides the recurrent matmul's or None, the gradient of the state's other parts
# at the step before): `new` and `prev` are the states after and before the step, `dh`
# the output's whole gradient, `rest` the gradient of the state's other parts (LSTM's c).


def _pre(x, m, g, bh=None):
    out = x[g] + m[g]
    return out if bh is None or bh[g] is None else out + bh[g]


def lstm_step(x, m, bh, state):
    h, c = state
    i, f, o = (tf.sigmoid(_pre(x, m, g)) for g in (0, 1, 3))
    g = tf.tanh(_pre(x, m, 2))
    c = f * c + i * g
    tc = tf.tanh(c)
    return (o * tc, c), (i, f, g, o, tc)


def lstm_back(extras, new, prev, dh, rest):
    i, f, g, o, tc = extras
    dc = rest[0] + dh * o * (1 - tc * tc)
    d = [dc * g * i * (1 - i), dc * prev[1] * f * (1 - f), dc * i * (1 - g * g),
         dh * tc * o * (1 - o)]
    return d, d, None, (dc * f,)


def gru_step(x, m, bh, state):
    """Keras's GRU with reset_after: the candidate's recurrent part is reset by r, so its
    input's gradient and its recurrent matmul's differ (CELLS' last column)."""
    h = state[0]
    z, r = tf.sigmoid(_pre(x, m, 0, bh)), tf.sigmoid(_pre(x, m, 1, bh))
    mh = m[2] + bh[2]
    hh = tf.tanh(x[2] + r * mh)
    return (z * h + (1 - z) * hh,), (z, r, hh, mh)


def gru_back(extras, new, prev, dh, rest):
    z, r, hh, mh = extras
    da = dh * (1 - z) * (1 - hh * hh)
    dz = dh * (prev[0] - hh) * z * (1 - z)
    dr = da * mh * r * (1 - r)
    return [dz, dr, da], [dz, dr, da * r], dh * z, ()


def tanh_step(x, m, bh, state):
    return (tf.tanh(_pre(x, m, 0)),), ()


def tanh_back(extras, new, prev, dh, rest):
    h = new[0]
    da = dh * (1 - h * h)
    return [da], [da], None, ()


# kind: (step, back, states a layer, extras, gates, whether x's and m's gradients differ)
CELLS = {"lstm": (lstm_step, lstm_back, 2, 5, 4, False),
         "gru": (gru_step, gru_back, 1, 4, 3, True),
         "tanh": (tanh_step, tanh_back, 1, 0, 1, False)}


# ---- one layer over a window -----------------------------------------------------------


@tf.autograph.experimental.do_not_convert  # plain Python: autograph took seconds on it
def run_window(kind: str, xw, u, bh, states):
    """One layer of `kind` ("lstm", "gru" or "tanh") over a window: xw (T, batch, gates x
    units) its input projection, u its recurrent kernel (units, gates x units), bh GRU's
    recurrent bias (its bias[1]; else None), `states` its initial state ((h, c) for the
    LSTM, (h,) otherwise). Returns (outputs (T, batch, units), the final states)."""
    flat = [xw, u, *states] + ([bh] if bh is not None else [])
    out = _window(kind, bh is not None)(*flat)
    return out[0], list(out[1:])


def _window(kind: str, has_bh: bool):
    step, back, per, n_extras, n_gates, two = CELLS[kind]

    @tf.custom_gradient
    def run(xw, u, *rest):
        states, bh = tuple(rest[:per]), (rest[per] if has_bh else None)
        units = u.shape[0]
        xs, us = _gates(xw, n_gates, units), _gates(u, n_gates, units)
        bhs = _gates(bh, n_gates, units) if has_bh else [None] * n_gates
        n = tf.shape(xw)[0]

        def body(t, state, arrays):
            new, extras = step([x[t] for x in xs], [tf.matmul(state[0], g) for g in us], bhs,
                               state)
            return t + 1, new, [a.write(t, x) for a, x in zip(arrays, (*new, *extras),
                                                               strict=True)]

        arrays = _arrays(n, per + n_extras, states[0])
        _, final, arrays = tf.while_loop(lambda t, *_: t < n, body,
                                         (tf.constant(0), states, arrays))
        seqs = [a.stack() for a in arrays]

        def grad(d_seq, *d_final):
            return _back(back, two, xw, u, states, seqs, per, d_seq, d_final, has_bh)

        return (seqs[0], *final), grad

    return run


def _gates(a, n: int, units: int):
    """a's last axis cut into its n gates."""
    return [a[..., g * units:(g + 1) * units] for g in range(n)]


def _arrays(n, count: int, like):
    return [tf.TensorArray(like.dtype, size=n, element_shape=like.shape) for _ in range(count)]


def _before(seq, first):
    """The states each step started from: `first`, then `seq` without its last."""
    return tf.concat([first[None], seq[:-1]], axis=0)


def _weight_grad(inputs, d):
    """sum_t inputs[t]^T d[t], as one matmul over the window."""
    return tf.matmul(tf.reshape(inputs, (-1, inputs.shape[-1])),
                     tf.reshape(d, (-1, d.shape[-1])), transpose_a=True)


def _back(back, two: bool, xw, u, states, seqs, per, d_seq, d_final, has_bh):
    """The window's gradient: the loop down carries the state's gradient only; a step's
    gates' gradients are joined for its one matmul back, by the transposed kernel."""
    news, extras = seqs[:per], seqs[per:]
    prevs = [_before(seq, first) for seq, first in zip(news, states, strict=True)]
    d_seq = tf.zeros_like(news[0]) if d_seq is None else d_seq
    d_state = tuple(tf.zeros_like(s) if d is None else d
                    for d, s in zip(d_final, states, strict=True))
    u_t = tf.transpose(u)  # once, not in every step of the loop
    n = tf.shape(xw)[0]

    def body(t, d_state, arrays):
        t = t - 1
        dx, dm, direct, rest = back([x[t] for x in extras], [x[t] for x in news],
                                    [x[t] for x in prevs], d_state[0] + d_seq[t], d_state[1:])
        dx, dm = tf.concat(dx, axis=1), tf.concat(dm, axis=1)
        dh = tf.matmul(dm, u_t)
        if direct is not None:
            dh = dh + direct
        written = [arrays[0].write(t, dx)] + ([arrays[1].write(t, dm)] if two else [])
        return t, (dh, *rest), written

    like = tf.zeros_like(xw[0])
    _, d_first, arrays = tf.while_loop(lambda t, *_: t > 0, body,
                                       (n, d_state, _arrays(n, 2 if two else 1, like)))
    dx = arrays[0].stack()
    dm = arrays[1].stack() if two else dx
    out = [dx, _weight_grad(prevs[0], dm), *d_first]
    return out + ([tf.reduce_sum(dm, axis=[0, 1])] if has_bh else [])


@tf.custom_gradient
def gather_rows(w, idx):
    """w[idx]: a one-hot input times a kernel, as a gather. Its gradient is dense, the
    rows' gradients summed (the one-hot matmul's), so the optimizer and the clipping see
    the tensor they always did."""
    out = tf.gather(w, idx)

    def grad(d):
        rows = tf.reshape(d, (-1, w.shape[-1]))
        return tf.math.unsorted_segment_sum(rows, tf.reshape(idx, (-1,)), w.shape[0]), None

    return out, grad
