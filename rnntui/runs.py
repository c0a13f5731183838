"""Run folders: every training, from the app or the command line, becomes one.

    runs/<time>-<name>/config.toml       the config, written atomically
                      metrics.jsonl      one line per chunk and per epoch (the JSON events)
                      checkpoint.npz     every epoch end and on stop (rnntui.checkpoint)
                      tb/                TensorBoard: train and validation loss, the floors

`Recorder` is an event listener; nothing in the trainer knows about files but the
checkpoint path it is given.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checkpoint import BadFile, Checkpoint, load
from .config import FIELDS, Config, ConfigError, format_value, load_toml, parse_value, to_toml
from .events import EpochEnd, Event, Finished, Progress, Started
from .report import dumps

CONFIG, METRICS, CHECKPOINT, TB = "config.toml", "metrics.jsonl", "checkpoint.npz", "tb"
DEFAULT_RUNS_DIR = "runs"


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def default_name(config: Config) -> str:
    m, t = config.model, config.train
    return f"{m.cell}{m.state_size}-ns{t.num_steps}"


def new_run(config: Config, runs_dir: str | Path = DEFAULT_RUNS_DIR,
            name: str | None = None) -> Path:
    """Make a fresh run folder holding config.toml; returns its path."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", name or default_name(config)).strip("-") or "run"
    root = Path(runs_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for n in range(1, 1000):
            path = root / (f"{stamp}-{name}" + (f"-{n}" if n > 1 else ""))
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
        write_atomic(path / CONFIG, to_toml(config))
        if config.data.data_file:
            from .datafile import record

            record(config.data.data_file, path)
    except OSError as err:
        raise BadFile(root, f"cannot make a run folder there: {err.strerror or err}") from None
    return path


@dataclass
class Run:
    """A run folder read back: its config, metrics and checkpoint (if any)."""

    path: Path
    config: Config
    checkpoint: Checkpoint | None

    @property
    def name(self) -> str:
        return self.path.name


def open_run(path: str | Path) -> Run:
    """Read a run folder; a missing, foreign or corrupt piece is a BadFile naming it."""
    path = Path(path)
    if not path.is_dir():
        raise BadFile(path, "is not a run folder (no such directory)")
    cfg_path = path / CONFIG
    if not cfg_path.is_file():
        raise BadFile(path, f"is not a run folder (no {CONFIG})")
    try:
        config = load_toml(cfg_path, Config())
    except ConfigError as err:
        raise BadFile(cfg_path, str(err)) from None
    ckpt = load(path / CHECKPOINT) if (path / CHECKPOINT).exists() else None
    return Run(path, config, ckpt)


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The metrics lines of a run; a torn last line (a killed writer) is skipped."""
    p = Path(path)
    p = p / METRICS if p.is_dir() else p
    out = []
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as err:
        raise BadFile(p, f"cannot be read: {err}") from None
    for i, line in enumerate(lines):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            if i != len(lines) - 1:
                raise BadFile(p, f"line {i + 1} is not JSON") from None
    return out


def truncate_metrics(run: Path, step: int) -> None:
    """Drop what was logged after `step` (the checkpoint), so a resumed curve continues."""
    keep = [m for m in read_metrics(run) if m.get("step", 0) <= step
            and m.get("event") not in ("finished", "summary")]
    write_atomic(run / METRICS, "".join(dumps(m) + "\n" for m in keep))


class Recorder:
    """Writes a run's metrics.jsonl and TensorBoard events from the trainer's events."""

    def __init__(self, run: Path):
        self.run = run
        self._f = open(run / METRICS, "a", encoding="utf-8")  # noqa: SIM115 (closed on finish)
        self._tb = None
        self._floors: list = []
        self._t0 = time.perf_counter()

    def on_event(self, event: Event) -> None:
        if isinstance(event, Started):
            self._floors = event.floors
            self._open_tensorboard()
            self._scalars(0, floors=True)
        if isinstance(event, (Progress, EpochEnd, Finished)):
            d = event.to_json()
            d["wall_s"] = round(time.perf_counter() - self._t0, 3)
            self._f.write(dumps(d) + "\n")
            self._f.flush()
        if isinstance(event, Progress) and event.losses:
            self._scalars(event.step, train=sum(event.losses) / len(event.losses))
        elif isinstance(event, EpochEnd):
            self._scalars(event.step, val=event.val_loss, floors=True)
        if event.kind in ("finished", "diverged", "failed"):
            self.close()

    def _open_tensorboard(self) -> None:
        try:
            import tensorflow as tf  # loaded already: the trainer imported it

            self._tb = tf.summary.create_file_writer(str(self.run / TB))
        except Exception:  # TensorBoard files are a convenience; never fail a run for them
            self._tb = None

    def _scalars(self, step: int, train: float | None = None, val: float | None = None,
                 floors: bool = False) -> None:
        if self._tb is None:
            return
        import tensorflow as tf

        with self._tb.as_default(step=step):
            if train is not None and math.isfinite(train):
                tf.summary.scalar("loss/train", train)
            if val is not None and math.isfinite(val):
                tf.summary.scalar("loss/val", val)
            if floors:  # one point per epoch draws each floor as a flat line
                for f in self._floors:
                    tf.summary.scalar(f"floor/{f.name}", f.loss)

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()
        if self._tb is not None:
            self._tb.flush()
            self._tb.close()
            self._tb = None


@dataclass
class RunSummary:
    """One row of the runs panel."""

    path: Path
    config: Config
    val_loss: float
    fractions: dict[str, float]
    status: str  # finished, stopped, running or unfinished


def list_runs(runs_dir: str | Path = DEFAULT_RUNS_DIR) -> list[RunSummary]:
    """Every readable run under runs_dir, newest first; unreadable folders are skipped."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    out = []
    for path in sorted(root.iterdir(), reverse=True):
        if not (path / CONFIG).is_file():
            continue
        try:
            config = load_toml(path / CONFIG, Config())
            metrics = read_metrics(path)
        except ConfigError:
            continue
        val, fractions, status = math.nan, {}, "unfinished"
        for m in metrics:
            if m.get("event") == "epoch_end":
                val = m["val_loss"] if isinstance(m["val_loss"], float) else math.nan
                v = m["verdict"]
                fractions = {f"t-{lag}": f for lag, f in zip(v["lags"], v["fractions"],
                                                             strict=False)}
            elif m.get("event") == "finished":
                status = "stopped" if m.get("stopped") else "finished"
        out.append(RunSummary(path, config, val, fractions, status))
    return out


def config_string(config: Config) -> str:
    """One line that reproduces a run, seed included: field=value joined by '&'.
    Floats are written with repr, so they read back bit for bit. The same config trains the
    same run; bit for bit on a GPU only with `deterministic=true`, since cuDNN kernels and
    the GPU's reductions may otherwise add in a different order from run to run."""
    parts = []
    for name in FIELDS:
        v = config.get(name)
        if name == "rules":
            text = ",".join(f"{lag}:{d!r}" for lag, d in v)
        elif isinstance(v, float):
            text = repr(v)
        else:
            text = format_value(name, v)
        parts.append(f"{name}={text}")
    return "&".join(parts)


def parse_config_string(text: str, base: Config | None = None) -> Config:
    """Inverse of config_string; fields it leaves out keep `base`'s values."""
    values = {}
    for part in filter(None, text.strip().split("&")):
        name, sep, value = part.partition("=")
        if not sep:
            raise ConfigError("config_string", f"{part!r} is not field=value")
        values[name] = parse_value(name, value)
    return (base or Config()).with_values(**values)


def train_into_run(config: Config, on_event, *, runs_dir: str | Path = DEFAULT_RUNS_DIR,
                   name: str | None = None, resume: Run | None = None,
                   folder: str | Path | None = None, opened=None, control=None,
                   jit: bool | None = None, strategy=None,
                   graph_first: bool = False) -> Event:
    """Open a run's folder and train `config` into it: every event recorded (metrics,
    TensorBoard) and passed to `on_event`, a checkpoint at every epoch end and on stop.

    The folder: `resume`'s (its metrics cut back to its checkpoint, which the training
    continues from; a data file that changed since is refused), else `folder` as it is (a
    multiworker's scratch), else a new one under `runs_dir`. `opened(path)` hears it before
    the training starts. A folder that cannot be made or read raises ConfigError (BadFile) or
    OSError before anything trains; the training itself never raises (Trainer.run).
    `graph_first`: the app's (see Trainer).
    The command line, the sweep and the app all train through this."""
    from .train import Trainer

    if resume is not None:
        path = resume.path
        if config.data.data_file:  # the same data, or no resume
            from .datafile import check_unchanged

            check_unchanged(config.data.data_file, path)
        if resume.checkpoint is not None:
            truncate_metrics(path, resume.checkpoint.step)  # what came after it goes
    elif folder is not None:
        path = Path(folder)
    else:
        path = new_run(config, runs_dir, name)
    if opened is not None:
        opened(path)
    recorder = Recorder(path)

    def both(event) -> None:
        recorder.on_event(event)
        on_event(event)

    try:
        return Trainer(config, both, control, checkpoint_path=path / CHECKPOINT,
                       resume=resume.checkpoint if resume else None, jit=jit,
                       strategy=strategy, graph_first=graph_first).run()
    finally:
        recorder.close()
