"""Reading runs back to compare them: their training curves and how their configs differ.

numpy and the run files only (no Textual, no TensorFlow), so the runs screen's thread
workers and the resume path share it, and tests can call it directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import FIELDS, Config, format_value
from ..core.files import BadFile
from ..runs.folders import METRICS, read_metrics
from ..runs.follow import curve_points


@dataclass
class Curve:
    """A run's per-step training losses and its validation losses, as logged."""

    steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    losses: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    val: list[tuple[int, float]] = field(default_factory=list)


def read_curve(run: str | Path) -> Curve:
    """The curve in a run folder's metrics.jsonl (empty if none yet); BadFile if a line
    is not what the trainer writes."""
    steps, losses, val = [], [], []
    for i, m in enumerate(read_metrics(run)):
        try:
            if m.get("event") == "progress":
                # JSON has no NaN: a non-finite loss was written as "nan" or "inf"; past the
                # metrics' keep-every-step limit a line stands for `span` steps.
                points = curve_points(m["step"], m["losses"], m.get("span"))
                steps.append(np.array([s for s, _ in points], dtype=np.int64))
                losses.append(np.array([x for _, x in points], dtype=np.float32))
            elif m.get("event") == "epoch_end":
                val.append((int(m["step"]), float(m["val_loss"])))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise BadFile(Path(run) / METRICS, f"line {i + 1} is not a metrics line") from None
    if not steps:
        return Curve(val=val)
    return Curve(np.concatenate(steps).astype(np.int64), np.concatenate(losses), val)


def config_diff(configs: list[Config]) -> list[tuple[str, list[str]]]:
    """The fields whose values differ between the configs, each with its value per config
    as the form writes it; [] when they all agree."""
    flats = [c.flat() for c in configs]
    return [(name, [format_value(name, f[name]) for f in flats])
            for name in FIELDS if any(f[name] != flats[0][name] for f in flats[1:])]


def shared_task(configs: list[Config]) -> bool:
    """Whether the configs share base and rules (or data file), and so the floors."""
    return len({(c.data.data_file, c.data.val_fraction) if c.data.data_file else
                (c.data.base, c.data.rules) for c in configs}) <= 1


def fmt_loss(value: float) -> str:
    """A loss for a table cell: 4 decimals, or "-" when there is none."""
    return f"{value:.4f}" if isinstance(value, float) and math.isfinite(value) else "-"
