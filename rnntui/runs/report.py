"""How `rnntui train` reports events: a rich progress bar on a terminal, plain lines off
one, or one JSON object per line with --json. The summary shape is shared by all three."""

from __future__ import annotations

import json
import math
import time
from typing import IO, Any

from ..config import positions_trained, truncation_text
from ..core.events import Compiled, Diverged, EpochEnd, Event, Failed, Finished, Progress, Started

PLAIN_EVERY_S = 2.0  # off a terminal, a progress line at most this often


def _num(v: float) -> float | None:
    return round(v, 6) if isinstance(v, float) and math.isfinite(v) else None


def _by_label(v, values) -> dict[str, float | None]:
    """{"t-3": ..., "t-8": ...}: per rule lag (or file window), None where not measured."""
    return {v.label(lag): _num(float(x)) for lag, x in zip(v.lags, values, strict=False)}


def summary(final: Event, started: Started | None) -> dict[str, Any]:
    out: dict[str, Any] = {"event": "summary", "status": final.kind}
    if isinstance(final, Finished):
        out.update(
            train_loss=_num(final.train_loss), val_loss=_num(final.val_loss),
            floors={f.name: round(f.loss, 6) for f in final.floors},
            fractions=_by_label(final.verdict, final.verdict.fractions),
            fractions_se=_by_label(final.verdict, final.verdict.fractions_se),
            loss_fraction=_num(final.verdict.loss_fraction),
            learned=[final.verdict.label(lag) for lag in final.verdict.learned],
            overshooting={k: _num(o) for k, o in final.verdict.overshooting().items()},
            steps_per_sec=round(final.steps_per_sec, 1), epochs=final.epochs,
            steps=final.step, wall_s=round(final.wall_s, 3), stopped=final.stopped,
            lag_effects=final.lag_effects, memory=final.memory)
    elif isinstance(final, Diverged):
        out.update(step=final.step, loss=str(final.loss))
    elif isinstance(final, Failed):
        out.update(message=final.message)
    if started is not None:
        out["device"] = started.device
        if started.analytic:  # the floors above are this run's sample's; these, expected
            out["floors_expected"] = {f.name: round(f.loss, 6) for f in started.analytic}
    return out


class JsonReport:
    def __init__(self, out: IO[str]):
        self.out, self.started, self.run = out, None, None

    def announce_run(self, path: str, from_step: int) -> None:
        self.run = path
        self.out.write(dumps({"event": "run", "path": path, "from_step": from_step}) + "\n")

    def on_event(self, event: Event) -> None:
        if isinstance(event, Started):
            self.started = event
        d = event.to_json()
        d.pop("detail", None)
        self.out.write(dumps(d) + "\n")
        self.out.flush()

    def close(self, final: Event) -> None:
        self.out.write(dumps({**summary(final, self.started), "run": self.run}) + "\n")
        self.out.flush()


def strict(o: Any) -> Any:
    """JSON has no NaN or inf: they become the strings "nan", "inf", "-inf"."""
    if isinstance(o, float):
        return o if math.isfinite(o) else str(o)
    if isinstance(o, dict):
        return {k: strict(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [strict(v) for v in o]
    return o


def dumps(o: Any) -> str:
    try:  # most events hold no NaN: skip `strict`'s walk (milliseconds for an Insight event)
        return json.dumps(o, allow_nan=False, default=str)
    except ValueError:
        return json.dumps(strict(o), allow_nan=False, default=str)


class PlainReport:
    """Lines with no control characters: for logs, pipes and CI."""

    def __init__(self, out: IO[str]):
        self.out, self.started, self.last = out, None, 0.0

    def announce_run(self, path: str, from_step: int) -> None:
        self.line(f"run {path}" + (f" (resuming at step {from_step})" if from_step else ""))

    def line(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def on_event(self, event: Event) -> None:
        if isinstance(event, Started):
            self.started = event
            fl = "  ".join(f"{f.name} {f.loss:.4f}" for f in event.floors)
            line = f"device {event.device}; floors on this validation sample: {fl}"
            if event.analytic:
                line += " (expected " + " ".join(f"{f.loss:.4f}" for f in event.analytic) + ")"
            self.line(f"{line}; window-only {event.window_floor:.4f}")
            style = truncation_text(event.config.train)
            if style:
                self.line(f"truncation {style}")
            if event.notice:
                self.line(f"notice: {event.notice}")
        elif isinstance(event, Compiled):
            self.line(f"compiled in {event.seconds:.1f}s; running {event.kernel}")
            if event.notice:
                self.line(f"notice: {event.notice}")
        elif isinstance(event, Progress) and time.monotonic() - self.last >= PLAIN_EVERY_S:
            self.last = time.monotonic()
            total = self.started.total_steps if self.started else 0
            loss = sum(event.losses) / max(len(event.losses), 1)
            line = (f"step {event.step}/{total} epoch {event.epoch + 1} loss {loss:.4f} "
                    f"steps/s {event.steps_per_sec:.0f} eta {event.eta_s:.1f}s")
            if self.started and truncation_text(self.started.config.train):
                t = self.started.config.train
                line += f" positions {positions_trained(t, event.step)}"
            self.line(line)
        elif isinstance(event, EpochEnd):
            self.line(f"epoch {event.epoch + 1} train {event.train_loss:.4f} "
                      f"val {event.val_loss:.4f} learned {event.verdict.describe()}")
        elif isinstance(event, Diverged):
            self.line(f"diverged at step {event.step}: loss {event.loss}")
        elif isinstance(event, Failed):
            self.line(f"failed: {event.message}")

    def close(self, final: Event) -> None:
        s = summary(final, self.started)
        if isinstance(final, Finished):
            learned = ", ".join(s["learned"]) or "none"
            self.line(f"finished: val {final.val_loss:.4f} train {final.train_loss:.4f}; "
                      f"learned {learned} ({final.verdict.describe()}); "
                      f"{final.steps_per_sec:.0f} steps/s, {final.wall_s:.1f}s")


class RichReport(PlainReport):
    """A live progress bar with loss, steps/s, ETA and the floors."""

    def __init__(self, out: IO[str]):
        super().__init__(out)
        from rich.console import Console
        from rich.progress import BarColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        self.console = Console(file=out)
        self.bar = Bar(TextColumn("[bold]{task.description}"), BarColumn(),
                       TextColumn("loss [cyan]{task.fields[loss]}"),
                       TextColumn("{task.fields[rate]} steps/s"), TimeRemainingColumn(),
                       console=self.console, transient=False)
        self.task = None

    def line(self, text: str) -> None:
        self.console.print(text, highlight=False, markup=False)

    def on_event(self, event: Event) -> None:
        if isinstance(event, Started):
            super().on_event(event)
            self.bar.start()
            self.task = self.bar.add_task("compiling", total=event.total_steps, loss="-",
                                          rate="-")
        elif isinstance(event, Progress) and self.task is not None:
            loss = sum(event.losses) / max(len(event.losses), 1)
            self.bar.update(self.task, completed=event.step, description=f"epoch {event.epoch + 1}",
                            loss=f"{loss:.4f}", rate=f"{event.steps_per_sec:.0f}")
        elif not isinstance(event, Progress):
            super().on_event(event)

    def close(self, final: Event) -> None:
        self.bar.stop()
        super().close(final)


def report_for(as_json: bool, out: IO[str]):
    if as_json:
        return JsonReport(out)
    return RichReport(out) if out.isatty() else PlainReport(out)
