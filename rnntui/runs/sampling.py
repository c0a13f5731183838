"""`rnntui sample RUN`: symbols drawn from a run's checkpoint, for a model of a text (or
any one-column symbol file): primed with some symbols, then one after another at a
temperature. The same checkpoint, prime, temperature and seed give the same sample.

The symbols come from the run's own record (its started event), so a run folder samples
without its data file. It reads the run folder and writes nothing.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from .. import engine as engines
from ..core.files import BadFile
from ..data import datafile
from .folders import CHECKPOINT, LOOK, Run, open_run, read_metrics

MOST = 100_000  # symbols a sample may ask for
PRIME = 40  # a default prime's symbols: the start of the stretch the run last showed


class BadSample(ValueError):
    """A flag that cannot make a sample; its text is the one line to print."""


def sample_run(path: str | Path, length: int = 200, temperature: float = 1.0, seed: int = 0,
               prime: str | None = None) -> tuple[str, str]:
    """(the prime, the sample drawn after it), as text. BadFile for a folder that is not a
    sampleable run, BadSample for a bad flag."""
    if not 1 <= length <= MOST:
        raise BadSample(f"--length: {length} is out of range: an integer from 1 to {MOST:,}")
    if not (math.isfinite(temperature) and temperature > 0):
        raise BadSample(f"--temperature: {temperature:g} must be a number above 0 (1 draws"
                        " from the model as it is, lower is surer, higher wilder)")
    run = open_run(path)
    symbols = _symbols(run)
    if run.checkpoint is None:
        raise BadFile(Path(path) / CHECKPOINT, "no checkpoint yet: train at least one epoch")
    codes = _prime_codes(run, symbols, prime)
    drawn = engines.get().call(_draw, run, codes, length, temperature, seed)
    sep = "" if all(len(s) == 1 for s in symbols) else " "
    return join(symbols, codes), sep + join(symbols, drawn)


def _symbols(run: Run) -> list[str]:
    """The run's symbols, which its model's classes index; BadFile for a run that has none
    to sample (the generator's, or a file of separate inputs and targets)."""
    d = run.config.data
    if not d.data_file:
        raise BadFile(run.path, "is trained on the generator's 0/1 series, which has no text"
                                " to sample: `rnntui inspect RUN` shows what it learned")
    started = next((m for m in read_metrics(run.path) if m.get("event") == "started"), {})
    symbols, inputs = started.get("symbols"), started.get("input_symbols")
    if not symbols:  # a run recorded before symbols were: its file says
        data = datafile.load(d.data_file)
        symbols, inputs = list(data.y_symbols), list(data.x_symbols)
    if symbols != inputs:
        raise BadFile(run.path, "its file has separate inputs and targets (x,y columns): only"
                                " a next-symbol file (a text, one column) can be sampled")
    return symbols


def _prime_codes(run: Run, symbols: list[str], prime: str | None) -> list[int]:
    """The prime as codes: --prime's symbols (named if the file never had them), else the
    start of the stretch the run last showed, else its first symbol."""
    if prime is None:
        shown = _look(run.path).get("x") or [0]
        return [int(c) for c in shown[:PRIME]]
    parts = list(prime) if all(len(s) == 1 for s in symbols) else prime.split()
    if not parts:
        raise BadSample("--prime: empty: give at least one symbol")
    index = {s: i for i, s in enumerate(symbols)}
    unknown = sorted({p for p in parts if p not in index})
    if unknown:
        raise BadSample(f"--prime: {', '.join(map(repr, unknown[:8]))}: not among the symbols"
                        f" of the run's file ({len(symbols)} of them)")
    return [index[p] for p in parts]


def _look(run: Path) -> dict:
    """The newest predictions event the run's trainer wrote ({} if none, or unreadable)."""
    try:
        return json.loads((run / LOOK).read_text(encoding="utf-8")).get("predictions") or {}
    except (OSError, ValueError, AttributeError):
        return {}


def join(symbols: list[str], codes: list[int]) -> str:
    """Codes as text: characters run together, longer symbols apart."""
    sep = "" if all(len(s) == 1 for s in symbols) else " "
    return sep.join(symbols[c] for c in codes)


def _draw(run: Run, prime: list[int], length: int, temperature: float, seed: int) -> list[int]:
    """In the engine's thread: the checkpoint's model, and `length` codes drawn from it."""
    from ..engine.tfload import quiet_tensorflow

    tf = quiet_tensorflow()
    from ..engine.model import build_model
    from ..engine.sampling import Sampler

    model = build_model(run.config)
    if [w.shape for w in model.get_weights()] != [w.shape for w in run.checkpoint.weights]:
        raise BadFile(run.path / CHECKPOINT, "its weights do not fit the run's config")
    model.set_weights(run.checkpoint.weights)
    return Sampler(tf, run.config, model).draw(prime, (temperature,), length, seed)[0]
