"""The recurrences as whole windows, each with its gradient written out over the window.

Why: Keras's layers run a cell per time step, and TensorFlow's autodiff backpropagates it
step by step: the input's projection is a small matmul per step, and the recurrent
weights' gradient a sum of one small matmul per step. Here, as in cuDNN and PyTorch's CPU
path, the input projection of a whole window is one matmul before the loop, the loop does
only the recurrent matmul and the gates, and the backward loop only carries the state's
gradient back: the weights' gradients are one matmul each over the window, after it
(bench/char_speed.py measures what it buys).

Each `*_window(xw, u, ...)` takes the window's input projection `xw`, time major
(T, batch, gates x units, the input bias in), and the recurrent kernel `u`, and returns the
outputs of every step (T, batch, units) and the final state. The math and the gate
layouts are Keras's (LSTM: i, f, c, o; GRU with reset_after: z, r, h), so the weights are
keras.layers.LSTM/GRU/SimpleRNN's and the tests compare both within 1e-5.

The loops are tf.while_loop over the window's length (any length, one program): compiled
by XLA each is a few fused kernels a step, and XLA compiles them in a few seconds, where
a 50-step unrolled Keras LSTM took over a minute on 2 cores.
"""

from __future__ import annotations

import tensorflow as tf


def _steps(xw):
    return tf.shape(xw)[0]


def _loop(xw, body, carry, down: bool = False):
    """tf.while_loop of `body(t, *carry) -> (next t, *carry)` over the window's steps, up
    from 0 or down from its length. Rolled: unrolled 5 steps an iteration, XLA took twice
    as long to compile an LSTM 2x128 and ran it no faster."""
    n = _steps(xw)
    start = n if down else tf.constant(0)
    return tf.while_loop((lambda t, *_: t > 0) if down else (lambda t, *_: t < n), body,
                         (start, *carry))


def _array(like, n, dtype=None):
    return tf.TensorArray(dtype or like.dtype, size=n, element_shape=like.shape)


def _or_zeros(grad, like):
    return tf.zeros_like(like) if grad is None else grad


def _weight_grad(prev, dz):
    """sum_t prev[t]^T dz[t], as one matmul over the window: (units, gates x units)."""
    units, width = prev.shape[-1], dz.shape[-1]
    return tf.matmul(tf.reshape(prev, (-1, units)), tf.reshape(dz, (-1, width)),
                     transpose_a=True)


def _before(seq, first):
    """The states each step started from: `first`, then `seq` without its last."""
    return tf.concat([first[None], seq[:-1]], axis=0)


@tf.custom_gradient
def lstm_window(xw, u, h0, c0):
    n = _steps(xw)
    units = u.shape[0]

    def step(t, h, c, hs, cs, acts):
        z = xw[t] + tf.matmul(h, u)
        i = tf.sigmoid(z[:, :units])
        f = tf.sigmoid(z[:, units:2 * units])
        g = tf.tanh(z[:, 2 * units:3 * units])
        o = tf.sigmoid(z[:, 3 * units:])
        c = f * c + i * g
        h = o * tf.tanh(c)
        return t + 1, h, c, hs.write(t, h), cs.write(t, c), acts.write(
            t, tf.concat([i, f, g, o], axis=1))

    _, h, c, hs, cs, acts = _loop(
        xw, step, (h0, c0, _array(h0, n), _array(c0, n), _array(xw[0], n)))
    hs, cs, acts = hs.stack(), cs.stack(), acts.stack()

    def grad(dhs, dh_end, dc_end):
        dhs = _or_zeros(dhs, hs)
        u_t = tf.transpose(u)  # once, not in every step of the loop
        c_prev = _before(cs, c0)

        def back(t, dh, dc, dzs):
            t = t - 1
            a = acts[t]
            i, f = a[:, :units], a[:, units:2 * units]
            g, o = a[:, 2 * units:3 * units], a[:, 3 * units:]
            dh = dh + dhs[t]
            tc = tf.tanh(cs[t])
            dc = dc + dh * o * (1 - tc * tc)
            dz = tf.concat([dc * g * i * (1 - i), dc * c_prev[t] * f * (1 - f),
                            dc * i * (1 - g * g), dh * tc * o * (1 - o)], axis=1)
            return t, tf.matmul(dz, u_t), dc * f, dzs.write(t, dz)

        _, dh0, dc0, dzs = _loop(
            xw, back, (_or_zeros(dh_end, h0), _or_zeros(dc_end, c0), _array(xw[0], n)),
            down=True)
        dz = dzs.stack()
        return dz, _weight_grad(_before(hs, h0), dz), dh0, dc0

    return (hs, h, c), grad


@tf.custom_gradient
def gru_window(xw, u, bias_h, h0):
    """Keras's GRU with reset_after: `bias_h` is the recurrent bias (bias[1])."""
    n = _steps(xw)
    units = u.shape[0]

    def step(t, h, hs, saved):
        mh = tf.matmul(h, u) + bias_h
        x = xw[t]
        z = tf.sigmoid(x[:, :units] + mh[:, :units])
        r = tf.sigmoid(x[:, units:2 * units] + mh[:, units:2 * units])
        hh = tf.tanh(x[:, 2 * units:] + r * mh[:, 2 * units:])
        h_new = z * h + (1 - z) * hh
        return t + 1, h_new, hs.write(t, h_new), saved.write(
            t, tf.concat([z, r, hh, mh[:, 2 * units:]], axis=1))

    _, h, hs, saved = _loop(xw, step, (h0, _array(h0, n), tf.TensorArray(xw.dtype, size=n)))
    hs, saved = hs.stack(), saved.stack()

    def grad(dhs, dh_end):
        dhs = _or_zeros(dhs, hs)
        u_t = tf.transpose(u)  # once, not in every step of the loop
        h_prev = _before(hs, h0)

        def back(t, dh, dxs, dms):
            t = t - 1
            s = saved[t]
            z, r = s[:, :units], s[:, units:2 * units]
            hh, mhh = s[:, 2 * units:3 * units], s[:, 3 * units:]
            dh = dh + dhs[t]
            da = dh * (1 - z) * (1 - hh * hh)
            dz = dh * (h_prev[t] - hh) * z * (1 - z)
            dr = da * mhh * r * (1 - r)
            dm = tf.concat([dz, dr, da * r], axis=1)
            dh = dh * z + tf.matmul(dm, u_t)
            return t, dh, dxs.write(t, tf.concat([dz, dr, da], axis=1)), dms.write(t, dm)

        _, dh0, dxs, dms = _loop(
            xw, back, (_or_zeros(dh_end, h0), _array(xw[0], n), _array(xw[0], n)), down=True)
        dm = dms.stack()
        return (dxs.stack(), _weight_grad(h_prev, dm),
                tf.reduce_sum(dm, axis=[0, 1]), dh0)

    return (hs, h), grad


@tf.custom_gradient
def tanh_window(xw, u, h0):
    """s_t = tanh(xw_t + s_{t-1} u): the seed's cell and SimpleRNN."""
    n = _steps(xw)

    def step(t, h, hs):
        h = tf.tanh(xw[t] + tf.matmul(h, u))
        return t + 1, h, hs.write(t, h)

    _, h, hs = _loop(xw, step, (h0, _array(h0, n)))
    hs = hs.stack()

    def grad(dhs, dh_end):
        dhs = _or_zeros(dhs, hs)
        u_t = tf.transpose(u)  # once, not in every step of the loop

        def back(t, dh, das):
            t = t - 1
            y = hs[t]
            da = (dh + dhs[t]) * (1 - y * y)
            return t, tf.matmul(da, u_t), das.write(t, da)

        _, dh0, das = _loop(xw, back, (_or_zeros(dh_end, h0), _array(h0, n)), down=True)
        da = das.stack()
        return da, _weight_grad(_before(hs, h0), da), dh0

    return (hs, h), grad
