"""TensorFlow: loading it, the model, the compiled steps, strategies, checkpoints, the
trainer, and the engine thread that owns all of it (rnntui.engine.engine). Importing this
package imports no TensorFlow: its modules load it when first asked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..config import Config
from ..core.control import Control
from ..core.events import Event
from .engine import Engine, configure, get
from .executor import WaitTimeout

__all__ = ["Engine", "WaitTimeout", "configure", "get", "train"]


def train(config: Config, callback: Callable[[Event], None] | None = None,
          control: Control | None = None, **options: Any) -> Event:
    """Train `config` in this process's engine, into no run folder, and return the final
    event, waited for however long it trains (the run folder's session is
    rnntui.runs.session.train_into_run). `options` are the Trainer's (checkpoint_path,
    resume, jit, chunk, strategy, insight)."""
    from .trainer import Trainer

    engine = get()
    return engine.call(lambda: Trainer(config, engine, callback, control, **options).run())
