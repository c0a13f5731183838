"""Predictions: a stretch of the validation series (x, y, predicted P(Y=1) shaded) and,
for each combination of the rule lags' X values, the mean predicted P(Y=1) beside the true."""

from __future__ import annotations

import math

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from ...core.events import Predictions

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
    """Updated by the app with the newest Predictions event."""

    def compose(self) -> ComposeResult:
        yield Static("predictions show during training", id="pred-series")
        yield Static("", id="pred-combos")

    _last: Predictions | None = None

    def show(self, event: Predictions, lags: list[int]) -> None:
        self._last = event
        self.query_one("#pred-combos", Static).update(combo_table(event, lags), layout=False)
        self._paint_series()

    def _paint_series(self) -> None:
        series = self.query_one("#pred-series", Static)
        if self._last is not None and series.size.width:
            series.update(series_rows(self._last, series.size.width), layout=False)

    def on_resize(self) -> None:
        self.call_after_refresh(self._paint_series)

    def clear(self) -> None:
        self._last = None
        self.query_one("#pred-series", Static).update("predictions show during training")
        self.query_one("#pred-combos", Static).update("")
