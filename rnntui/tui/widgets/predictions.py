"""Predictions: a stretch of the validation series (x, y, predicted P(Y=1) shaded) and,
for each combination of the rule lags' X values, the mean predicted P(Y=1) beside the true;
a file of symbols shows as text instead (text_view)."""

from __future__ import annotations

import math

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from ...core.events import Predictions
from . import text_view

SHADES = " ░▒▓█"
MAX_COMBOS = 4  # rows of the combination table that fit its fixed box (2^rules can be 1024)


def series_rows(event: Predictions, width: int, label_width: int = 3,
                rows: str = "xyp") -> Text:
    """The rows named in `rows` (x, y, p), as many positions as fit in `width` after a
    label of `label_width` columns: the hidden-state panel lines its map up under them."""
    n = max(0, min(len(event.x), width - label_width))
    text = Text()
    for i, row in enumerate(rows):
        text.append(("\n" if i else "") + row.ljust(label_width), style="bold")
        if row == "x":
            text.append("".join("1" if v else "0" for v in event.x[:n]), style="cyan")
        elif row == "y":
            text.append("".join("1" if v else "0" for v in event.y[:n]), style="magenta")
        else:
            _shade_row(text, event.p[:n])
    text.no_wrap = True
    return text


def _shade_row(text: Text, ps: list[float]) -> None:
    # One span for the row: Textual's cost of drawing a line grows with its spans.
    shades = (0 if not math.isfinite(p) else min(len(SHADES) - 1, int(p * len(SHADES)))
              for p in ps)
    text.append("".join(SHADES[i] for i in shades), style="green")


def combo_table(event: Predictions, lags: list[int]) -> Table:
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
    for lag in lags:
        table.add_column(Text(f"t-{lag}"), justify="center")
    table.add_column("pred", justify="right")
    table.add_column("true", justify="right")
    table.add_column("err", justify="right")
    for bits, pred, true in event.combos[:MAX_COMBOS]:
        err = abs(pred - true) if math.isfinite(pred) else math.nan
        color = "green" if err < 0.05 else ("yellow" if err < 0.15 else "red")
        table.add_row(*(str(b) for b in bits), f"{pred:.3f}", f"{true:.3f}",
                      Text(f"{err:.3f}", style=color))
    if len(event.combos) > MAX_COMBOS:
        table.add_row(*([""] * len(lags)), f"+{len(event.combos) - MAX_COMBOS} more", "", "")
    return table


class PredictionsPanel(Horizontal):
    """Updated by the app with the newest Predictions event. A file of more symbols than 0
    and 1 shows as text (text_view): the stretch, the top next symbols and a sample, whose
    temperature `cool_or_warm` picks."""

    def compose(self) -> ComposeResult:
        yield Static("predictions show during training", id="pred-series")
        yield Static("", id="pred-combos")

    _last: Predictions | None = None
    inputs: list[str] = []  # the run's symbols (Started), [] for 0/1
    targets: list[str] = []
    temperature = "0.8"  # the sample on show (engine.sampling.TEMPERATURES)

    def show(self, event: Predictions, lags: list[int], targets: list[str] = (),
             inputs: list[str] = ()) -> None:
        self._last, self.targets, self.inputs = event, list(targets), list(inputs)
        text = bool(self.targets) and not (self.targets == self.inputs == ["0", "1"])
        self.set_class(text, "-text")
        combos = self.query_one("#pred-combos", Static)
        combos.display = bool(lags and event.combos) and not text
        if combos.display:
            combos.update(combo_table(event, lags), layout=False)
        self._paint_series()

    def cool_or_warm(self, step: int) -> str:
        """ctrl+down/up: the sample at the next cooler (-1) or warmer (+1) temperature."""
        shown = text_view.temperatures(self._last) if self._last is not None else []
        if not shown:
            return "samples show for a text file's run, at each look"
        at = shown.index(self.temperature) if self.temperature in shown else 0
        self.temperature = shown[max(0, min(len(shown) - 1, at + step))]
        self._paint_series()
        return f"sample temperature {self.temperature}"

    def _paint_series(self) -> None:
        series = self.query_one("#pred-series", Static)
        width = series.size.width
        if self._last is None or not width:
            return
        if not self.has_class("-text"):
            series.update(series_rows(self._last, width), layout=False)
            return
        parts = [text_view.text_rows(self._last, self.inputs or self.targets, self.targets,
                                     width),
                 text_view.detail_line(self._last, self.targets)]
        if self._last.samples:
            parts.append(text_view.sample_text(self._last, self.targets, self.temperature,
                                               width))
        series.update(Text("\n").join(parts), layout=False)

    def on_resize(self) -> None:
        self.call_after_refresh(self._paint_series)

    def clear(self) -> None:
        self._last = None
        self.remove_class("-text")
        self.query_one("#pred-series", Static).update("predictions show during training")
        self.query_one("#pred-combos", Static).update("")
