"""The training forward of a window: (x, y, state) -> (loss, logits, the state to carry on),
from the symbols through the window kernels or the model call on one-hot inputs, and the
truncation styles' split of a window into its first `stride` steps and the rest.
"""

from __future__ import annotations

from ..config import Config, effective_stride


def make_forward(tf, model, carry: bool, parts: tuple | None = None):
    """(x, y, state, training) -> (mean cross-entropy, logits, the state to carry on).

    `parts` (stride_parts): training windows that overlap, TBPTT(stride, num_steps). The
    window runs as its first `stride` steps and the rest (the same layers), the loss is
    taken on its last `stride` positions, and the state carried is the one after its first
    `stride` steps, where the next window starts. Evaluation runs whole windows."""

    from .window import from_symbols

    width = model.inputs[0].shape[-1]  # symbols: 2 for the generator
    on_onehot = forward_onehot(tf, model, carry, parts)
    # The window kernels' layers from the symbols: the first projection a gather.
    direct = from_symbols(model) if parts is None else None

    def forward(x, y, state, training):
        if direct is not None:
            logits, new = direct(x, state)
            return _loss(tf, logits, y, new, state, carry)
        return on_onehot(tf.one_hot(tf.cast(x, tf.int32), width), y, state, training)

    return forward


def _loss(tf, logits, y, new, state, carry: bool):
    """(mean cross-entropy, logits, the state to carry on: zeros with carry off)."""
    xent = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.cast(y, tf.int32), logits)
    new = new if carry else [tf.zeros_like(s) for s in state]
    return tf.reduce_mean(xent), logits, new


def forward_onehot(tf, model, carry: bool, parts: tuple | None = None):
    """make_forward's function on the one-hot inputs (which a test can differentiate by)."""

    def forward(onehot, y, state, training):
        if training and parts is not None:
            return _strided(tf, parts, onehot, y, state, carry)
        logits, *new = model([onehot, *state], training=training)
        return _loss(tf, logits, y, new, state, carry)

    return forward


def stride_parts(model, config: Config, mixed: bool = False) -> tuple | None:
    """(the model over a window's first `stride` steps, over the rest, stride), or None
    when windows do not overlap (stride = num_steps: the model as it is)."""
    from .model import part_model

    n, stride = config.train.num_steps, effective_stride(config.train)
    if stride == n:
        return None
    return part_model(model, config, stride, mixed), part_model(model, config, n - stride,
                                                                mixed), stride


def _strided(tf, parts, onehot, y, state, carry: bool):
    head, tail, stride = parts
    logits, *mid = head([onehot[:, :stride], *state], training=True)
    rest, *_ = tail([onehot[:, stride:], *mid], training=True)
    logits = tf.concat([logits, rest], axis=1)
    n = onehot.shape[1]
    xent = tf.nn.sparse_softmax_cross_entropy_with_logits(
        tf.cast(y[:, n - stride:], tf.int32), logits[:, n - stride:])
    new = mid if carry else [tf.zeros_like(s) for s in state]
    return tf.reduce_mean(xent), logits, new
