"""Export a run: every metric as CSV, or the trained model as a plain .keras file."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..core.events import EpochEnd, Progress
from ..core.files import BadFile
from .folders import CHECKPOINT, open_run
from .follow import Span, curve_points, read_events

COLUMNS = ["step", "epoch", "train_loss", "val_loss", "learning_rate", "grad_norm",
           "steps_per_sec"]


def metrics_csv(run: str | Path) -> str:
    """One row per training step (its loss, and the chunk's rate, norm and learning rate),
    with the validation loss on the step each epoch ended. BadFile for metrics that do not
    read back as events."""
    rows: dict[int, dict] = {}
    for item in read_events(Path(run)):
        if isinstance(item, (Progress, Span)):
            # Past the keep-every-step limit a line stands for `span` steps: its first,
            # least, greatest and last losses, spread over them.
            m = item.progress if isinstance(item, Span) else item
            points = (zip(item.steps, item.losses, strict=True) if isinstance(item, Span)
                      else curve_points(m.step, m.losses, None))
            for step, loss in points:
                rows[step] = {"step": step, "epoch": m.epoch, "train_loss": loss,
                              "learning_rate": m.learning_rate, "grad_norm": m.grad_norm,
                              "steps_per_sec": m.steps_per_sec}
        elif isinstance(item, EpochEnd):
            rows.setdefault(item.step, {"step": item.step, "epoch": item.epoch})
            rows[item.step]["val_loss"] = item.val_loss
    out = io.StringIO()
    w = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    w.writeheader()
    for step in sorted(rows):
        w.writerow(rows[step])
    return out.getvalue()


def export_keras(run: str | Path, out: str | Path) -> Path:
    """Write the run's last checkpoint as a .keras file of Keras's own layers."""
    r = open_run(run)
    if r.checkpoint is None:
        raise BadFile(Path(run) / CHECKPOINT, "no checkpoint yet: train at least one epoch")
    from ..engine.tfload import quiet_tensorflow

    quiet_tensorflow()
    from ..engine.model import build_model, build_plain_model

    model = build_model(r.config)
    if [w.shape for w in model.get_weights()] != [w.shape for w in r.checkpoint.weights]:
        raise BadFile(Path(run) / CHECKPOINT, "its weights do not fit the run's config")
    model.set_weights(r.checkpoint.weights)
    out = Path(out)
    if out.suffix != ".keras":
        raise BadFile(out, "must end in .keras")
    try:
        build_plain_model(r.config, model).save(out)
    except OSError as err:
        raise BadFile(out, f"cannot write: {err.strerror or err}") from None
    return out
