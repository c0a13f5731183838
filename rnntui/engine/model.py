"""The recurrent network: the seed's hand-written cell or a Keras cell, stacked, with the
state as explicit inputs and outputs.

Keras 3 stateful layers neither save nor distribute their state, so the state is data here:
`model([x, *states]) -> [logits, *new_states]`. The trainer carries it between batches.
"""

from __future__ import annotations

import keras
from keras import ops

from ..config import Config, states_per_layer
from ..data.source import io_sizes

UNROLL_MAX = 64  # windows up to this long are unrolled: faster for the short windows of the task


@keras.saving.register_keras_serializable(package="rnntui")
class BasicCell(keras.layers.Layer):
    """The seed's cell, by hand: s_t = tanh(W [x_t; s_{t-1}] + b)."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1] + self.units, self.units), initializer="glorot_uniform",
            name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, inputs, states):
        s = states[0] if isinstance(states, (list, tuple)) else states
        h = ops.tanh(ops.matmul(ops.concatenate([inputs, s], axis=-1), self.kernel) + self.bias)
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="rnntui")
class GRUCell(keras.layers.Layer):
    """keras.layers.GRU's math (reset_after=True, gates z, r, h), one matmul per operand.

    Keras's own GRUCell computes the same thing with the same weight layout, but under XLA
    on a CPU it ran slower, because of its per-gate bookkeeping. The layout is kept
    identical so the weights copy straight into keras.layers.GRU. (The same rewrite of the
    LSTM gained nothing, so the LSTM is Keras's.)
    """

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        n = 3 * self.units
        self.kernel = self.add_weight(shape=(input_shape[-1], n), initializer="glorot_uniform",
                                      name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, n), initializer="orthogonal",
                                                name="recurrent_kernel")
        self.bias = self.add_weight(shape=(2, n), initializer="zeros", name="bias")

    def call(self, inputs, states):
        h = states[0] if isinstance(states, (list, tuple)) else states
        u = self.units
        mx = ops.matmul(inputs, self.kernel) + self.bias[0]
        mh = ops.matmul(h, self.recurrent_kernel) + self.bias[1]
        z = ops.sigmoid(mx[:, :u] + mh[:, :u])
        r = ops.sigmoid(mx[:, u:2 * u] + mh[:, u:2 * u])
        hh = ops.tanh(mx[:, 2 * u:] + r * mh[:, 2 * u:])
        h = z * h + (1 - z) * hh
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="rnntui")
class Dropout(keras.layers.Dropout):
    """keras.layers.Dropout with its mask drawn by Philox, named. Keras's asks for
    TensorFlow's "auto_select", which under XLA on a CPU took 0.58 ms for a mask of 5k
    units where Philox took 0.13 (the fast preset ran 13x slower a step with dropout 0.2).
    ThreeFry was faster still under XLA (0.07 ms) but has no kernel outside it, where
    short runs train. The same seed generator (its state is what
    checkpoint.random_states keeps)."""

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        import tensorflow as tf

        seed = self.seed_generator.next()
        draw = tf.random.stateless_uniform(tf.shape(inputs), seed, alg="philox")
        return tf.where(draw >= self.rate, inputs / (1 - self.rate), tf.zeros_like(inputs))


def _layer(cell: str, units: int, unroll: bool, name: str, kernel: str,
           dtype, layer_norm: bool = False) -> keras.layers.Layer:
    """One recurrent layer. With the "window" kernel (accel.choose_kernel) it runs its whole
    window at once, with its gradient over the window (window.py, kernels.py). With
    "cudnn" (LSTM/GRU on a GPU, see accel.py) Keras's own layer
    takes its cuDNN path, which needs the loop rolled; "auto" there, so a GPU whose cuDNN
    cannot run it falls back instead of failing (the status then says cuDNN is not in use).
    Otherwise cuDNN is off: a cuDNN op inside the XLA program would not compile.
    `layer_norm`: the layer-normed cell (norm.py) whatever the kernel (accel.xla_kernel and
    choose_kernel never pick "window" or "cudnn" for it)."""
    if layer_norm:
        from .norm import LayerNormCell

        return keras.layers.RNN(LayerNormCell(cell, units, dtype=dtype),
                                return_sequences=True, return_state=True, unroll=unroll,
                                name=name, dtype=dtype)
    if kernel == "window":
        from .window import WindowRNN

        return WindowRNN(cell, units, name=name, dtype=dtype)
    cudnn = kernel == "cudnn"
    use_cudnn = "auto" if cudnn else False
    common = dict(return_sequences=True, return_state=True, unroll=unroll and not cudnn,
                  name=name, dtype=dtype)
    if cell == "basic":
        return keras.layers.RNN(BasicCell(units, dtype=dtype), **common)
    if cell == "rnn":
        return keras.layers.SimpleRNN(units, **common)
    if cell == "gru":
        if cudnn:  # keras.layers.GRU(reset_after=True) is GRUCell's math and weight layout
            return keras.layers.GRU(units, use_cudnn=use_cudnn, **common)
        return keras.layers.RNN(GRUCell(units, dtype=dtype), **common)
    if cell == "lstm":
        return keras.layers.LSTM(units, use_cudnn=use_cudnn, **common)
    raise ValueError(f"cell: {cell!r} is not one of basic, rnn, gru, lstm")


def unrolled(config: Config) -> bool:
    """Whether Keras's layers run the window unrolled: short windows, except for a
    layer-normed cell, whose three normalizations a step made an unrolled program slow to
    trace and compile (a 2-layer LSTM 16 over 10 steps: 9.4 s to build its graph, 5.1 s
    rolled; the fast preset reached its floors in 15.9 s unrolled, 6.5 s rolled)."""
    return config.train.num_steps <= UNROLL_MAX and not config.model.layer_norm


def dropout_seed(config: Config, layer: int) -> int:
    """The seed of layer `layer`'s dropout masks: the run's seed, so a rerun draws the same
    masks (the checkpoint keeps where they have got to: checkpoint.random_states)."""
    return (config.data.seed * 8 + layer + 1) % 2**31


def build_model(config: Config, seed: int | None = None, kernel: str = "xla",
                mixed: bool = False) -> keras.Model:
    """The network for a config: one-hot x of shape (batch, num_steps, symbols) and the states
    in, logits over the classes and the final states out (2 and 2 for the generator; a data
    file's vocabularies otherwise, source.io_sizes). `seed` fixes the initial weights.

    `kernel` is "xla", "window" or "cudnn" (accel.choose_kernel). `mixed`: the recurrent layers
    compute in float16 with float32 weights; the logits and the carried states stay
    float32, so the loss and the state between batches keep their precision."""
    if seed is not None:
        keras.utils.set_random_seed(seed)
    m = config.model
    policy = keras.DTypePolicy("mixed_float16") if mixed else None
    n_in, n_out = io_sizes(config.data)

    def layers():
        # Made one by one as they are connected: a Keras layer draws its initializers'
        # seeds when it is made, so this order keeps the weights of a seed as they were.
        for layer in range(m.num_layers):
            yield _layer(m.cell, m.state_size, unrolled(config), f"{m.cell}{layer}", kernel,
                         policy, m.layer_norm)
            if m.dropout > 0:  # the connections to the next layer and to the logits only
                yield Dropout(m.dropout, seed=dropout_seed(config, layer),
                              name=f"dropout{layer}", dtype=policy)
        yield keras.layers.Dense(n_out, name="logits", dtype="float32")

    return _connect(config, layers(), config.train.num_steps, n_in, mixed, "rnntui")


def part_model(model: keras.Model, config: Config, length: int,
               mixed: bool = False) -> keras.Model:
    """`model`'s layers (the same weights) over windows of `length` steps: a training
    window's first `stride` steps and the rest, apart (forward.make_forward), so that the
    state where the next window starts is an output."""
    names = [layer.name for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    layers = [model.get_layer(name) for name in names]
    return _connect(config, layers, length, model.inputs[0].shape[-1], mixed,
                    f"rnntui_part{length}")


def _connect(config: Config, layers, length: int, n_in: int, mixed: bool,
             name: str) -> keras.Model:
    """The network of `layers` (recurrent, dropout and the logits last, in order, each
    taken as it is connected) over windows of `length` steps, the states as inputs and
    outputs (build_model)."""
    m = config.model
    units, per = m.state_size, states_per_layer(m.cell)
    x_in = keras.Input((length, n_in), name="x")
    state_in = [keras.Input((units,), name=f"state{i}") for i in range(m.num_layers * per)]
    h, state_out, recurrent = x_in, [], 0
    for layer in layers:
        if isinstance(layer, (keras.layers.Dropout, keras.layers.Dense)):
            h = layer(h)
            continue
        initial = state_in[recurrent * per:(recurrent + 1) * per]
        if mixed:
            initial = [ops.cast(s, "float16") for s in initial]
        out = layer(h, initial_state=initial)
        new = [ops.cast(s, "float32") for s in out[1:]] if mixed else list(out[1:])
        h, state_out, recurrent = out[0], state_out + new, recurrent + 1
    return keras.Model([x_in, *state_in], [h, *state_out], name=name)


def build_optimizer(config: Config, mixed: bool = False,
                    summed: bool = False) -> keras.optimizers.Optimizer:
    """The config's optimizer; wrapped for loss scaling when `mixed`. `summed`: under
    tf.distribute the trainer sums gradients over replicas itself (see steps.make_update),
    so the optimizer must not sum them again (see sums_once)."""
    t = config.train
    kinds = {
        "adagrad": keras.optimizers.Adagrad,
        "adam": keras.optimizers.Adam,
        "rmsprop": keras.optimizers.RMSprop,
        "sgd": keras.optimizers.SGD,
    }
    kind = kinds[t.optimizer]
    if summed and hasattr(kind, SUM_HOOK):
        kind = type(kind.__name__, (kind,), {SUM_HOOK: _as_given, "rnntui_sums_once": True})
    # Clipping is done by the trainer on the global norm it also reports.
    inner = kind(learning_rate=t.learning_rate)
    # float16 gradients underflow without loss scaling; Keras's dynamic scaler skips the
    # steps whose scaled gradients overflow and halves the scale.
    return keras.optimizers.LossScaleOptimizer(inner) if mixed else inner


# Keras 3's TensorFlow optimizer all-reduces (sums) the gradients over replicas in this
# method before every update. Checked against Keras 3.12-3.15; a Keras without it keeps
# its own sum and the trainer hands it 1/R of the summed gradient instead (sums_once).
SUM_HOOK = "_all_reduce_sum_gradients"


def _as_given(self, grads_and_vars):
    return list(grads_and_vars)


def sums_once(optimizer) -> bool:
    """Whether `optimizer` (or the one a LossScaleOptimizer wraps) applies gradients as
    given under tf.distribute, without summing them over replicas again."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    return bool(getattr(inner, "rnntui_sums_once", False))


def build_plain_model(config: Config, trained: keras.Model) -> keras.Model:
    """The same network in Keras's own layers only, with `trained`'s weights, so that plain
    Keras loads it with safe_mode on and without rnntui: SimpleRNN for the seed's cell
    (tanh(W[x; s] + b) is SimpleRNN's math with W split into kernel and recurrent kernel),
    GRU(reset_after=True) for ours (the same layout), LSTM as it is. Any sequence length."""
    m = config.model
    units, per = m.state_size, states_per_layer(m.cell)
    kinds = {"basic": keras.layers.SimpleRNN, "rnn": keras.layers.SimpleRNN,
             "gru": keras.layers.GRU, "lstm": keras.layers.LSTM}
    n_in, n_out = trained.inputs[0].shape[-1], trained.outputs[0].shape[-1]
    x_in = keras.Input((None, n_in), name="x")
    state_in = [keras.Input((units,), name=f"state{i}") for i in range(m.num_layers * per)]
    h, state_out = x_in, []
    for layer in range(m.num_layers):
        name = f"{m.cell}{layer}"
        if m.layer_norm:  # no such Keras layer: rnntui's registered cell (norm.py)
            rnn = _layer(m.cell, units, False, name, "xla", None, layer_norm=True)
        else:
            rnn = kinds[m.cell](units, return_sequences=True, return_state=True, name=name)
        out = rnn(h, initial_state=state_in[layer * per:(layer + 1) * per])
        h, state_out = out[0], state_out + list(out[1:])
    logits = keras.layers.Dense(n_out, name="logits")(h)
    plain = keras.Model([x_in, *state_in], [logits, *state_out], name="rnntui_plain")
    load_plain(plain, trained, config)
    return plain


def load_plain(plain: keras.Model, trained: keras.Model, config: Config) -> None:
    """Copy `trained`'s weights into its plain twin (build_plain_model's)."""
    m = config.model
    for layer in range(m.num_layers):
        src = trained.get_layer(f"{m.cell}{layer}").get_weights()
        if m.cell == "basic" and not m.layer_norm:
            kernel, bias = src
            n_in = kernel.shape[0] - m.state_size
            src = [kernel[:n_in], kernel[n_in:], bias]
        plain.get_layer(f"{m.cell}{layer}").set_weights(src)
    plain.get_layer("logits").set_weights(trained.get_layer("logits").get_weights())
