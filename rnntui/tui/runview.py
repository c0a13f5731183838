"""What one run's events do to the main screen: the chart, the status and the deck.

The app hands it the run's Bridge and each event as it comes (after changing the run
state, which it owns); this paints. The progress text and sparklines are painted on the
app's timer (PROGRESS_PAINT_S), the chart on its own.
"""

from __future__ import annotations

from ..config import positions_trained, truncation_text
from ..core.events import (
    Compiled,
    EpochEnd,
    Event,
    Finished,
    Insight,
    Predictions,
    Progress,
    Started,
)
from .bridge import Bridge
from .compare import Curve
from .runstate import RunState
from .widgets.deck import PanelDeck
from .widgets.loss_chart import LossChart
from .widgets.status import StatusPanel

# Twice a second for the progress text and sparklines: every repaint costs the UI thread
# CPU that a 2-core trainer feels (bench/app_speed.py: app vs headless steps/s).
PROGRESS_PAINT_S = 0.5


class RunView:
    """Paints the current run; `begin` starts over for a new one."""

    def __init__(self, chart: LossChart, status: StatusPanel, deck: PanelDeck):
        self.chart, self.status, self.deck = chart, status, deck
        self.bridge: Bridge | None = None
        self.latest: Progress | None = None  # the newest Progress, painted by paint_progress

    def begin(self, bridge: Bridge) -> None:
        """A new run: its bridge, and widgets emptied of the last one."""
        self.bridge, self.latest = bridge, None
        self.chart.clear_data()
        self.status.clear()
        self.deck.clear()

    def resumed(self, history: Curve | None) -> None:
        """A resumed run's curve so far (None: a new run); the new steps continue it."""
        if history is not None:
            self.chart.add_points(history.steps, history.losses)
            for step, loss in history.val:
                self.chart.add_val(step, loss)

    def drain(self, state: RunState) -> None:
        """What the bridge holds goes to the chart and the sparklines; the run's first loss
        shows at once, not at the timers' next turn."""
        if self.bridge is None:
            return
        d = self.bridge.drain()
        if d.losses or d.points[0]:
            self.chart.add_losses(d.first_step, d.losses)
            self.chart.add_points(*d.points)
            for step, lr in d.lr_changes:
                self.chart.mark_lr(step, lr)
            # One sparkline point per Progress, however many a drain holds.
            for loss, rate, grad in zip(d.last_losses, d.rates, d.grad_norms, strict=True):
                self.status.push(loss, rate, grad)
        if d.latest is not None:
            first, self.latest = self.latest is None, d.latest
            if first:
                self.paint_progress(state)
                self.chart.repaint_now()

    def paint_progress(self, state: RunState) -> None:
        """The progress text (while the run goes and no stop is being said) and the
        sparklines."""
        p, started = self.latest, state.started
        if p is not None and started is not None and state.active and not state.halting:
            t = started.config.train
            self.status.detail = StatusPanel.progress_text(
                p.epoch, t.epochs, p.step, started.total_steps, p.steps_per_sec, p.eta_s,
                truncation_text(t), positions_trained(t, p.step))
        self.status.refresh_sparks()

    def show(self, e: Event, state: RunState) -> str:
        """Paint one event other than Progress; returns a notice for the user, or ""."""
        status = self.status
        if isinstance(e, Started):
            status.device = e.device
            self.chart.set_span(e.total_steps)  # the x axis reaches to the run's end
        elif isinstance(e, Compiled) and state.started and e.kernel:
            status.device = f"{state.started.device} · {e.kernel}"
        elif isinstance(e, EpochEnd):
            self.chart.add_val(e.step, e.val_loss)
            status.verdict = e.verdict
            self.deck.show_epoch_end(e)
        elif isinstance(e, Predictions):
            started = state.started
            data = started.config.data if started else None
            lags = [lag for lag, _ in data.rules] if data and not data.data_file else []
            self.deck.show_predictions(e, lags, *((started.symbols, started.input_symbols)
                                                  if started else ()))
        elif isinstance(e, Insight):
            self.deck.show_insight(e)
        elif isinstance(e, Finished):
            status.verdict = e.verdict
        return e.notice if isinstance(e, (Started, Compiled)) else ""
