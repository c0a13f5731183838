"""The status panel: run state, progress, device, verdict, three streaming sparklines and
the run folder being written."""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Label, Static

from ...core.verdict import Verdict

SPARK_POINTS = 60  # recent values per sparkline
BARS = "▁▂▃▄▅▆▇█"

STATE_STYLE = {
    "idle": "dim", "loading TensorFlow": "yellow", "compiling": "yellow",
    "training": "bold green", "paused": "bold yellow", "finished": "bold cyan",
    "stopped": "cyan", "diverged": "bold red", "failed": "bold red",
    "not responding": "bold red",
}


def _eta(seconds: float) -> str:
    if seconds != seconds or seconds < 0:
        return "-"
    m, s = divmod(int(seconds + 0.5), 60)
    return f"{m}m{s:02d}s" if m else f"{s}s"


def _short(v: float) -> str:
    return f"{v / 1000:.1f}k" if abs(v) >= 1000 else f"{v:.3g}"


def spark_rows(data: list[float], width: int, height: int) -> list[str]:
    """Bars of `data` (the largest value per column, scaled from the smallest to the
    largest) as `height` strings of `width` cells, top row first; no data draws a base line."""
    if width <= 0 or height <= 0:
        return [""] * max(height, 0)
    if not data:
        return [" " * width] * (height - 1) + [BARS[0] * width]
    n = len(data)
    cols = [max(data[c * n // width: max((c + 1) * n // width, c * n // width + 1)])
            for c in range(width)]
    lo, hi = min(data), max(data)
    top = len(BARS) * height - 1
    levels = [int((v - lo) / ((hi - lo) or 1) * top) for v in cols]
    rows = []
    for i in reversed(range(height)):
        low = i * len(BARS)
        rows.append("".join(" " if v < low else "█" if v >= low + len(BARS) else BARS[v - low]
                            for v in levels))
    return rows


class Spark(Widget):
    """A sparkline in one colour: a row costs one escape sequence on the wire, where
    Textual's Sparkline shades every bar (~20 bytes each, ~4 KB a repaint for three)."""

    DEFAULT_CSS = "Spark { height: 2; color: $primary; }"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._data: list[float] = []

    @property
    def data(self) -> list[float]:
        return self._data

    @data.setter
    def data(self, values: list[float]) -> None:
        if values != self._data:  # repaint only what changed
            self._data = list(values)
            self.refresh()

    def render(self) -> Text:
        width, height = self.size
        return Text("\n".join(spark_rows(self._data, width, height)), no_wrap=True)


STATE_COLOURS = {"learned": "green", "partly": "yellow", "no": "red"}


def verdict_text(v: Verdict) -> str:
    """'learned: t-3 98% ±4  t-8 62% ±9   loss 87%': per lag its fraction (of the effect
    the config can reach, ±2 SE) coloured by its state (and how far past it, for a lag
    that overshoots), then the loss's own view; a data file's verdict is by its empirical
    windows' loss."""
    parts = []
    for i, lag in enumerate(v.lags):
        colour = STATE_COLOURS.get(v.state(i), "dim")
        over = v.overshoot(i)
        parts.append(f"{v.label(lag)} [{colour}]{v.fraction_text(i)}[/]"
                     + (f" [magenta]overshooting by {over:.0%}[/]" if over else ""))
    head = "learned:" if v.prefix == "t-" else "empirical windows (by loss):"
    loss = f"   [dim]loss {v.loss_fraction:.0%} of the way[/]" if v.prefix == "t-" and \
        v.loss_fraction == v.loss_fraction else ""
    return f"{head} " + "  ".join(parts) + loss


class StatusPanel(Vertical):
    """Shows the run; the app sets its reactives and feeds the sparklines."""

    # repaint=False: a watcher updates the one box that shows it; a repaint of the panel
    # would send all six rows again (~2 KB) at every progress update.
    state: reactive[str] = reactive("idle", repaint=False)
    """idle / loading TensorFlow / compiling / training / paused / finished / diverged / failed"""
    device: reactive[str] = reactive("-", repaint=False)
    """CPU, or the GPU's name, once TensorFlow has loaded; then how the run uses it."""
    detail: reactive[str] = reactive("", repaint=False)
    """Epoch, step, steps/s, ETA, or the reason a run ended."""
    verdict: reactive[Verdict | None] = reactive(None, repaint=False)
    """Per-lag fractions of the last validation loss."""
    run: reactive[str] = reactive("", repaint=False)
    """The run folder's name, once the training has one ("" before: no line)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._series = {k: deque(maxlen=SPARK_POINTS) for k in ("loss", "rate", "grad")}
        self._titles: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(id="status-line"):
            yield Static(id="status-state")
            yield Static(id="status-detail")
        yield Static(id="status-verdict")
        with Horizontal(id="sparks"):
            for key, title in (("loss", "loss"), ("rate", "steps/s"), ("grad", "grad norm")):
                with Vertical(classes="spark-box"):
                    yield Label(title, classes="spark-title", id=f"spark-title-{key}")
                    yield Spark(id=f"spark-{key}")
        with Horizontal(id="run-line"):
            yield Static(id="status-run")
            yield Static(id="status-device")

    def on_mount(self) -> None:
        self._sparks = {k: (self.query_one(f"#spark-{k}", Spark),
                            self.query_one(f"#spark-title-{k}", Label)) for k in self._series}
        # Held, not queried at each change: a timer's change while the app unmounts found
        # the children gone (NoMatches), and the query cost a walk each time.
        self._boxes = {k: self.query_one(f"#status-{k}", Static)
                       for k in ("state", "device", "detail", "run", "verdict")}
        self._paint()

    # Each reactive repaints only its own box; the boxes have fixed sizes (app.tcss), so an
    # update repaints without a layout pass.
    def watch_state(self) -> None:
        if hasattr(self, "_boxes"):
            style = STATE_STYLE.get(self.state.split(" · ")[0], "")  # "training · watching"
            self._boxes["state"].update(f"[{style}]● {self.state}[/]",
                                                           layout=False)

    def watch_device(self) -> None:
        # The one box sized to its text ("CPU · XLA" or a GPU's long name and its kernel):
        # it changes twice a run, so its layout pass costs nothing.
        if hasattr(self, "_boxes"):
            self._boxes["device"].update(f"device [b]{self.device}[/]")

    def watch_detail(self) -> None:
        if hasattr(self, "_boxes"):
            self._boxes["detail"].update(self.detail, layout=False)

    def watch_run(self) -> None:
        if hasattr(self, "_boxes"):
            text = f"run [b]{self.run}[/]  [dim](F3: its config string)[/]" if self.run else ""
            self._boxes["run"].update(text, layout=False)

    def _paint(self) -> None:
        self.watch_run()
        self.watch_state()
        self.watch_device()
        self.watch_detail()
        self.watch_verdict()

    def watch_verdict(self) -> None:
        if not hasattr(self, "_boxes"):  # before on_mount the children are not there
            return
        v = self.verdict
        if v is None or not v.lags:
            text = "verdict: -" if v is None else "verdict: no rules, nothing to learn"
        else:
            text = verdict_text(v)
        self._boxes["verdict"].update(text, layout=False)

    def push(self, loss: float | None, rate: float | None, grad: float | None) -> None:
        for key, value in (("loss", loss), ("rate", rate), ("grad", grad)):
            if value is not None and value == value and abs(value) != float("inf"):
                self._series[key].append(value)

    def refresh_sparks(self) -> None:
        """Called on the app's timer: the sparklines repaint at most 4 times a second."""
        if not hasattr(self, "_sparks"):
            return
        for key, series in self._series.items():
            spark, label = self._sparks[key]
            spark.data = list(series)
            last = f" {_short(series[-1])}" if series else ""
            title = {"loss": "loss", "rate": "steps/s", "grad": "grad norm"}[key] + last
            if title != self._titles.get(key):  # an update repaints, even to the same text
                self._titles[key] = title
                label.update(title, layout=False)

    def clear(self) -> None:
        for series in self._series.values():
            series.clear()
        self.refresh_sparks()
        self.verdict = None

    @staticmethod
    def progress_text(epoch: int, epochs: int, step: int, total: int, rate: float,
                      eta: float, style: str = "", positions: int = 0) -> str:
        """The progress line; with a truncation `style` (config.truncation_text) also the
        positions trained and what the style costs."""
        text = (f"epoch {epoch + 1}/{epochs}  step {step:,}/{total:,}  "
                f"{rate:,.0f} steps/s  ETA {_eta(eta)}")
        if style:
            text += f"  positions {positions:,}  ({style})"
        return text
