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

GATES = {"basic": 1, "rnn": 1, "gru": 3, "lstm": 4}


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

    def call(self, inputs, initial_state=None):
        from . import kernels

        w, u, b = self._weights()
        x = ops.transpose(inputs, (1, 0, 2))  # time major: the loop reads step t whole
        steps, batch = ops.shape(x)[0], ops.shape(x)[1]
        xw = ops.reshape(ops.matmul(ops.reshape(x, (-1, x.shape[-1])), w),
                         (steps, batch, w.shape[-1])) + b
        states = list(initial_state)
        if self.kind == "lstm":
            seq, *final = kernels.lstm_window(xw, u, *states)
        elif self.kind == "gru":
            bias_h = ops.cast(self.bias, self.compute_dtype)[1]
            seq, *final = kernels.gru_window(xw, u, bias_h, *states)
        else:
            seq, *final = kernels.tanh_window(xw, u, *states)
        return [ops.transpose(seq, (1, 0, 2)), *final]

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
