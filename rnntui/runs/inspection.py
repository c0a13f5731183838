"""`rnntui inspect RUN`: what a run's checkpoint learned, measured with no training.

The same measurements as the trainer's Insight events (rnntui.insight), on the run's own
validation series: the lag effects against the true deltas, the gradient reach and the
window share by lag, and an excerpt of the hidden state. It reads the run folder and
writes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import engine as engines
from ..core.events import Insight
from ..core.files import BadFile
from ..data.source import resolve, val_series
from ..insight.combos import prediction_window
from ..insight.measures import lag_effects, reach_horizon
from ..insight.probe import Probe
from .folders import CHECKPOINT, Run, open_run

EXCERPT_STEPS = 60  # time steps of the hidden state printed
EXCERPT_UNITS = 8
SHADES = "▁▂▃▄▅▆▇█"  # -1 .. +1


def inspect_run(path: str | Path) -> tuple[Run, Insight]:
    """The run and an Insight of its checkpoint's model; BadFile for a missing, foreign or
    corrupt run folder, or one with no checkpoint yet. The measuring runs in the engine's
    thread."""
    run = open_run(path)
    if run.checkpoint is None:
        raise BadFile(Path(path) / CHECKPOINT, "no checkpoint yet: train at least one epoch")
    return run, engines.get().call(_measure, run)


def _measure(run: Run) -> Insight:
    from ..engine.model import build_model
    from ..engine.tfload import quiet_tensorflow

    tf = quiet_tensorflow()
    cfg = resolve(run.config)
    model = build_model(cfg)
    if [w.shape for w in model.get_weights()] != [w.shape for w in run.checkpoint.weights]:
        raise BadFile(run.path / CHECKPOINT, "its weights do not fit the run's config")
    model.set_weights(run.checkpoint.weights)
    vx, vy = val_series(cfg.data)
    t = cfg.train
    windows = len(vx) // t.batch_size // t.num_steps
    probe = Probe(tf, model, cfg, vx, vy)
    return probe.measure(run.checkpoint.step, prediction_window(windows, t.num_steps))


def to_json(run: Run, insight: Insight) -> dict[str, Any]:
    return {**insight.to_json(), "event": "inspect", "run": str(run.path),
            "epoch": run.checkpoint.epoch, "lag_effects": lag_effects(insight.effects),
            "reach_below_1pct": reach_horizon(insight.reach)}


def _shade(v: float) -> str:
    i = round((max(-1.0, min(1.0, v)) + 1) / 2 * (len(SHADES) - 1))
    return SHADES[i]


def text(run: Run, insight: Insight) -> str:
    """A table by lag, then a few units of the hidden state as shades."""
    m, t = run.config.model, run.config.train
    lines = [f"run {run.path}: checkpoint at step {insight.step:,} (epoch {run.checkpoint.epoch});"
             f" {m.cell} {m.state_size}, num_steps {t.num_steps},"
             f" carry_state {'on' if t.carry_state else 'off'}",
             "",
             " lag   effect     true   grad reach  window share"]
    for k, (e, d, g, w) in enumerate(zip(insight.effects, insight.true_deltas, insight.reach,
                                         insight.window_share, strict=True)):
        mark = "  <- rule" if d else ""
        lines.append(f"{k:>4}  {e:+7.3f}  {d:+7.3f}  {g:11.3g}  {w:12.0%}{mark}")
    k, last = reach_horizon(insight.reach), len(insight.reach) - 1
    lines.append("")
    lines.append("gradient reach: " + (f"below 1% of lag 0's from lag {k}" if k is not None
                                        else f"above 1% of lag 0's up to lag {last}"))
    lines.append("")
    lines.append(f"hidden state, last layer, the first {EXCERPT_STEPS} steps of the predictions"
                 f" window ({SHADES[0]} = -1 .. {SHADES[-1]} = +1):")
    for unit, row in list(zip(insight.units, insight.hidden, strict=True))[:EXCERPT_UNITS]:
        lines.append(f"  unit {unit:>4}  " + "".join(_shade(v) for v in row[:EXCERPT_STEPS]))
    if insight.gates:
        lines.append(f"gates: {', '.join(insight.gates)} (in --json)")
    return "\n".join(lines)
