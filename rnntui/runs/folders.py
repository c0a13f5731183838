"""Run folders: every training, from the app or the command line, becomes one.

    runs/<time>-<name>/config.toml       the config, written atomically
                      metrics.jsonl      one line per event (runs.recorder)
                      look.json          the newest predictions and insight
                      live.json          who trains it, the heartbeat, how it ended (runs.live)
                      checkpoint.npz     every epoch end and on stop (engine.checkpoint)
                      tb/                TensorBoard: train and validation loss, the floors

The recorder is an event listener; nothing in the trainer knows about files but the
checkpoint path it is given.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config, ConfigError, load_toml, to_toml
from ..core.files import FAULTS, BadFile, failed_write, make_private_dir, write_atomic
from ..engine.checkpoint import Checkpoint, load
from .report import dumps

CONFIG, METRICS, CHECKPOINT, TB = "config.toml", "metrics.jsonl", "checkpoint.npz", "tb"
LOOK = "look.json"  # the newest Predictions and Insight (runs.recorder)
DEFAULT_RUNS_DIR = "runs"


def default_name(config: Config) -> str:
    m, t = config.model, config.train
    return f"{m.cell}{m.state_size}-ns{t.num_steps}"


def new_run(config: Config, runs_dir: str | Path = DEFAULT_RUNS_DIR,
            name: str | None = None) -> Path:
    """Make a fresh run folder (0700: its files can hold the user's data) holding
    config.toml, whose data file is recorded absolute (a resume or a sample from another
    folder finds it); returns its path."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", name or default_name(config)).strip("-") or "run"
    root = Path(runs_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for n in range(1, 1000):
            path = root / (f"{stamp}-{name}" + (f"-{n}" if n > 1 else ""))
            try:
                make_private_dir(path)
                break
            except FileExistsError:
                continue
        given = config.data.data_file
        if given:
            config = config.with_values(data_file=str(Path(given).expanduser().absolute()))
        write_atomic(path / CONFIG, to_toml(config))
        if given:
            from .datarecord import record

            record(given, path)
    except OSError as err:
        if err.errno in FAULTS:  # the machine's fault, not the user's input: exit 1
            raise failed_write(getattr(err, "filename", None) or root, err) from None
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
            d = json.loads(line)
        except json.JSONDecodeError:
            if i != len(lines) - 1:
                raise BadFile(p, f"line {i + 1} is not JSON") from None
            continue  # a torn last line: the writer was killed mid-line
        if not isinstance(d, dict) or not isinstance(d.get("event"), str):
            raise BadFile(p, f"line {i + 1} is not a metrics event (a JSON object with an"
                             " \"event\")")
        out.append(d)
    return out


def owed_epoch_end(run: Path, ckpt: Checkpoint) -> tuple[int, float] | None:
    """The epoch end a checkpoint was saved at whose validation never reached the metrics
    (the trainer was killed between the two; the checkpoint is written first): (that
    epoch, its mean training loss), for the resumed training to validate first. None if
    nothing is owed."""
    if ckpt.batch != 0 or ckpt.epoch == 0:
        return None
    epoch, metrics = ckpt.epoch - 1, read_metrics(run)
    if any(m.get("event") == "epoch_end" and m.get("epoch") == epoch for m in metrics):
        return None
    losses = [x for m in metrics if m.get("event") == "progress" and m.get("epoch") == epoch
              and isinstance(m.get("losses"), list) for x in m["losses"]
              if isinstance(x, float)]
    return epoch, (sum(losses) / len(losses) if losses else math.nan)


LOST = "epoch_lost"  # a metrics line: an epoch whose validation never landed, and why


def truncate_metrics(run: Path, ckpt: Checkpoint) -> None:
    """Drop what was logged after the checkpoint, so a resumed curve continues; mark each
    epoch the checkpoint went past whose validation never landed (a killed trainer: the
    validations run behind the training) as lost, with why, after its last line. The
    checkpoint's own epoch end is not marked: the resume validates it (owed_epoch_end)."""
    keep = [m for m in read_metrics(run) if m.get("step", 0) <= ckpt.step
            and m.get("event") not in ("finished", "summary")]
    ended = {m.get("epoch") for m in keep if m.get("event") in ("epoch_end", LOST)}
    owed = ckpt.epoch - 1 if ckpt.batch == 0 else None
    for epoch in range(ckpt.epoch):
        if epoch in ended or epoch == owed:
            continue
        at = max((i for i, m in enumerate(keep)
                  if isinstance(m.get("epoch"), int) and m["epoch"] <= epoch),
                 default=len(keep) - 1)
        step = keep[at].get("step", 0) if at >= 0 else 0
        keep.insert(at + 1, {"event": LOST, "epoch": epoch, "step": step, "reason":
                             "its validation never landed (the trainer ended first) and its"
                             " weights were not kept"})
    write_atomic(run / METRICS, "".join(dumps(m) + "\n" for m in keep))


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
            out.append(_summary(path, config, read_metrics(path)))
        except (ConfigError, KeyError, TypeError, AttributeError, ValueError):
            continue  # (the runs screen says why: it opens the folder again)
    return out


def _summary(path: Path, config: Config, metrics: list[dict]) -> RunSummary:
    """A run's row from its metrics (KeyError or TypeError for a line of the wrong shape)."""
    val, fractions, status = math.nan, {}, "unfinished"
    for m in metrics:
        if m.get("event") == "epoch_end":
            val = m["val_loss"] if isinstance(m["val_loss"], float) else math.nan
            v = m["verdict"]
            fractions = {f"t-{lag}": float(f) for lag, f in zip(v["lags"], v["fractions"],
                                                                strict=False)}
        elif m.get("event") == "finished":
            status = "stopped" if m.get("stopped") else "finished"
    return RunSummary(path, config, val, fractions, status)
