"""The rnntui app: wires the form, the trainer worker and the widgets, and little else.

Flow, one direction: form -> validated Config -> Trainer in a thread worker -> Bridge
(events as messages, ~10 a second) -> widgets, which repaint on their own timers.
TensorFlow is imported by a thread worker after the first paint, never at module load.
Every training writes a run folder under `runs_dir` (rnntui.tui.jobs); the runs screen (F3)
compares and resumes them, the race screen (F4) trains a grid of configs.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from ..config import Config
from ..control import Control
from ..events import Compiled, EpochEnd, Failed, Finished, Insight, Predictions, Started
from ..runs import Run
from .bridge import Bridge, Tick, TrainerEvent
from .jobs import RunOpened, TrainJob, run_in_background, train_in_run
from .panel_actions import BINDINGS as PANEL_BINDINGS
from .panel_actions import PanelActions
from .run_actions import RunActions
from .runstate import RunState, floors_of
from .screens.dialogs import ConfirmScreen, HelpScreen
from .screens.race import RaceScreen
from .widgets.deck import PanelDeck
from .widgets.footer import QuietFooter
from .widgets.form import ConfigForm
from .widgets.loss_chart import LossChart
from .widgets.ruler import WindowRuler
from .widgets.status import StatusPanel

ASK_DELAY_S = 0.8  # after the last keystroke, before asking whether to restart
WARM_DELAY_S = 1.0  # after the form settles (idle), before its program is made ahead
# Twice a second for the progress text and sparklines: every repaint costs the UI thread
# CPU that a 2-core trainer feels (bench/app_speed.py: app vs headless steps/s).
PROGRESS_PAINT_S = 0.5


class TensorFlowLoaded(Message):
    def __init__(self, device: str):
        super().__init__()
        self.device = device


class RnnTui(RunActions, PanelActions, App):
    """Configure, train and watch a recurrent network; the runs keys are in RunActions,
    the lower-right panels' keys in PanelActions."""

    CSS_PATH = "app.tcss"
    TITLE = "rnntui"
    BINDINGS = [
        Binding("f5", "train", "Train", priority=True),
        Binding("f6", "pause", "Pause/Resume", priority=True),
        Binding("f8", "stop", "Stop", priority=True),
        Binding("f1", "help", "Help", priority=True),
        Binding("f3", "runs", "Runs", priority=True),
        Binding("f4", "race", "Race", priority=True),
        Binding("ctrl+s", "save_chart", "SVG", priority=True),
        Binding("ctrl+e", "export_model", "Keras", priority=True),
        Binding("ctrl+q", "quit", "Quit", priority=True),
        *PANEL_BINDINGS,
    ]

    def __init__(self, config: Config | None = None, preload_tf: bool = True,
                 runs_dir: str | Path = "runs"):
        super().__init__()
        self.initial = config or Config()
        self.preload_tf = preload_tf
        self.runs_dir = Path(runs_dir)
        self.run_path: Path | None = None  # the current or last training's run folder
        self.run_state = RunState()  # the one run state: changed only by _advance
        self.control: Control | None = None
        self.bridge: Bridge | None = None
        self._asked = False
        self._ask_timer = None
        self._warm_timer = None
        self._latest = None  # the newest Progress, painted by _paint_progress

    # ---- layout ---------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield ConfigForm(self.initial, id="form")
            with Vertical(id="right"):
                yield StatusPanel(id="status")
                yield LossChart(id="chart")
                yield WindowRuler(id="ruler")
                yield PanelDeck(id="deck")
        yield QuietFooter()

    def on_mount(self) -> None:
        self.chart = self.query_one(LossChart)
        self.status = self.query_one(StatusPanel)
        self.form = self.query_one(ConfigForm)
        self.deck = self.query_one(PanelDeck)
        self.race = RaceScreen(self.runs_dir, lambda: self.form.config, lambda: self.running)
        self.install_screen(self.race, "race")
        self.show_form_config(self.initial)
        self.set_interval(PROGRESS_PAINT_S, self._paint_progress)
        if self.preload_tf:
            self._advance(self.run_state.tensorflow_loading())

    def on_ready(self) -> None:
        # Only once the first frame is out: importing TensorFlow holds the GIL for seconds,
        # and started from on_mount it delayed the first paint from ~0.9 s to ~1.4 s.
        if self.preload_tf:
            self._load_tensorflow()

    def on_resize(self, event) -> None:
        # Designed for 120x40; below that the form narrows and the extras give way.
        self.screen.set_class(event.size.width < 100, "-narrow")
        self.screen.set_class(event.size.height < 30, "-short")
        self.set_wide(event.size.width, event.size.height)

    @work(thread=True, exclusive=True, exit_on_error=False, group="tf")
    def _load_tensorflow(self) -> None:
        from ..tfload import device_name, quiet_tensorflow

        # Its CPU threads are chosen for the config the app opened with (tfload).
        self.post_message(TensorFlowLoaded(device_name(quiet_tensorflow(self.initial))))

    def on_tensor_flow_loaded(self, message: TensorFlowLoaded) -> None:
        self.status.device = message.device
        self._advance(self.run_state.tensorflow_loaded())
        # At once: nothing has been edited yet to settle, and F5 soon after the app is idle
        # found the fast preset's program still compiling (1.5 s to the first loss).
        self._warm_now()

    def _warm_soon(self) -> None:
        """While idle, make the form's program ahead (rnntui.warm), WARM_DELAY_S after the
        form settles: F5 then finds it compiled (bench/first_loss.py)."""
        if self._warm_timer is not None:
            self._warm_timer.stop()
        if self.preload_tf:  # (tests without TensorFlow in the background: never)
            self._warm_timer = self.set_timer(WARM_DELAY_S, self._warm_now)

    def _warm_now(self) -> None:
        config = self.form.config
        if config is not None and not self.running and self.run_state.phase != "loading":
            self._warm(config)

    @work(thread=True, exclusive=True, exit_on_error=False, group="warm")
    def _warm(self, config: Config) -> None:
        from ..warm import warm

        run_in_background()
        warm(config)  # an invalid config raises ConfigError: the form says so already

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that raised (TensorFlow failing to import, say) ends in a status that
        says what failed, never in "loading TensorFlow" forever."""
        worker = event.worker
        if event.state != WorkerState.ERROR or worker.group not in ("tf", "train"):
            return
        error = worker.error
        message = f"{type(error).__name__}: {error}"
        if worker.group == "tf":
            self._advance(self.run_state.tensorflow_failed(message))
        elif self.run_state.active:
            self._advance(self.run_state.on_event(Failed(message)))

    # ---- the run state ----------------------------------------------------------
    @property
    def run_id(self) -> int:
        return self.run_state.run_id

    @property
    def started(self) -> Started | None:
        return self.run_state.started

    def _advance(self, new: RunState) -> None:
        """The one place the run state changes; what shows it follows from it."""
        old, self.run_state = self.run_state, new
        self.status.state = new.label
        if new.detail != old.detail or new.run_id != old.run_id:
            self.status.detail = new.detail
        if new.floors != old.floors and new.config is not None:
            self.chart.set_floors(list(new.floors))
        if new.bad_field != old.bad_field:
            self.form.hint(new.bad_field or old.bad_field, new.detail if new.bad_field else "")

    # ---- the form -------------------------------------------------------------
    def show_form_config(self, config: Config) -> None:
        """The floors follow the form until a run owns the chart (a run keeps its own floors,
        whatever is edited after it); the ruler always shows the form's window."""
        d, t = config.data, config.train
        if self.run_state.config is None:
            self.chart.set_floors(list(floors_of(config)))
        ruler = self.query_one(WindowRuler)
        rules = () if d.data_file else d.rules  # a file has no rules to mark
        ruler.num_steps, ruler.rules, ruler.carry = t.num_steps, rules, t.carry_state

    @on(ConfigForm.Changed)
    def _form_changed(self, message: ConfigForm.Changed) -> None:
        if message.config is None:
            return
        self.show_form_config(message.config)
        if not self.running:
            self._warm_soon()
        if not self.running or not message.changed:
            return
        if message.changed == "learning_rate" and self.control is not None:
            lr = message.config.train.learning_rate
            self.control.set_learning_rate(lr)
            self.notify(f"learning rate {lr:g} applies at the next chunk", timeout=2)
            return
        run = self.run_state.config
        if run is not None and message.config.with_values(
                learning_rate=run.train.learning_rate) == run:
            return  # what the run trains already (an edit undone, or the form's first checks)
        if message.changed != "learning_rate" and not self._asked:
            if self._ask_timer is not None:
                self._ask_timer.stop()
            self._ask_timer = self.set_timer(ASK_DELAY_S, self._ask_restart)

    def _ask_restart(self) -> None:
        if not self.running or self._asked:
            return
        self._asked = True
        self.push_screen(ConfirmScreen("Settings changed. Restart training with them now?\n"
                                       "(No: they apply to the next run.)"), self._restart)

    def _restart(self, yes: bool | None) -> None:
        if yes:
            self.start_training()

    # ---- actions --------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.run_state.active

    @property
    def busy(self) -> bool:
        """A training or a race is running."""
        return self.running or self.race.racing

    def action_train(self) -> None:
        if self.form.config is None:
            first = next(iter(self.form.errors.values()), "the form has errors")
            self.notify(f"cannot train: {first}", severity="error", timeout=4)
            return
        if self.race.racing:
            self.notify("a race is running: F8 stops it", severity="warning", timeout=3)
            return
        if self.running:
            self.push_screen(ConfirmScreen("A training is running. Restart it?"), self._restart)
            return
        self.start_training()

    def start_training(self, resume: Run | None = None) -> None:
        """Train the form's config into a new run folder, or continue `resume`'s run."""
        config = resume.config if resume else self.form.config
        if config is None:
            return
        if self.control is not None:
            self.control.stop()
        self.control, self._asked = Control(), False
        self._latest = None
        self.chart.clear_data()
        self.status.clear()
        self.deck.clear()
        self._advance(self.run_state.start(config))
        self.bridge = Bridge(self, self.run_id)
        self.show_form_config(self.form.config or config)
        self.status.run, self.run_path = "", None
        self._train(TrainJob(config, self.runs_dir, resume), self.control, self.bridge)

    @work(thread=True, exclusive=True, exit_on_error=False, group="train")
    def _train(self, job: TrainJob, control: Control, bridge: Bridge) -> None:
        try:
            train_in_run(job, bridge, control, self.post_message)
        finally:
            control.done.set()

    def on_run_opened(self, message: RunOpened) -> None:
        if message.run_id != self.run_id:
            return
        self.run_path, self.status.run = message.path, message.path.name
        h = message.history
        if h is not None:  # a resumed run: its curve so far, then the new steps continue it
            self.chart.add_points(h.steps, h.losses)
            for step, loss in h.val:
                self.chart.add_val(step, loss)

    def action_pause(self) -> None:
        if self.race.racing:
            self.race.toggle_pause()
            return
        if not self.running or self.control is None:
            return
        if self.control.paused:
            self.control.resume()
            self._advance(self.run_state.resume())
        else:
            self.control.pause()
            self._advance(self.run_state.pause())

    def action_stop(self) -> None:
        if self.race.racing:
            self.race.stop()
        elif self.running and self.control is not None:
            self.control.stop()
            self._advance(self.run_state.stopping())

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def on_unmount(self) -> None:
        """However the app ends (ctrl+q, a test's context, an error), its trainings stop: a
        thread worker cannot be cancelled, and one left training would keep the process
        alive, waiting on it."""
        race = getattr(self, "race", None)
        for control in (self.control, race.control if race else None):
            if control is not None:
                control.stop()

    async def action_quit(self) -> None:
        for control in (self.control, self.race.control):
            if control is not None:
                control.stop()
        self.exit()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Train", "Start training (F5)", self.action_train)
        yield SystemCommand("Pause / resume", "Pause or resume training (F6)", self.action_pause)
        yield SystemCommand("Stop", "Stop training (F8)", self.action_stop)
        yield SystemCommand("Help", "Every key binding (F1)", self.action_help)
        yield SystemCommand("Runs", "List, compare, overlay and resume runs (F3)",
                            self.action_runs)
        yield SystemCommand("Race", "Train a grid of configs on one chart (F4)",
                            self.action_race)
        yield SystemCommand("Save chart SVG", "The chart on show, as SVG (ctrl+s)",
                            self.action_save_chart)
        yield SystemCommand("Export model", "The run's model as a .keras file (ctrl+e)",
                            self.action_export_model)
        yield from self.panel_commands()

    # ---- trainer events ---------------------------------------------------------
    def _drain(self) -> None:
        if self.bridge is None:
            return
        d = self.bridge.drain()
        if d.losses:
            self.chart.add_losses(d.first_step, d.losses)
            for step, lr in d.lr_changes:
                self.chart.mark_lr(step, lr)
            # One sparkline point per Progress, however many a drain holds.
            for loss, rate, grad in zip(d.last_losses, d.rates, d.grad_norms, strict=True):
                self.status.push(loss, rate, grad)
        if d.latest is not None:
            first, self._latest = self._latest is None, d.latest
            if first:  # the run's first loss shows now, not at the timers' next turn
                self._paint_progress()
                self.chart.repaint_now()

    def _paint_progress(self) -> None:
        """On a timer (PROGRESS_PAINT_S): the progress text and the sparklines. It drains the
        bridge first, so the last chunk before a pause (whose Tick the rate limit held back)
        still reaches the chart."""
        if not self.is_running:  # shutting down: the widgets are going (see on_trainer_event)
            return
        self._drain()
        p, started = self._latest, self.started
        if p is not None and started is not None and self.run_state.active:
            self.status.detail = StatusPanel.progress_text(
                p.epoch, started.config.train.epochs, p.step, started.total_steps,
                p.steps_per_sec, p.eta_s)
        self.status.refresh_sparks()

    def on_tick(self, message: Tick) -> None:
        if message.run_id == self.run_id and self.is_running:
            self._drain()

    def on_trainer_event(self, message: TrainerEvent) -> None:
        if message.run_id != self.run_id:
            return  # a restarted run's predecessor, still winding down
        if not self.is_running:
            # Shutting down: the training is being stopped (on_unmount), and its last events
            # would reach panels whose children are gone (NoMatches, at a test's end).
            return
        self._drain()
        e, status = message.event, self.status
        self._advance(self.run_state.on_event(e))
        if isinstance(e, Started):
            status.device = e.device
            self.chart.set_span(e.total_steps)  # the x axis reaches to the run's end
            if e.notice:
                self.notify(e.notice, severity="warning", timeout=6)
        elif isinstance(e, Compiled):
            if self.started and e.kernel:
                status.device = f"{self.started.device} · {e.kernel}"
            if e.notice:
                self.notify(e.notice, severity="warning", timeout=6)
        elif isinstance(e, EpochEnd):
            self.chart.add_val(e.step, e.val_loss)
            status.verdict = e.verdict
        elif isinstance(e, Predictions):
            lags = [lag for lag, _ in self.started.config.data.rules] if self.started else []
            self.deck.show_predictions(e, lags)
        elif isinstance(e, Insight):
            self.deck.show_insight(e)
        elif isinstance(e, Finished):
            status.verdict = e.verdict


def make_app(config: Config | None = None, preload_tf: bool = True,
             runs_dir: str | Path = "runs") -> RnnTui:
    """The app the CLI runs and the tests drive; `preload_tf=False` keeps a test's status
    free of the background TensorFlow load, `runs_dir` is where run folders go."""
    return RnnTui(config, preload_tf=preload_tf, runs_dir=runs_dir)
