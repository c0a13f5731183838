"""`rnntui sample RUN`: symbols drawn from a run's checkpoint, for a model of a text (or
any one-column symbol file): primed with some symbols, then one after another at a
temperature. The same checkpoint, prime, temperature and seed give the same sample.

The symbols come from the run's own record (its started event), so a run folder samples
without its data file. It reads the run folder and writes nothing.
"""

from __future__ import annotations

import math
from pathlib import Path

from .. import engine as engines
from ..config import FIELDS
from ..core.events import Predictions, Started
from ..core.files import BadFile
from ..data import datafile
from .folders import CHECKPOINT, LOOK, METRICS, Run, open_run
from .follow import read_events, read_look

MOST = 100_000  # symbols a sample may ask for
PRIME = 40  # a default prime's symbols: the start of the stretch the run last showed
# Below COOLEST every draw is the likeliest symbol already, and logits over a temperature
# near 0 overflow float32; above WARMEST every draw is as good as uniform.
COOLEST, WARMEST = 0.01, 100.0
MOST_SEED = int(FIELDS["seed"].hi)  # as a config's seed (TensorFlow's int64 seed fits it)


class BadSample(ValueError):
    """A flag that cannot make a sample; its text is the one line to print."""


def sample_run(path: str | Path, length: int = 200, temperature: float = 1.0, seed: int = 0,
               prime: str | None = None) -> tuple[str, str]:
    """(the prime, the sample drawn after it), as text. BadFile for a folder that is not a
    sampleable run, BadSample for a bad flag."""
    _check_flags(length, temperature, seed)
    run = open_run(path)
    symbols = _symbols(run)
    if run.checkpoint is None:
        raise BadFile(Path(path) / CHECKPOINT, "no checkpoint yet: train at least one epoch")
    codes = _prime_codes(run, symbols, prime)
    drawn = engines.get().call(_draw, run, len(symbols), codes, length, temperature, seed)
    sep = "" if all(len(s) == 1 for s in symbols) else " "
    return join(symbols, codes), sep + join(symbols, drawn)


def _check_flags(length: int, temperature: float, seed: int) -> None:
    if not 1 <= length <= MOST:
        raise BadSample(f"--length: {length} is out of range: an integer from 1 to {MOST:,}")
    if not (math.isfinite(temperature) and temperature > 0):
        raise BadSample(f"--temperature: {temperature:g} must be a number above 0 (1 draws"
                        " from the model as it is, lower is surer, higher wilder)")
    if not COOLEST <= temperature <= WARMEST:  # float32 logits / 1e-308 are no numbers
        raise BadSample(f"--temperature: {temperature:g} is out of range: a number from"
                        f" {COOLEST:g} to {WARMEST:g}")
    if not 0 <= seed <= MOST_SEED:
        raise BadSample(f"--seed: {seed} is out of range: an integer from 0 to {MOST_SEED:_}")


def _symbols(run: Run) -> list[str]:
    """The run's symbols, which its model's classes index; BadFile for a run that has none
    to sample (the generator's, or a file of separate inputs and targets)."""
    d = run.config.data
    if not d.data_file:
        raise BadFile(run.path, "is trained on the generator's 0/1 series, which has no text"
                                " to sample: `rnntui inspect RUN` shows what it learned")
    started = next((e for e in read_events(run.path) if isinstance(e, Started)), None)
    symbols, inputs = (started.symbols, started.input_symbols) if started else ([], [])
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
        shown = read_look(run.path).get("predictions")
        codes = shown.x[:PRIME] if isinstance(shown, Predictions) and shown.x else [0]
        if not all(0 <= c < len(symbols) for c in codes):
            raise BadFile(run.path / LOOK, f"its predictions' inputs are not codes of the"
                                           f" run's {len(symbols)} symbols: give --prime")
        return codes
    parts = list(prime) if all(len(s) == 1 for s in symbols) else prime.split()
    if not parts:
        raise BadSample("--prime: empty: give at least one symbol")
    index = {s: i for i, s in enumerate(symbols)}
    unknown = sorted({p for p in parts if p not in index})
    if unknown:
        raise BadSample(f"--prime: {', '.join(map(repr, unknown[:8]))}: not among the symbols"
                        f" of the run's file ({len(symbols)} of them)")
    return [index[p] for p in parts]


def join(symbols: list[str], codes: list[int]) -> str:
    """Codes as text: characters run together, longer symbols apart."""
    sep = "" if all(len(s) == 1 for s in symbols) else " "
    return sep.join(symbols[c] for c in codes)


def _draw(run: Run, classes: int, prime: list[int], length: int, temperature: float,
          seed: int) -> list[int]:
    """In the engine's thread: the checkpoint's model, and `length` codes drawn from it."""
    from ..engine.tfload import quiet_tensorflow

    tf = quiet_tensorflow()
    from ..engine.model import build_model
    from ..engine.sampling import Sampler

    model = build_model(run.config)
    if [w.shape for w in model.get_weights()] != [w.shape for w in run.checkpoint.weights]:
        raise BadFile(run.path / CHECKPOINT, "its weights do not fit the run's config")
    model.set_weights(run.checkpoint.weights)
    if model.outputs[0].shape[-1] != classes:  # its codes would index past the symbols
        raise BadFile(run.path / METRICS, f"its {classes} symbols do not fit the checkpoint's"
                                          f" {model.outputs[0].shape[-1]} classes")
    return Sampler(tf, run.config, model).draw(prime, (temperature,), length, seed)[0]
