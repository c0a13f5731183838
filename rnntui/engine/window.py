"""One recurrent layer that runs its whole window at once (kernels.py), as a Keras layer.

Its weights are the Keras layer's it stands for, in the same order and shapes, made by the
same initializers: keras.layers.LSTM's (unit_forget_bias), GRU's (reset_after), SimpleRNN's,
and for the seed's cell its own (one kernel over [x; s], as BasicCell). So a checkpoint
written with either resumes with the other, the insight reads the same weights, and
model.build_plain_model copies them into plain Keras layers for export and sampling.

Called as Keras's recurrent layers with return_sequences and return_state:
`layer(x, initial_state=[...]) -> [outputs (batch, T, units), *final states]`.
"""

from __future__ import annotations

import keras
from keras import ops

from ..config import states_per_layer

GATES = {"basic": 1, "rnn": 1, "gru": 3, "lstm": 4}


def kernel_kind(cell: str) -> str:
    """kernels.run_window's kind for a cell: the seed's cell and SimpleRNN are one tanh."""
    return cell if cell in ("gru", "lstm") else "tanh"


def add_bias(layer: keras.layers.Layer, kind: str, units: int):
    """`layer`'s bias weight as Keras's layer of this kind has it: (gates x units,), the
    GRU's (2, 3 x units) (reset_after), the LSTM's forget gate at 1 (unit_forget_bias)."""
    width = GATES[kind] * units
    shape, init = (width,), "zeros"
    if kind == "gru":
        shape = (2, width)
    if kind == "lstm":
        def init(shape, dtype=None):
            return ops.concatenate([ops.zeros((units,), dtype), ops.ones((units,), dtype),
                                    ops.zeros((2 * units,), dtype)])
    return layer.add_weight(shape=shape, initializer=init, name="bias")


@keras.saving.register_keras_serializable(package="rnntui")
class WindowRNN(keras.layers.Layer):
    def __init__(self, cell: str, units: int, **kwargs):
        super().__init__(**kwargs)
        if cell not in GATES:
            raise ValueError(f"cell: {cell!r} is not one of {', '.join(GATES)}")
        self.kind, self.units = cell, units

    def build(self, input_shape, *args, **kwargs):
        n_in, units = int(input_shape[-1]), self.units
        width = GATES[self.kind] * units
        if self.kind == "basic":  # BasicCell's layout: W over [x; s]
            self.kernel = self.add_weight(shape=(n_in + units, units),
                                          initializer="glorot_uniform", name="kernel")
            self.bias = self.add_weight(shape=(units,), initializer="zeros", name="bias")
            return
        self.kernel = self.add_weight(shape=(n_in, width), initializer="glorot_uniform",
                                      name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(units, width), initializer="orthogonal",
                                                name="recurrent_kernel")
        self.bias = add_bias(self, self.kind, units)

    def _weights(self):
        """(input kernel, recurrent kernel, input bias) in the compute dtype."""
        dtype = self.compute_dtype
        kernel = ops.cast(self.kernel, dtype)
        if self.kind == "basic":
            n_in = kernel.shape[0] - self.units
            return kernel[:n_in], kernel[n_in:], ops.cast(self.bias, dtype)
        bias = ops.cast(self.bias, dtype)
        return kernel, ops.cast(self.recurrent_kernel, dtype), (
            bias[0] if self.kind == "gru" else bias)

    def recurrent_parts(self):
        """(input kernel, input bias, recurrent kernel, GRU's recurrent bias or None) in the
        compute dtype, as kernels.run_window takes them."""
        w, u, b = self._weights()
        bh = ops.cast(self.bias, self.compute_dtype)[1] if self.kind == "gru" else None
        return w, b, u, bh

    def call(self, inputs, initial_state=None):
        w, b, u, bh = self.recurrent_parts()
        x = ops.transpose(inputs, (1, 0, 2))  # time major: the loop reads step t whole
        seq, final = self.run(project(x, w, b), u, bh, list(initial_state))
        return [ops.transpose(seq, (1, 0, 2)), *final]

    def run(self, xw, u, bh, states):
        """The window from its input projection xw (T, batch, gates x units)."""
        from .kernels import run_window

        return run_window(kernel_kind(self.kind), xw, u, bh, states)

    def compute_output_shape(self, inputs_shape, initial_state_shape=None):
        n_states = 2 if self.kind == "lstm" else 1
        state = (inputs_shape[0], self.units)
        return [(*inputs_shape[:2], self.units), *([state] * n_states)]

    def get_config(self):
        return {**super().get_config(), "cell": self.kind, "units": self.units}

    @property
    def cell(self):
        """What holds the weights, as keras.layers.RNN's `cell` (the insight reads
        `layer.cell.weights` by name): this layer itself."""
        return self


def project(x, w, b):
    """A window's input projection x w + b, as one matmul: x time major (T, batch, in)."""
    steps, batch = ops.shape(x)[0], ops.shape(x)[1]
    return ops.reshape(ops.matmul(ops.reshape(x, (-1, x.shape[-1])), w),
                       (steps, batch, w.shape[-1])) + b


def from_symbols(model: keras.Model):
    """`model`'s forward from the symbols: (x, state) -> (logits, new state), x (batch, T)
    as integers, its first layer's input projection a row gather instead of a one-hot
    matmul (forward.make_forward; the model itself takes one-hot inputs, whose gradient the
    probe reads). None unless the model is WindowRNN layers, then the logits (no dropout
    between them), in float32: those run as Keras calls them."""
    layers = [x for x in model.layers if not isinstance(x, keras.layers.InputLayer)]
    *recurrent, head = layers
    if (not recurrent or not isinstance(head, keras.layers.Dense)
            or not all(isinstance(x, WindowRNN) for x in recurrent)
            or any(x.compute_dtype != "float32" for x in recurrent)):
        return None
    per = states_per_layer(recurrent[0].kind)

    def run(x, state):
        import tensorflow as tf

        from .kernels import gather_rows

        final, seq = [], None
        for k, layer in enumerate(recurrent):
            w, b, u, bh = layer.recurrent_parts()
            xw = (gather_rows(w, tf.transpose(tf.cast(x, tf.int32))) + b if k == 0
                  else project(seq, w, b))
            seq, out = layer.run(xw, u, bh, list(state[k * per:(k + 1) * per]))
            final += out
        return head(tf.transpose(seq, (1, 0, 2))), final

    return run
