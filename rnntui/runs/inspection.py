"""`rnntui inspect RUN`: what a run's checkpoint learned, measured with no training.

The same measurements as the trainer's Insight events (rnntui.insight), on the run's own
validation series: the lag effects against the true deltas, the gradient reach and the
window share by lag, and an excerpt of the hidden state. It reads the run folder and
writes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import engine as engines
from ..config import effective_stride, style_name
from ..core.events import EpochEnd, Insight
from ..core.files import BadFile
from ..core.verdict import Floor, Verdict
from ..data.empirical import verdict as empirical_verdict
from ..data.source import (
    binary_inputs,
    insight_off,
    realised_floors,
    resolve,
    val_series,
    verdict,
)
from ..insight.combos import prediction_window
from ..insight.measures import by_lag, lag_effects, reach_horizon
from ..insight.probe import Probe
from .datarecord import check_unchanged
from .folders import CHECKPOINT, Run, open_run
from .follow import read_events

EXCERPT_STEPS = 60  # time steps of the hidden state printed
EXCERPT_UNITS = 8
TIMELINE_ROWS = 12  # epoch ends of the timeline printed (--json has them all)
SHADES = "▁▂▃▄▅▆▇█"  # -1 .. +1


@dataclass
class Inspection:
    """What `rnntui inspect` reports of a run's checkpoint."""

    run: Run
    insight: Insight | None  # None where no measurement applies (text, symbols)
    verdict: Verdict | None
    floors: list[Floor]  # realised on its validation sample (a file's: empirical windows)
    val_loss: float  # the last epoch end's, from its metrics (nan if none)
    timeline: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    note: str = ""  # why the lag effects do not apply, if they do not


def inspect_run(path: str | Path) -> Inspection:
    """What the run's checkpoint learned; BadFile for a missing, foreign or corrupt run
    folder, or one with no checkpoint yet. The measuring runs in the engine's thread."""
    run = open_run(path)
    if run.checkpoint is None:
        raise BadFile(Path(path) / CHECKPOINT, "no checkpoint yet: train at least one epoch")
    cfg = resolve(run.config, training=False)  # it measures, and holds no training series
    if cfg.data.data_file:  # measured on another file, it would say what this one learned
        check_unchanged(cfg.data.data_file, run.path)
    ends = [e for e in read_events(run.path) if isinstance(e, EpochEnd)]
    val = next((e.val_loss for e in reversed(ends) if math.isfinite(e.val_loss)), math.nan)
    timeline = [(e.epoch, e.lag_effects) for e in ends if e.lag_effects]
    vx, vy = val_series(cfg.data)
    floors = realised_floors(cfg, vy)
    note = insight_off(cfg.data)
    if note and not binary_inputs(cfg.data):
        return Inspection(run, None, empirical_verdict(val, floors), floors, val, [], note)
    seen = engines.get().call(_measure, run, cfg, vx, vy)
    if note:  # 0/1 inputs, other targets: only the memory readout applies
        seen = replace(seen, effects=[], effects_se=[], reach=[])
        return Inspection(run, seen, empirical_verdict(val, floors), floors, val, [], note)
    return Inspection(run, seen, verdict(val, cfg, floors, seen), floors, val, timeline)


def _measure(run: Run, cfg, vx, vy) -> Insight:
    from ..engine.tfload import quiet_tensorflow

    tf = quiet_tensorflow()  # first: importing Keras loads TensorFlow, and its logs
    from ..engine.model import build_model

    model = build_model(cfg)
    if [w.shape for w in model.get_weights()] != [w.shape for w in run.checkpoint.weights]:
        raise BadFile(run.path / CHECKPOINT, "its weights do not fit the run's config")
    model.set_weights(run.checkpoint.weights)
    t = cfg.train
    windows = len(vx) // t.batch_size // t.num_steps
    probe = Probe(tf, model, cfg, vx, vy)
    return probe.measure(run.checkpoint.step, prediction_window(windows, t.num_steps))


def to_json(i: Inspection) -> dict[str, Any]:
    out: dict[str, Any] = {"event": "inspect", "run": str(i.run.path),
                           "step": i.run.checkpoint.step, "epoch": i.run.checkpoint.epoch,
                           "floors": {f.name: round(f.loss, 6) for f in i.floors},
                           "val_loss": i.val_loss if math.isfinite(i.val_loss) else None}
    if i.note:
        out["note"] = i.note
    if i.insight is not None:
        out.update(i.insight.to_json(), event="inspect", lag_effects=lag_effects(
            i.insight.effects), memory=by_lag(i.insight.memory))
        ref = max((lag for lag, _ in i.run.config.data.rules), default=1)
        out["reach_horizon"] = reach_horizon(i.insight.reach, ref) if i.insight.reach else None
    if i.verdict is not None:
        v = i.verdict
        out["fractions"] = {v.label(lag): _num(f) for lag, f in zip(v.lags, v.fractions,
                                                                    strict=True)}
        out["fractions_se"] = {v.label(lag): _num(s) for lag, s in zip(
            v.lags, v.fractions_se, strict=False)}
        out["overshooting"] = {k: _num(o) for k, o in v.overshooting().items()}
        out["verdict"] = v.describe()
    out["timeline"] = [{"epoch": e, "lag_effects": effects} for e, effects in i.timeline]
    return out


def _num(v: float) -> float | None:
    return round(v, 6) if math.isfinite(v) else None


def _shade(v: float) -> str:
    i = round((max(-1.0, min(1.0, v)) + 1) / 2 * (len(SHADES) - 1))
    return SHADES[i]


def text(i: Inspection) -> str:
    """The verdict, a table by lag, the reach's horizon, the timeline, and a few units of
    the hidden state as shades; or, where the lag effects do not apply, why and what does."""
    run, m, t = i.run, i.run.config.model, i.run.config.train
    stride = effective_stride(t)
    style = style_name(t.num_steps, stride)[0] if stride != t.num_steps else ""
    extras = "".join([f", dropout {m.dropout:g}" if m.dropout else "",
                      ", layer-normed" if m.layer_norm else "",
                      f", truncation {style}" if style else ""])
    lines = [f"run {run.path}: checkpoint at step {run.checkpoint.step:,} (epoch"
             f" {run.checkpoint.epoch}); {m.cell} {m.state_size}{extras}, num_steps"
             f" {t.num_steps}, carry_state {'on' if t.carry_state else 'off'}", ""]
    floors = "  ".join(f"{f.name} {f.loss:.4f}" for f in i.floors)
    lines.append(f"floors on its validation sample: {floors}")
    if math.isfinite(i.val_loss):
        lines.append(f"last validation loss {i.val_loss:.4f}")
    if i.note:
        lines += ["", i.note]
    if i.verdict is not None:
        lines += ["", "verdict: " + i.verdict.describe()]
    if i.insight is not None:
        lines += _lag_table(i.insight) + _reach_line(i) + _timeline(i) + _hidden(i.insight)
    return "\n".join(lines)


def _lag_table(s: Insight) -> list[str]:
    lines = ["", " lag    effect  ±2 SE  reachable  memory  grad reach  window share"]
    for k in range(len(s.memory or s.effects)):
        e = s.effects[k] if k < len(s.effects) else math.nan
        se = s.effects_se[k] if k < len(s.effects_se) else math.nan
        target = (s.achievable or s.true_deltas or [math.nan] * (k + 1))[k]
        mem = s.memory[k] if k < len(s.memory) else math.nan
        g = s.reach[k] if k < len(s.reach) else math.nan
        w = s.window_share[k] if k < len(s.window_share) else math.nan
        mark = "  <- rule" if k < len(s.true_deltas) and s.true_deltas[k] else ""
        lines.append(f"{k:>4}  {e:+8.3f}  {2 * se:5.3f}  {target:+9.3f}  {mem:6.0%}"
                     f"  {g:10.3g}  {w:12.0%}{mark}".replace("nan%", "  - ").replace(
                         "+nan", "  - ").replace(" nan", "   -"))
    return lines


def _reach_line(i: Inspection) -> list[str]:
    reach = i.insight.reach
    if not reach:
        return []
    ref = max((lag for lag, _ in i.run.config.data.rules), default=1)
    k = reach_horizon(reach, ref)
    at = f"at t-{ref} (the largest rule lag) {reach[ref]:.3g}" if ref < len(reach) else ""
    gone = (f"under 1% of it from t-{k}" if k is not None
            else f"above 1% of it up to t-{len(reach) - 1}")
    return ["", f"gradient reach {at}; {gone}"]


def _timeline(i: Inspection) -> list[str]:
    if not i.timeline:
        return []
    lags = [str(lag) for lag, _ in i.run.config.data.rules]
    lines = ["", "learning timeline: the rule lags' effects at each measured epoch end"
                 " (--json has every lag)", " epoch  " + "".join(f"t-{k}".rjust(8)
                                                                 for k in lags)]
    for epoch, effects in i.timeline[-TIMELINE_ROWS:]:
        lines.append(f"{epoch + 1:>6}  " + "".join(
            f"{effects[k]:+8.3f}" if k in effects else "       -" for k in lags))
    return lines


def _hidden(s: Insight) -> list[str]:
    if not s.hidden:
        return []
    lines = ["", f"hidden state, last layer, the first {EXCERPT_STEPS} steps of the"
                 f" predictions window ({SHADES[0]} = -1 .. {SHADES[-1]} = +1):"]
    for unit, row in list(zip(s.units, s.hidden, strict=True))[:EXCERPT_UNITS]:
        lines.append(f"  unit {unit:>4}  " + "".join(_shade(v) for v in row[:EXCERPT_STEPS]))
    if s.gates:
        lines.append(f"also in --json: {', '.join(s.gates)}")
    return lines
