"""A program made ahead (rnntui.warm, what the idle app does) is the one a training then
takes, and that training is the same as on a fresh build."""

from __future__ import annotations

import pytest

from rnntui import programs
from rnntui.config import ConfigError, preset
from rnntui.events import Finished
from rnntui.train import Trainer
from rnntui.warm import warm

TINY = dict(size=20_000, val_size=2_000, batch_size=20, epochs=1, learning_rate=0.3)


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
