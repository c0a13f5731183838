"""Whether a run may be resumed: one place decides, for the command line (`rnntui train
--resume`), the app's runs screen (F3, r) and the session that trains it.

Everything is checked before a byte of the run changes: its config, its checkpoint (that
it loads, and, in the engine's thread, that it fits the model the config builds), the data
file and its SHA-256, the epochs left, and that nobody trains it now (its lock). A refused
resume leaves the run exactly as it was.
"""

from __future__ import annotations

from pathlib import Path

from ..config import ConfigError
from ..core.files import BadFile
from .datarecord import check_unchanged
from .folders import CHECKPOINT, Run, open_run
from .lock import busy


def resumable(path: str | Path, epochs: int | None = None, *, locked: bool = False) -> Run:
    """The run at `path`, ready to resume (with `epochs` as its new total, if given): its
    config validated and its data file read. BadFile or ConfigError, one line, naming what
    stops it; reads the run and its data file, writes nothing. Not on the app's UI thread
    (it reads the data file). `locked`: the caller holds the run's lock (runs.lock)."""
    from ..data.source import resolve

    run = open_run(path)  # the config (an empty one refused) and a checkpoint that loads
    taken = None if locked else busy(run.path)
    if taken is not None:
        raise taken
    config = run.config if epochs is None else run.config.with_values(epochs=epochs)
    if config.data.data_file:  # the same data first: nothing else matters if it changed
        check_unchanged(config.data.data_file, run.path)
    if run.checkpoint is None:
        raise BadFile(run.path, "has no checkpoint yet: nothing to resume")
    done, total = run.checkpoint.epoch, config.train.epochs
    if done >= total:
        raise BadFile(run.path, f"has trained all its {total} epochs: nothing left to resume"
                                " (`rnntui train --resume RUN --epochs N` with N > "
                                f"{total} goes on)")
    try:
        config = resolve(config)
    except BadFile:
        raise
    except ConfigError as err:
        raise BadFile(run.path / "config.toml", str(err)) from None
    return Run(run.path, config, run.checkpoint)


def check_fits(run: Run) -> None:
    """BadFile unless the run's checkpoint fits the model its config builds (weights of the
    same shapes). In the engine's thread: it builds the model (no program)."""
    from ..engine.model import build_model

    model = build_model(run.config)
    wanted = [tuple(w.shape) for w in model.get_weights()]
    got = [tuple(w.shape) for w in run.checkpoint.weights] if run.checkpoint else []
    if wanted != got:
        raise BadFile(run.path / CHECKPOINT, f"its weights {got} do not fit the model"
                                             f" config.toml builds {wanted}")

