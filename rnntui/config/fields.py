"""Run configuration: three small dataclasses, one field table, and the checks that need no
file.

The field table (`FIELDS`) drives everything that names a field: the command-line flags,
the app's form, the TOML file and the error messages. Every message starts with the
field's name and says what is allowed, so the app can show it inline and the command
line can print it and exit 2. A data file's own checks (it exists, it parses, it holds a
batch) read the file, so they live with the files: rnntui.data.source.resolve.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from itertools import product
from typing import Any

Rules = tuple[tuple[int, float], ...]

CELLS = ("basic", "rnn", "gru", "lstm")
OPTIMIZERS = ("adagrad", "adam", "rmsprop", "sgd")
DATA_MODES = ("fresh", "fixed")
STRATEGIES = ("none", "mirrored", "multiworker")
CUDNN = ("auto", "on", "off")
PRECISIONS = ("float32", "mixed")
TRUNCATIONS = ("windows", "even")
MAX_REPLICAS = 64
MAX_RULES = 10
MAX_LAG = 1000
MAX_DROPOUT = 0.9


class ConfigError(ValueError):
    """A bad value; `field` names it and str(err) is one line naming field and what is allowed."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(frozen=True)
class DataConfig:
    size: int = 1_000_000  # training series length in time steps (the seed's gen_data size)
    seed: int = 0  # seeds the series, the validation series and the weights
    base: float = 0.5  # P(Y_t=1) before any rule applies
    rules: Rules = ((3, 0.5), (8, -0.25))  # (lag, delta): P(Y_t=1) += delta * X_{t-lag}
    data_mode: str = "fresh"  # fresh: a new series each epoch (the seed's gen_epochs); fixed: one
    val_size: int = 100_000  # held-out validation series length, with its own seed
    # A .npz, .csv or .txt to train on instead of the rules generator ("": the generator).
    # With a file, size and val_size come from it (see source.py), split by val_fraction.
    data_file: str = ""
    val_fraction: float = 0.1  # a file's last part, held out for validation


@dataclass(frozen=True)
class ModelConfig:
    cell: str = "basic"  # basic (the seed's tanh cell, by hand), rnn, gru or lstm
    num_layers: int = 1  # stacked recurrent layers
    state_size: int = 4  # units per layer (the seed's state_size)
    # Dropout on the non-recurrent connections (between stacked layers and on the last
    # layer's output, as Zaremba et al. 2014), on while training only.
    dropout: float = 0.0
    # Layer normalization inside the cell, on the gate pre-activations (Ba et al. 2016).
    layer_norm: bool = False


@dataclass(frozen=True)
class TrainConfig:
    num_steps: int = 5  # truncated-backprop window (the seed's num_steps)
    # windows: cut the series into windows of num_steps and backprop inside each (the
    # seed's; a window's first position's error flows back 1 step, its last num_steps);
    # even: every position's error flows back num_steps steps (stride 1).
    truncation: str = "windows"
    # TBPTT(k1=stride, k2=num_steps) (Williams and Peng): windows of num_steps that advance
    # by stride, the loss on each window's last stride positions. 0: the style's own
    # (num_steps for windows, 1 for even). See effective_stride.
    stride: int = 0
    batch_size: int = 200  # rows, each a contiguous stretch of the series
    optimizer: str = "adagrad"  # the seed's; also adam, rmsprop, sgd
    learning_rate: float = 0.1
    clip_norm: float = 0.0  # global-norm gradient clipping; 0 turns it off
    epochs: int = 1
    carry_state: bool = True  # carry each batch's final state into the next (off: reset each batch)
    device: str = "auto"  # auto (the GPU when there is one), cpu, gpu or gpu:N
    # none: one device; mirrored: the local GPUs (or `replicas` logical CPU devices);
    # multiworker: the hosts in TF_CONFIG. The batch's rows split evenly over replicas.
    strategy: str = "none"
    replicas: int = 0  # mirrored: how many (0: every local GPU, or 1 CPU device)
    cudnn: str = "auto"  # on a GPU, LSTM/GRU: the fused cuDNN kernel (on) or XLA (off)
    precision: str = "float32"  # mixed: float16 compute with float32 weights, on a GPU
    # TensorFlow's op determinism (cuDNN, XLA and reductions too): a rerun matches bit for
    # bit, on a GPU too, at some speed (see runs.config_string).
    deterministic: bool = False


def states_per_layer(cell: str) -> int:
    """State tensors each layer carries: (h, c) for the LSTM, h for the others."""
    return 2 if cell == "lstm" else 1


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def get(self, name: str) -> Any:
        return getattr(getattr(self, FIELDS[name].section), name)

    def with_values(self, **values: Any) -> Config:
        """A copy with fields replaced by flat name (size=..., cell=...)."""
        sections: dict[str, dict[str, Any]] = {}
        for name, value in values.items():
            if name not in FIELDS:
                raise ConfigError(name, f"unknown field; known: {', '.join(FIELDS)}")
            sections.setdefault(FIELDS[name].section, {})[name] = value
        parts = {s: replace(getattr(self, s), **v) for s, v in sections.items()}
        return replace(self, **parts)

    def flat(self) -> dict[str, Any]:
        return {name: self.get(name) for name in FIELDS}


@dataclass(frozen=True)
class Field:
    name: str
    section: str  # data, model or train
    kind: str  # int, float, choice, bool, rules
    help: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    open_lo: bool = False  # lo itself is not allowed (learning_rate > 0)

    def allowed(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "bool":
            return "true or false"
        if self.kind == "rules":
            return f"LAG:DELTA pairs, lag 1 to {MAX_LAG}, delta -1 to 1, at most {MAX_RULES}"
        if self.kind == "device":
            return "auto, cpu, gpu or gpu:N"
        if self.kind == "path":
            return "a .npz, .csv or .txt file, or empty for the rules generator"
        noun = "an integer" if self.kind == "int" else "a number"
        lo = _fmt(self.lo)
        if self.open_lo:
            return f"{noun} > {lo} and <= {_fmt(self.hi)}"
        return f"{noun} from {lo} to {_fmt(self.hi)}"


def _fmt(v: float | None) -> str:
    if v is None:
        return "?"
    return f"{int(v):,}".replace(",", "_") if float(v).is_integer() else f"{v:g}"


def _fields() -> dict[str, Field]:
    f = [
        Field("size", "data", "int", "training series length (steps)", 1, 100_000_000),
        Field("seed", "data", "int", "random seed", 0, 2**32 - 1),
        Field("base", "data", "float", "P(Y=1) before the rules", 0, 1),
        Field("rules", "data", "rules", "rules LAG:DELTA, comma-separated"),
        Field("data_mode", "data", "choice", "fresh series each epoch, or one fixed",
              choices=DATA_MODES),
        # Held whole in memory and evaluated whole at each epoch end: 10M is ~0.5 GB more.
        Field("val_size", "data", "int", "validation series length (steps)", 1, 10_000_000),
        Field("data_file", "data", "path", "train on a file (empty: the rules generator)"),
        Field("val_fraction", "data", "float", "a file's last part held out", 0.01, 0.9),
        Field("cell", "model", "choice", "recurrent cell", choices=CELLS),
        Field("num_layers", "model", "int", "stacked layers", 1, 8),
        Field("state_size", "model", "int", "units per layer", 1, 1024),
        Field("dropout", "model", "float", "dropout between layers and on the output", 0,
              MAX_DROPOUT),
        Field("layer_norm", "model", "bool", "layer normalization inside the cell"),
        Field("num_steps", "train", "int", "truncated-backprop window", 1, 200),
        Field("truncation", "train", "choice", "windows (the seed's) or even backprop",
              choices=TRUNCATIONS),
        Field("stride", "train", "int", "windows advance by (0 = the style's)", 0, 200),
        Field("batch_size", "train", "int", "rows per batch", 1, 65_536),
        Field("optimizer", "train", "choice", "optimizer", choices=OPTIMIZERS),
        Field("learning_rate", "train", "float", "learning rate", 0, 1e6, open_lo=True),
        Field("clip_norm", "train", "float", "global-norm clip (0 = off)", 0, 1e6),
        Field("epochs", "train", "int", "epochs", 1, 100_000),
        Field("carry_state", "train", "bool", "carry the state across batches"),
        Field("device", "train", "device", "where to train"),
        Field("strategy", "train", "choice", "tf.distribute strategy", choices=STRATEGIES),
        Field("replicas", "train", "int", "mirrored replicas (0 = all GPUs)", 0, MAX_REPLICAS),
        Field("cudnn", "train", "choice", "LSTM/GRU on a GPU: cuDNN kernel or XLA",
              choices=CUDNN),
        Field("precision", "train", "choice", "mixed = float16 compute on a GPU",
              choices=PRECISIONS),
        Field("deterministic", "train", "bool",
              "op determinism: GPU reruns match bit for bit, slower"),
    ]
    return {x.name: x for x in f}


FIELDS = _fields()


def parse_rules(text: str) -> Rules:
    """'3:0.5, 8:-0.25' -> ((3, 0.5), (8, -0.25)); raises ConfigError('rules', ...)."""
    rules = []
    for part in [p.strip() for p in text.replace(";", ",").split(",")]:
        if not part:
            continue
        lag, sep, delta = part.partition(":")
        if not sep:
            raise ConfigError("rules", f"{part!r} is not LAG:DELTA (e.g. 3:0.5)")
        rules.append((_number("rules", lag, int), _number("rules", delta, float)))
    return check_rules(tuple(rules))


def format_rules(rules: Rules) -> str:
    return ", ".join(f"{lag}:{delta:g}" for lag, delta in rules)


def _number(name: str, text: Any, kind: type) -> Any:
    if isinstance(text, bool):
        raise ConfigError(name, f"{text!r} is not a number")
    s = str(text).strip().replace("_", "")
    try:
        value = float(s) if kind is float else int(s)
    except (TypeError, ValueError):
        if kind is int:
            try:
                as_float = float(s)
            except ValueError:
                as_float = None
            if as_float is not None and math.isfinite(as_float) and as_float.is_integer():
                return int(as_float)
        noun = "an integer" if kind is int else "a number"
        raise ConfigError(name, f"{str(text)!r} is not {noun}") from None
    if kind is float and not math.isfinite(value):
        raise ConfigError(name, f"{str(text)!r} is not a finite number")
    return value


def parse_value(name: str, text: Any) -> Any:
    """Parse one field from text (the form, a flag) or a TOML value; ConfigError if bad."""
    if name not in FIELDS:
        raise ConfigError(name, f"unknown field; known: {', '.join(FIELDS)}")
    f = FIELDS[name]
    if f.kind == "rules":
        if isinstance(text, str):
            return parse_rules(text)
        try:
            pairs = tuple((_number(name, lag, int), _number(name, d, float)) for lag, d in text)
        except (TypeError, ValueError) as err:
            if isinstance(err, ConfigError):
                raise
            raise ConfigError(name, f"must be {f.allowed()}") from None
        return check_rules(pairs)
    if f.kind == "bool":
        if isinstance(text, bool):
            return text
        s = str(text).strip().lower()
        if s in ("true", "yes", "on", "1"):
            return True
        if s in ("false", "no", "off", "0"):
            return False
        raise ConfigError(name, f"{text!r} is not {f.allowed()}")
    if f.kind == "device":
        s = str(text).strip().lower()
        if not re.fullmatch(r"auto|cpu|gpu(:[0-9]{1,2})?", s):
            raise ConfigError(name, f"{str(text)!r} is not {f.allowed()}")
        return s
    if f.kind == "path":
        return str(text).strip()
    if f.kind == "choice":
        s = str(text).strip().lower()
        if s not in f.choices:
            raise ConfigError(name, f"{str(text)!r} is not {f.allowed()}")
        return s
    value = _number(name, text, int if f.kind == "int" else float)
    too_low = value <= f.lo if f.open_lo else value < f.lo
    if too_low or value > f.hi:
        raise ConfigError(name, f"{value:g} is out of range: {f.allowed()}")
    return value


def check_rules(rules: Rules) -> Rules:
    if len(rules) > MAX_RULES:
        raise ConfigError("rules", f"{len(rules)} rules; at most {MAX_RULES} are allowed")
    seen = set()
    for lag, delta in rules:
        if not 1 <= lag <= MAX_LAG:
            raise ConfigError("rules", f"lag {lag} is out of range: 1 to {MAX_LAG}")
        if lag in seen:
            raise ConfigError("rules", f"lag {lag} is repeated; each lag may appear once")
        if not -1 <= delta <= 1:
            raise ConfigError("rules", f"delta {delta:g} for lag {lag} is out of range: -1 to 1")
        seen.add(lag)
    return tuple(sorted(rules))


def check_probabilities(base: float, rules: Rules) -> None:
    """Every combination of the rule lags' X values must give P(Y=1) in [0, 1]."""
    lags = [lag for lag, _ in rules]
    for xs in product((0, 1), repeat=len(rules)):
        p = base + sum(d * x for (_, d), x in zip(rules, xs, strict=True))
        if p < -1e-12 or p > 1 + 1e-12:
            combo = ", ".join(f"X[t-{lag}]={x}" for lag, x in zip(lags, xs, strict=True)) or "no X"
            raise ConfigError(
                "rules", f"{combo} gives P(Y=1) = {p:g} with base {base:g}; it must be in [0, 1]"
            )


def cross_errors(values: dict[str, Any]) -> dict[str, str]:
    """The checks between fields, on whichever of them parsed: field -> one-line message."""
    errors: dict[str, str] = {}
    if "base" in values and "rules" in values:
        try:
            check_probabilities(values["base"], values["rules"])
        except ConfigError as err:
            errors[err.field] = str(err)
    if values.get("data_file"):
        pass  # the file sets size and val_size: checked against it (data.source.file_errors)
    elif "batch_size" in values and "num_steps" in values:
        b, t = values["batch_size"], values["num_steps"]
        for name in ("size", "val_size"):
            if name in values and values[name] < b * t:
                errors[name] = (
                    f"{name}: {values[name]} is too small for one batch: needs at least"
                    f" batch_size x num_steps = {b} x {t} = {b * t}")
    errors.update(stride_errors(values))
    r = values.get("replicas", 0)
    if r > 1 and values.get("strategy") == "none":
        errors["replicas"] = (f"replicas: {r} needs strategy mirrored;"
                              " with strategy none it must be 0 or 1")
    elif r > 0 and "batch_size" in values and values["batch_size"] % r:
        b = values["batch_size"]
        errors["replicas"] = (f"replicas: {r} does not divide batch_size {b}; each replica"
                              " takes an equal share of the batch's rows")
        errors.setdefault("batch_size", str(split_error(b, r)))
    return errors


def stride_errors(values: dict[str, Any]) -> dict[str, str]:
    """`stride` against num_steps and the truncation style, on whichever parsed."""
    stride, n = values.get("stride", 0), values.get("num_steps")
    if not stride or n is None:
        return {}
    if stride > n:
        return {"stride": f"stride: {stride} is out of range: 0 (the style's own) or 1 to"
                          f" num_steps ({n})"}
    if values.get("truncation") == "even" and stride != 1:
        return {"stride": f"stride: {stride} is not even truncation's (1): set it to 0 or 1,"
                          " or truncation windows for TBPTT(stride, num_steps)"}
    return {}


def split_error(batch_size: int, replicas: int) -> ConfigError:
    """The batch_size error for replica counts known only at run time (every GPU)."""
    return ConfigError("batch_size", f"{batch_size} does not split evenly over {replicas}"
                       " replicas; it must be a multiple of replicas")


def validate(config: Config) -> Config:
    """Check every field and the cross-field rules; returns the config or raises ConfigError.
    A data file is not read here: rnntui.data.source.resolve checks it and sets the sizes
    it gives."""
    values = {name: parse_value(name, value) for name, value in config.flat().items()}
    for name, message in cross_errors(values).items():
        raise ConfigError(name, message.split(": ", 1)[1])
    return config.with_values(**values)
