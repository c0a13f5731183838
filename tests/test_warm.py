"""A program made ahead (rnntui.engine.warm, what the idle app does) is the one a training
then takes, and that training is the same as on a fresh build."""

from __future__ import annotations

import pytest

from rnntui import engine as engines
from rnntui.config import ConfigError, preset
from rnntui.core.events import Finished
from rnntui.engine import train

# Deterministic: op determinism on, so two runs compare bit for bit.
TINY = dict(size=20_000, val_size=2_000, batch_size=20, epochs=1, learning_rate=0.3,
            deterministic=True)


def warm(config):
    from rnntui.engine.warm import warm as make_ahead

    engine = engines.get()
    return engine.submit("warm", make_ahead, engine, config).result()


def test_a_training_takes_the_program_made_ahead_and_trains_as_a_fresh_build():
    config = preset("r2rt").with_values(**TINY)
    engine = engines.get()
    engine.call(engine.programs.forget)
    assert warm(config) is True
    made = engine.programs.kept
    assert made is not None
    assert warm(config) is False  # made already: nothing to do
    ahead = train(config)
    assert isinstance(ahead, Finished)
    assert engine.programs.kept is made  # taken, trained, kept again
    engine.call(engine.programs.forget)
    fresh = train(config)
    assert (ahead.val_loss, ahead.train_loss) == (fresh.val_loss, fresh.train_loss)
    assert ahead.lag_effects == fresh.lag_effects


def test_nothing_is_made_ahead_for_a_strategy_and_a_bad_config_says_so():
    assert warm(preset("r2rt").with_values(strategy="mirrored", **TINY)) is False
    with pytest.raises(ConfigError):
        warm(preset("r2rt").with_values(state_size=0))


def test_xla_only_for_runs_long_enough_to_pay_for_its_compile():
    """XLA compiles for seconds what a plain graph traces in under one; it pays from
    XLA_MIN_STEPS steps (r2rt: 1,000 an epoch). The warm decides as the training does."""
    from rnntui.engine.plan import XLA_MIN_STEPS, use_xla

    assert XLA_MIN_STEPS == 5000
    assert not use_xla(preset("r2rt").with_values(epochs=4))
    assert use_xla(preset("r2rt").with_values(epochs=5))
    assert use_xla(preset("fast"))  # 8 epochs of 625 batches
