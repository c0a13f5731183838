"""Events read back from their JSON form (a run folder's metrics.jsonl lines): what a
viewer of another process's run replays, as if its trainer were here."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from ..config import Config, ConfigError, parse_value
from .events import (
    Compiled,
    Diverged,
    EpochEnd,
    Event,
    Failed,
    Finished,
    Insight,
    Predictions,
    Progress,
    Started,
)
from .verdict import Floor, Verdict

KINDS: dict[str, type[Event]] = {cls.kind: cls for cls in (
    Started, Compiled, Progress, EpochEnd, Predictions, Insight, Diverged, Finished, Failed)}


def number(v: Any) -> Any:
    """A float back from JSON, where a non-finite one was written as "nan", "inf", "-inf"."""
    if isinstance(v, str) and v in ("nan", "inf", "-inf"):
        return float(v)
    if isinstance(v, list):
        return [number(x) for x in v]
    if isinstance(v, dict):
        return {k: number(x) for k, x in v.items()}
    return v


def _floors(items) -> list[Floor]:
    return [Floor(f["name"], float(number(f["loss"]))) for f in items or []]


def _verdict(d: dict | None) -> Verdict:
    fields = {f.name for f in dataclasses.fields(Verdict)}
    d = {k: number(v) for k, v in (d or {}).items() if k in fields}
    for k, v in d.items():
        if isinstance(v, list):
            d[k] = tuple(v)
    d.setdefault("fractions", ())
    d.setdefault("learned", ())
    d.setdefault("lags", ())
    d.setdefault("loss_fraction", math.nan)
    return Verdict(**d)


def _config(flat: dict) -> Config:
    return Config().with_values(**{k: parse_value(k, v) for k, v in flat.items()})


def from_json(line: dict) -> Event | None:
    """The event a metrics line holds, or None for a line that is no event of ours (the
    session's own lines, or a kind a later version writes). ValueError for one that is
    malformed."""
    cls = KINDS.get(line.get("event", ""))
    if cls is None:
        return None
    names = {f.name for f in dataclasses.fields(cls)}
    d = {k: number(v) for k, v in line.items() if k in names}
    try:
        if cls is Started:
            d["config"] = _config(line["config"])
            d["floors"], d["analytic"] = _floors(d.get("floors")), _floors(d.get("analytic"))
        elif cls in (EpochEnd, Finished):
            d["verdict"] = _verdict(line.get("verdict"))
            if cls is Finished:
                d["floors"] = _floors(d.get("floors"))
        elif cls is Predictions:
            d["combos"] = [(tuple(bits), pred, true) for bits, pred, true in d.get("combos", [])]
        return cls(**d)
    except (KeyError, TypeError, ConfigError) as err:
        raise ValueError(f"a malformed {line.get('event')} line: {err}") from None
