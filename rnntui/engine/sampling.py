"""Samples drawn from a symbol model: primed with some symbols, then one symbol after
another from its softmax at a temperature, fed back in. What a char model's users read to
see it learn (the predictions panel, `rnntui sample RUN`).

One compiled loop draws every temperature at once (a row each) from counter-based random
numbers: the same weights, prime and seed give the same sample, on any thread.
"""

from __future__ import annotations

import numpy as np

from ..config import Config, states_per_layer

TEMPERATURES = (0.5, 0.8, 1.0, 1.5)  # the panel's: one row each, a key picks which shows
SAMPLE_LENGTH = 200  # symbols a panel's sample draws after its prime


class Sampler:
    """Draws from `trained`'s weights through a plain any-length twin of it (made once;
    `draw` copies the weights over first)."""

    def __init__(self, tf, config: Config, trained):
        from .model import build_plain_model

        self.tf, self.config, self.trained = tf, config, trained
        self.plain = build_plain_model(config, trained)
        self.n_states = config.model.num_layers * states_per_layer(config.model.cell)
        self.width = self.plain.inputs[0].shape[-1]
        self._loop = tf.function(self._sample)

    def draw(self, prime: list[int], temperatures: tuple[float, ...], length: int,
             seed: int) -> list[list[int]]:
        """`length` codes per temperature, after the model has read `prime` (at least one
        code)."""
        from .model import load_plain

        load_plain(self.plain, self.trained, self.config)
        tf = self.tf
        out = self._loop(tf.constant([prime], tf.int32), tf.constant(temperatures, tf.float32),
                         tf.constant(length), tf.constant([seed, 0], tf.int64))
        return np.asarray(out).tolist()

    def _sample(self, prime, temps, length, seed):
        tf = self.tf
        rows = tf.shape(temps)[0]
        units = self.config.model.state_size
        states = [tf.zeros((rows, units)) for _ in range(self.n_states)]
        x = tf.one_hot(tf.repeat(prime, rows, axis=0), self.width)
        logits, *states = self.plain([x, *states])
        last = logits[:, -1]
        drawn = tf.TensorArray(tf.int32, size=length)
        for i in tf.range(length):
            scaled = last / temps[:, None]
            pick = tf.random.stateless_categorical(scaled, 1, seed + tf.cast([0, i], tf.int64),
                                                   dtype=tf.int32)[:, 0]
            drawn = drawn.write(i, pick)
            logits, *states = self.plain([tf.one_hot(pick[:, None], self.width), *states])
            last = logits[:, -1]
        return tf.transpose(drawn.stack())


def panel_samples(steps, prime: list[int], seed: int) -> dict[str, list[int]]:
    """In the helper, on the shadow model's weights (steps.shadow_job): the panel's samples,
    {temperature: codes}; {} without a shadow model (a distribution strategy)."""
    if steps.shadow is None or not prime:
        return {}
    sampler = getattr(steps, "sampler", None)
    if sampler is None:  # made once per program: a kept program keeps it (engine.programs)
        sampler = steps.sampler = Sampler(steps.tf, steps.config, steps.shadow)
    rows = sampler.draw(prime, TEMPERATURES, SAMPLE_LENGTH, seed)
    return {f"{t:g}": row for t, row in zip(TEMPERATURES, rows, strict=True)}
