"""Where a config's series comes from, the rules generator or a file, and what follows from
it: the floors, the verdict, and the model's input and output widths.

With a file, the last val_fraction of its steps is the validation series and the rest the
training series; `size` and `val_size` become those lengths (validate sets them). Data mode
`fixed` trains on the training part as it is; `fresh`, which for the generator draws a new
series each epoch, starts each epoch's rows at a different place in it (the part rotated by
a fixed offset per epoch; epoch 0 is not rotated), so the truncation windows fall
differently each epoch while the data stay the file's.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..config import FIELDS, Config, ConfigError, DataConfig, validate
from ..core.events import Insight
from ..core.verdict import Floor, Verdict
from . import baselines, datafile, empirical, memory
from .generator import (
    TRAIN_STREAM,
    VAL_STREAM,
    Series,
    generate,
    series_seed,
    whole,
    windows,
)


def split(n_steps: int, val_fraction: float) -> tuple[int, int]:
    """(training steps, validation steps) of a file: the validation part is its tail."""
    n_val = int(n_steps * val_fraction)
    return n_steps - n_val, n_val


def file_errors(values: dict[str, Any]) -> dict[str, str]:
    """The data_file problem, if any, for the form's and validate's cross-field checks."""
    path = values["data_file"]
    try:
        data = datafile.load(path)
    except datafile.ConfigError as err:
        return {"data_file": str(err)}
    b, t = values.get("batch_size", 1), values.get("num_steps", 1)
    vf = values.get("val_fraction", 0.1)
    n_train, n_val = split(len(data.y), vf)
    most = (FIELDS["size"].hi, FIELDS["val_size"].hi)
    if n_train > most[0] or n_val > most[1]:
        return {"data_file": f"data_file: {path}: {len(data.y)} steps split by val_fraction"
                             f" {vf:g} into {n_train} training and {n_val} validation steps;"
                             f" at most {most[0]:.0f} and {most[1]:.0f} train here"}
    if min(n_train, n_val) < b * t:
        return {"data_file": f"data_file: {path}: {len(data.y)} steps split by val_fraction"
                             f" {vf:g} into {n_train} training and {n_val} validation steps;"
                             f" each part needs one batch (batch_size x num_steps ="
                             f" {b} x {t} = {b * t})"}
    return {}


def file_sizes(values: dict[str, Any]) -> dict[str, int]:
    n_train, n_val = split(len(datafile.load(values["data_file"]).y), values["val_fraction"])
    return {"size": n_train, "val_size": n_val}


def resolve(config: Config, training: bool = True) -> Config:
    """`config` validated, with its data file read and checked and the sizes it gives set:
    what a training trains (ConfigError naming the field otherwise). Reads the file (cached
    while it is unchanged): never on the app's UI thread. `training`: also refused if a
    training of it needs more memory than this machine has available (data.memory);
    a reader of a run that trains nothing passes False."""
    config = validate(config)
    values = config.flat()
    if values["data_file"]:
        for name, message in file_errors(values).items():
            raise ConfigError(name, message.split(": ", 1)[1])
        config = config.with_values(**file_sizes(values))
    if training:
        memory.check_fits(config, *io_sizes(config.data))
    return config


def io_sizes(d: DataConfig) -> tuple[int, int]:
    """(input symbols, target classes): 2 and 2 for the generator."""
    if not d.data_file:
        return 2, 2
    data = datafile.load(d.data_file)
    return len(data.x_symbols), len(data.y_symbols)


def symbols(d: DataConfig) -> tuple[list[str], list[str]]:
    """A file's symbols, (targets, inputs), which its codes index; ([], []) for the
    generator's 0/1."""
    if not d.data_file:
        return [], []
    data = datafile.load(d.data_file)
    return list(data.y_symbols), list(data.x_symbols)


def shows_text(d: DataConfig) -> bool:
    """Whether a file's series shows as its own symbols (text, with samples) rather than
    0/1: a file whose inputs or targets are anything but 0 and 1."""
    if not d.data_file:
        return False
    data = datafile.load(d.data_file)
    return not (data.x_symbols == ("0", "1") and data.y_symbols == ("0", "1"))


def samples(d: DataConfig) -> bool:
    """Whether a model of the file can be sampled: it predicts the next symbol of one series
    (a text), so what it draws can be fed back as its input."""
    return shows_text(d) and datafile.load(d.data_file).kind == "next symbol"


def binary_inputs(d: DataConfig) -> bool:
    """Whether the inputs are 0/1 (the generator's are): what the memory readout needs."""
    return not d.data_file or datafile.load(d.data_file).x_symbols == ("0", "1")


def insight_off(d: DataConfig) -> str:
    """Why the lag effects, gradient reach and hidden state are not measured ("" if they
    are): flipping X[t-k] and reading P(Y_t=1) needs 0/1 inputs and 0/1 targets."""
    if not d.data_file:
        return ""
    data = datafile.load(d.data_file)
    if data.x_symbols == ("0", "1") and data.y_symbols == ("0", "1"):
        return ""
    return (f"insight is off: it flips a 0/1 input and reads P(y=1); {d.data_file} has "
            f"{len(data.x_symbols)} input and {len(data.y_symbols)} target symbols")


class FileSeries:
    """A file's training part with the generator Series' `rows` (see data.EpochFeed)."""

    def __init__(self, d: DataConfig, epoch: int):
        data = datafile.load(d.data_file)
        self.x, self.y = data.x[: d.size], data.y[: d.size]
        # A golden-ratio step per epoch spreads the offsets over the part (fresh only).
        self.shift = 0 if d.data_mode == "fixed" else int(epoch * 0.6180339887 * d.size) % d.size

    def rows(self, starts: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
        starts = (np.asarray(starts, dtype=np.int64) + self.shift) % len(self.x)
        if starts.max(initial=0) + length <= len(self.x):
            # Rows copied whole from a window view: a memcpy each, no index array per step.
            return tuple(sliding_window_view(a, length)[starts] for a in (self.x, self.y))
        idx = (starts[:, None] + np.arange(length)) % len(self.x)  # a row that wraps around
        return self.x[idx], self.y[idx]


def val_part(d: DataConfig) -> tuple[np.ndarray, np.ndarray]:
    data = datafile.load(d.data_file)
    return data.x[d.size: d.size + d.val_size], data.y[d.size: d.size + d.val_size]


def train_series_of(cfg: DataConfig, epoch: int) -> Series:
    """The training series for an epoch: a new one each epoch (fresh) or always the first;
    with a data file, the file's training part (source.FileSeries)."""
    if cfg.data_file:
        return FileSeries(cfg, epoch)
    index = epoch if cfg.data_mode == "fresh" else 0
    return Series(series_seed(cfg.seed, TRAIN_STREAM, index), cfg.base, cfg.rules)


def train_series(cfg: DataConfig, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """The whole training series of an epoch, in memory (the trainer streams it instead)."""
    return whole(train_series_of(cfg, epoch), cfg.size)


def val_series(cfg: DataConfig) -> tuple[np.ndarray, np.ndarray]:
    if cfg.data_file:
        return val_part(cfg)
    return generate(cfg.val_size, series_seed(cfg.seed, VAL_STREAM), cfg.base, cfg.rules)


@lru_cache(maxsize=4)
def _windows(data: datafile.FileData, val_fraction: float) -> empirical.Windows:
    n_train, _ = split(len(data.y), val_fraction)
    return empirical.windows(data.x, data.y, n_train, len(data.x_symbols), len(data.y_symbols))


def file_windows(d: DataConfig) -> empirical.Windows:
    return _windows(datafile.load(d.data_file), d.val_fraction)


def floors(d: DataConfig) -> list[Floor]:
    if not d.data_file:
        return baselines.floors(d.base, d.rules)
    return list(file_windows(d).floors)


def realised_floors(config: Config, vy: np.ndarray) -> list[Floor]:
    """The floors on the validation sample a training is scored on (`vy`, its targets), at
    the positions its validation loss averages over: per step, the cross-entropy of
    E[P(Y=1) | the X at the lags known], for the same nested sets as the analytic floors
    (`floors`). Model and floor then share the sample's noise. The last is the loss of the
    true P(Y=1) itself: the optimum on this sample. A file's floors are its empirical
    windows, on its validation part already."""
    d, t = config.data, config.train
    if d.data_file:
        return floors(d)
    rules = tuple(sorted(d.rules))
    x = Series(series_seed(d.seed, VAL_STREAM), d.base, rules).inputs(len(vy))
    pad = max((lag for lag, _ in rules), default=0)
    pos = windows(np.arange(len(vy)), t.batch_size, t.num_steps).ravel()  # as scored
    y = vy[pos].astype(bool)
    q = np.full(len(pos), d.base + 0.5 * sum(delta for _, delta in rules), np.float64)
    out = []
    for k, fl in enumerate(baselines.floors(d.base, rules)):
        if k:  # one more lag known: its delta times X, not its mean
            lag, delta = rules[k - 1]
            q += delta * (x[pad + pos - lag] - 0.5)
        with np.errstate(divide="ignore"):
            loss = -np.where(y, np.log(q), np.log1p(-q))
        out.append(Floor(fl.name, float(loss.mean())))
    return out


def window_floor(d: DataConfig, num_steps: int, stride: int | None = None) -> float:
    """The training loss of a model that sees only its window, under the truncation style
    (baselines.window_floor)."""
    if not d.data_file:
        return baselines.window_floor(d.base, d.rules, num_steps, stride)
    return file_windows(d).window_floor(num_steps, stride)


def verdict(loss: float, config: Config, fl: list[Floor], seen: Insight | None = None) -> Verdict:
    """The rules' verdict, from what the model was measured to have learned (`seen`: an
    Insight; none, and the fractions are not measured), or a file's by window."""
    d, t = config.data, config.train
    if d.data_file:
        return empirical.verdict(loss, fl)
    if seen is None or not seen.effects:
        return baselines.verdict(loss, d.base, d.rules, fl, num_steps=t.num_steps,
                                 carry=t.carry_state)
    return baselines.verdict(loss, d.base, d.rules, fl, seen.effects, seen.effects_se or None,
                             t.num_steps, t.carry_state, seen.step)
