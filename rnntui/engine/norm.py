"""Layer-normed cells (Ba et al. 2016, "Layer Normalization", section 3.1 and its LSTM):
basic, rnn, GRU and LSTM with each gate's pre-activation normalized over its units.

    pre = LN(x W; gamma_x) + LN(h U; gamma_h) + b
    basic, rnn:  h' = tanh(pre)
    GRU:         z, r = sigmoid(pre_z), sigmoid(pre_r)   (reset after, as Keras's GRU:
                 h~ = tanh(LN(x W)_h + b_x,h + r * (LN(h U)_h + b_h,h)))
                 h' = z h + (1 - z) h~
    LSTM:        i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of pre (Keras's order)
                 c' = f c + i g;  h' = o tanh(LN(c'; gamma_c) + beta_c)

LN(v; gamma) normalizes v to zero mean and unit variance over each gate's units and scales
it by gamma; the bias b stands for the betas of the two LNs. The moments are taken in
float32 even when the cell computes in float16 (mixed precision).

Why a cell of its own: Keras has no layer-normed recurrent cell, and cuDNN has no such
kernel, so a layer-normed run runs these cells through keras.layers.RNN under XLA on any
device (accel.choose_kernel says so on a GPU). The math in numpy, for the insight's gates,
is insight.measures.gates; the two are kept equal by a test.
"""

from __future__ import annotations

import keras
from keras import ops

from .window import GATES, add_bias

EPSILON = 1e-5


def layer_norm(v, gamma, gates: int):
    """Each of `gates` equal parts of v's last axis to zero mean and unit variance, times
    gamma (the whole width)."""
    dtype = v.dtype
    parts = ops.reshape(ops.cast(v, "float32"), (-1, gates, v.shape[-1] // gates))
    mean = ops.mean(parts, axis=-1, keepdims=True)
    var = ops.mean(ops.square(parts - mean), axis=-1, keepdims=True)
    normed = ops.reshape((parts - mean) * ops.rsqrt(var + EPSILON), (-1, v.shape[-1]))
    return ops.cast(normed, dtype) * ops.cast(gamma, dtype)


@keras.saving.register_keras_serializable(package="rnntui")
class LayerNormCell(keras.layers.Layer):
    """One layer-normed cell of kind basic, rnn, gru or lstm, for keras.layers.RNN."""

    def __init__(self, kind: str, units: int, **kwargs):
        super().__init__(**kwargs)
        if kind not in GATES:
            raise ValueError(f"cell: {kind!r} is not one of {', '.join(GATES)}")
        self.kind, self.units = kind, units
        self.state_size = [units, units] if kind == "lstm" else units
        self.output_size = units

    def build(self, input_shape):
        units = self.units
        width = GATES[self.kind] * units
        self.kernel = self.add_weight(shape=(input_shape[-1], width),
                                      initializer="glorot_uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(units, width), initializer="orthogonal",
                                                name="recurrent_kernel")
        self.gamma_x = self.add_weight(shape=(width,), initializer="ones", name="gamma_x")
        self.gamma_h = self.add_weight(shape=(width,), initializer="ones", name="gamma_h")
        if self.kind == "lstm":
            self.gamma_c = self.add_weight(shape=(units,), initializer="ones", name="gamma_c")
            self.beta_c = self.add_weight(shape=(units,), initializer="zeros", name="beta_c")
        self.bias = add_bias(self, self.kind, units)  # Keras's layout and forget bias

    def call(self, inputs, states):
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        h, u, gates = states[0], self.units, GATES[self.kind]
        dtype = self.compute_dtype
        w = lambda v: ops.cast(v, dtype)  # noqa: E731
        mx = layer_norm(ops.matmul(inputs, w(self.kernel)), self.gamma_x, gates)
        mh = layer_norm(ops.matmul(h, w(self.recurrent_kernel)), self.gamma_h, gates)
        bias = w(self.bias)
        if self.kind == "gru":
            mx, mh = mx + bias[0], mh + bias[1]
            z = ops.sigmoid(mx[:, :u] + mh[:, :u])
            r = ops.sigmoid(mx[:, u:2 * u] + mh[:, u:2 * u])
            hh = ops.tanh(mx[:, 2 * u:] + r * mh[:, 2 * u:])
            h = z * h + (1 - z) * hh
            return h, [h]
        pre = mx + mh + bias
        if self.kind != "lstm":
            h = ops.tanh(pre)
            return h, [h]
        i, f = ops.sigmoid(pre[:, :u]), ops.sigmoid(pre[:, u:2 * u])
        g, o = ops.tanh(pre[:, 2 * u:3 * u]), ops.sigmoid(pre[:, 3 * u:])
        c = f * states[1] + i * g
        h = o * ops.tanh(layer_norm(c, self.gamma_c, 1) + w(self.beta_c))
        return h, [h, c]

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "units": self.units}
