"""A program made ahead (rnntui.warm, what the idle app does) is the one a training then
takes, and that training is the same as on a fresh build."""

from __future__ import annotations

import pytest

from rnntui import programs
from rnntui.config import ConfigError, preset
from rnntui.events import Finished
from rnntui.train import Trainer
from rnntui.warm import warm

# Deterministic: XLA compiled before the first chunk (no graph first), so two runs compare.
TINY = dict(size=20_000, val_size=2_000, batch_size=20, epochs=1, learning_rate=0.3,
            deterministic=True)


def test_a_training_takes_the_program_made_ahead_and_trains_as_a_fresh_build():
    config = preset("r2rt").with_values(**TINY)
    programs.forget()
    assert warm(config) is True
    made = programs.kept()
    assert made is not None
    assert warm(config) is False  # made already: nothing to do
    ahead = Trainer(config).run()
    assert isinstance(ahead, Finished)
    assert programs.kept() is made  # taken, trained, kept again
    programs.forget()
    fresh = Trainer(config).run()
    assert (ahead.val_loss, ahead.train_loss) == (fresh.val_loss, fresh.train_loss)
    assert ahead.lag_effects == fresh.lag_effects


def test_nothing_is_made_ahead_for_a_strategy_and_a_bad_config_says_so():
    assert warm(preset("r2rt").with_values(strategy="mirrored", **TINY)) is False
    with pytest.raises(ConfigError):
        warm(preset("r2rt").with_values(state_size=0))


def test_graph_first_trains_one_chunk_on_the_graph_while_xla_compiles_then_on_xla():
    """The plain graph trains the first chunk as XLA does (same losses from the same
    weights) while XLA compiles in a thread; the next chunk waits for XLA and runs on it."""
    from concurrent.futures import Future

    import numpy as np

    from rnntui.data import EpochFeed
    from rnntui.model import build_model, build_optimizer
    from rnntui.steps import Steps
    from rnntui.tfload import quiet_tensorflow

    config = preset("r2rt").with_values(**{**TINY, "deterministic": False})
    tf = quiet_tensorflow(config)
    empty = np.zeros((1, 20, 5), np.uint8)
    made = []
    for graph_first in (True, False):
        steps = Steps(tf, build_model(config, seed=0), build_optimizer(config, False), config,
                      10)
        steps.compile(empty, empty, graph_first=graph_first)
        made.append(steps)
    first, xla = made
    compiling, first._xla = first._xla, Future()  # held "compiling" whatever the speed
    assert first.on_graph() and not xla.on_graph()
    feed = EpochFeed(config, 10)
    _, xs, ys = next(feed.chunks(0))
    feed.close()
    on_graph = first.train(xs, ys, first.zero_state())[0]
    on_xla = xla.train(xs, ys, xla.zero_state())[0]
    np.testing.assert_allclose(on_graph, on_xla, rtol=1e-4)
    first._xla = compiling  # still compiling, or done: the next chunk waits for it
    assert np.all(np.isfinite(first.train(xs, ys, first.zero_state())[0]))
    assert first._xla is None and compiling.done() and not first.on_graph()


def test_xla_only_for_runs_long_enough_to_pay_for_its_compile():
    """XLA compiles for seconds what a plain graph traces in under one; it pays from
    XLA_MIN_STEPS steps (r2rt: 1,000 an epoch). The warm decides as the training does."""
    from rnntui.runplan import XLA_MIN_STEPS, use_xla

    assert XLA_MIN_STEPS == 5000
    assert not use_xla(preset("r2rt").with_values(epochs=4))
    assert use_xla(preset("r2rt").with_values(epochs=5))
    assert use_xla(preset("fast"))  # 8 epochs of 625 batches
