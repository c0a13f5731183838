"""The rnntui app: wires the form, the engine and the widgets, and little else.

Flow, one direction: form -> validated Config -> the engine's thread (through tui.jobs) ->
Bridge (events as messages, ~10 a second) -> widgets, which repaint on their own timers.
TensorFlow loads in the engine's thread after the first paint, never here."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen

from .. import engine as engines
from ..config import Config
from ..core.control import Control
from ..core.events import Failed, Started
from ..engine import Engine
from ..runs.folders import Run
from . import saving
from .bridge import Bridge, Tick, TrainerEvent
from .detached import DetachedStarted
from .jobs import Exported, Jobs, RunOpened, TensorFlowLoaded, TrainingDropped, TrainJob
from .runstate import RunState, floors_of
from .runview import PROGRESS_PAINT_S, RunView
from .screens.dialogs import ConfirmScreen, HelpScreen
from .screens.race import RaceScreen
from .screens.runs import RunsScreen
from .watching import WATCH_POLL_S, Desk, StopAsked, WatchFailed, WatchLive, WatchRestart
from .widgets.deck import WIDE, PanelDeck
from .widgets.footer import QuietFooter
from .widgets.form import ConfigForm
from .widgets.loss_chart import LossChart
from .widgets.ruler import WindowRuler
from .widgets.status import StatusPanel

ASK_DELAY_S = 0.8  # after the last keystroke, before asking whether to restart
WARM_DELAY_S = 1.0  # after the form settles (idle), before its program is made ahead
QUIT_WAIT_S = 5.0  # quitting waits at most this long for a training's stop checkpoint


class RnnTui(App):
    """Configure, train and watch a recurrent network."""

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
        Binding("f2", "panel", "Panel", priority=True),
        Binding("f7", "deck('gates')", "Gates", priority=True, show=False),
        Binding("f9", "deck('timeline')", "Timeline", priority=True, show=False),
        Binding("ctrl+up", "deck('warmer')", "Warmer", priority=True, show=False),
        Binding("ctrl+down", "deck('cooler')", "Cooler", priority=True, show=False),
        Binding("ctrl+t", "train_detached", "Detached", priority=True, show=False),
    ]

    def __init__(self, config: Config | None = None, preload_tf: bool = True,
                 runs_dir: str | Path = "runs", engine: Engine | None = None,
                 watch: Path | None = None):
        super().__init__()
        self.initial = config or Config()
        self.preload_tf = preload_tf
        self.runs_dir = Path(runs_dir)
        self.jobs = Jobs(engine or engines.get(), self.post_message)
        self.watch_first = watch  # a run to watch from the start (rnntui watch)
        self.desk = Desk(self.runs_dir, self.notify, self.jobs.background, self.post_message)
        self.run_path: Path | None = None  # the current or last training's run folder
        self.run_state = RunState()  # the one run state: changed only by _advance
        self.control: Control | None = None
        self._asked = False
        self._ask_timer = None
        self._warm_timer = None

    # ---- layout ---------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield ConfigForm(self.initial, self.jobs.check_file, id="form")
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
        self.view = RunView(self.chart, self.status, self.deck)
        self.race = RaceScreen(self.runs_dir, lambda: self.form.config, lambda: self.running,
                               self.jobs)
        self.install_screen(self.race, "race")
        self.show_form_config(self.initial)
        self.set_interval(PROGRESS_PAINT_S, self._paint_progress)
        self.set_interval(WATCH_POLL_S, lambda: self.desk.poll(self.run_id))
        if self.watch_first is not None:
            self.watch_run(self.watch_first)
        if self.preload_tf:
            self._advance(self.run_state.tensorflow_loading())

    def on_ready(self) -> None:
        # Only once the first frame is out: importing TensorFlow holds the GIL for seconds.
        if self.preload_tf:  # its CPU threads are chosen for the config the app opened with
            self.jobs.load(self.initial)

    def on_resize(self, event) -> None:
        # Designed for 120x40; below that the form narrows and the extras give way; from
        # WIDE up the deck's panels sit side by side.
        size = event.size
        self.screen.set_class(size.width < 100, "-narrow")
        self.screen.set_class(size.height < 30, "-short")
        self.screen.set_class(size.width >= WIDE[0] and size.height >= WIDE[1], "-wide")

    def on_tensor_flow_loaded(self, message: TensorFlowLoaded) -> None:
        if message.error:  # the status says what failed, never "loading TensorFlow" forever
            self._advance(self.run_state.tensorflow_failed(message.error))
            return
        self.status.device = message.device
        self._advance(self.run_state.tensorflow_loaded())
        self._warm_now()  # at once: nothing has been edited yet to settle

    def _warm_soon(self) -> None:
        """While idle, make the form's program ahead (rnntui.engine.warm), WARM_DELAY_S after
        the form settles: F5 then finds it compiled (bench/first_loss.py)."""
        if self._warm_timer is not None:
            self._warm_timer.stop()
        if self.preload_tf:  # (tests without TensorFlow in the background: never)
            self._warm_timer = self.set_timer(WARM_DELAY_S, self._warm_now)

    def _warm_now(self) -> None:
        config = self.form.config
        if config is not None and not self.busy and self.run_state.phase != "loading":
            self.jobs.warm(config)

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
        if self.run_state.config is None:
            self.chart.set_floors(list(self.form.floors_of(config)))
        self.query_one(WindowRuler).show(config)

    @on(ConfigForm.Changed)
    def _form_changed(self, message: ConfigForm.Changed) -> None:
        if message.config is None:
            return
        self.show_form_config(message.config)
        if not self.busy:
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

    # ---- training ---------------------------------------------------------------
    @property
    def running(self) -> bool:
        """A training of this app's own is going (not one it watches)."""
        return self.run_state.active and not self.run_state.watching

    @property
    def busy(self) -> bool:
        """A training or a race is running."""
        return self.running or self.race.racing

    def action_train(self) -> None:
        if self.form.config is None:
            first = next(iter(self.form.errors.values()), "")
            if not first and self.form.reading:
                first = "data_file: still being read; F5 again in a moment"
            self.notify(f"cannot train: {first or 'the form has errors'}", severity="error",
                        timeout=4)
            return
        if self.race.racing:
            self.notify("a race is running: F8 stops it", severity="warning", timeout=3)
            return
        if self.running:
            self.push_screen(ConfirmScreen("A training is running. Restart it?"), self._restart)
            return
        self.start_training()

    def start_training(self, resume: Run | None = None) -> None:
        """Train the form's config into a new run folder, or continue `resume`'s run. A
        training still going is stopped first; the engine starts this one after it."""
        config = resume.config if resume else self.form.config
        if config is None:
            return
        if self.control is not None:
            self.control.stop()
        self.control, self._asked = Control(), False
        floors = floors_of(config) if resume else self.form.floors_of(config)
        self._advance(self.run_state.start(config, floors))
        bridge = Bridge(self, self.run_id)
        self.view.begin(bridge)
        self.show_form_config(self.form.config or config)
        self.status.run, self.run_path = "", None
        self.jobs.train(TrainJob(config, self.runs_dir, resume), bridge, self.control)

    def on_run_opened(self, message: RunOpened) -> None:
        if message.run_id != self.run_id:
            return
        self.run_path, self.status.run = message.path, message.path.name
        self.view.resumed(message.history)

    def on_training_dropped(self, message: TrainingDropped) -> None:
        if message.run_id == self.run_id:  # stopped while queued behind the old one's stop
            self._advance(replace(self.run_state, phase="stopped", halting=False,
                                  detail="stopped before it started: nothing trained"))

    def action_pause(self) -> None:
        if self.race.racing:
            self.race.toggle_pause()
            return
        if self.run_state.watching and self.run_state.active:
            self.notify("a watched run cannot be paused from here: F8 asks a detached one to"
                        " stop", severity="warning", timeout=3)
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
        elif self.run_state.watching:
            self._advance(self.desk.stop(self.run_state, self.run_path))
        elif self.running and self.control is not None:
            self.control.stop()
            self._advance(self.run_state.stopping())

    def controls(self) -> list[Control]:
        """The controls of what this app trains (a training, a race)."""
        race = getattr(self, "race", None)
        return [c for c in (self.control, race.control if race else None) if c is not None]

    async def action_quit(self) -> None:
        """Stop what trains and wait, at most QUIT_WAIT_S, for its stop checkpoint."""
        going = [c for c in self.controls() if not c.done.is_set()]
        for control in going:
            control.stop()
        if going:
            self._advance(self.run_state.stopping(f"quitting: saving the checkpoint (at most"
                                                  f" {QUIT_WAIT_S:.0f} s)"))
            self.run_worker(self._exit_when_saved(going), exclusive=True, group="quit")
        else:
            self.exit()

    async def _exit_when_saved(self, going: list[Control]) -> None:
        """Leave once the trainings ended, or QUIT_WAIT_S passed; never while a checkpoint
        file is being written (the status says so)."""
        deadline, said = time.monotonic() + QUIT_WAIT_S, False
        while any(not c.done.is_set() for c in going):
            writing = any(c.writing.is_set() for c in going)
            if time.monotonic() >= deadline:
                if not writing:
                    break
                if not said:
                    said = True
                    self._advance(self.run_state.stopping("quitting: still saving the"
                                                          " checkpoint (its file is being"
                                                          " written)"))
            await asyncio.sleep(0.02)
        self.exit()

    def on_unmount(self) -> None:
        """However the app ends (ctrl+q, a test's context, an error), its trainings stop."""
        for control in self.controls():
            control.stop()

    # ---- a run another process trains (tui.watching, tui.detached) ---------------
    def watch_run(self, path: Path, detached: bool = False) -> None:
        """Follow the run folder `path` (read-only): its events replay, then go on live."""
        if self.running:
            self.notify("a training is running here: F8 stops it first", severity="warning",
                        timeout=4)
            return
        self._advance(self.run_state.watch(detached))
        bridge = Bridge(self, self.run_id)
        self.view.begin(bridge)
        self.run_path, self.status.run = Path(path), Path(path).name
        self.desk.follow(Path(path), bridge)

    def on_watch_live(self, message: WatchLive) -> None:
        if message.run_id == self.run_id:
            self._advance(self.run_state.live(message.live))

    def on_watch_failed(self, message: WatchFailed) -> None:
        if message.run_id == self.run_id:
            self._advance(self.run_state.on_event(Failed(message.error)))

    def on_watch_restart(self, message: WatchRestart) -> None:
        if message.run_id == self.run_id and self.run_path is not None:
            self.watch_run(self.run_path, self.run_state.detached)  # a resume cut it back

    def action_train_detached(self) -> None:
        """ctrl+t: the form's config as its own `rnntui train` process, watched here."""
        self.desk.train_detached(self.form.config, self.running)

    def on_detached_started(self, message: DetachedStarted) -> None:
        path = self.desk.started(message)
        if path is not None:
            self.watch_run(path, detached=True)

    def on_stop_asked(self, message: StopAsked) -> None:
        if message.error:
            self.notify(f"cannot stop it: {message.error}", severity="error", timeout=6)

    # ---- other screens and keys -------------------------------------------------
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_runs(self) -> None:
        """F3: the runs screen, from the main screen or the race; F3 again goes back."""
        if isinstance(self.screen, RunsScreen):
            self.screen.dismiss(None)
            return
        if self.screen is self.race:
            self.pop_screen()
        if len(self.screen_stack) == 1:  # not over a dialog
            self.push_screen(RunsScreen(self.runs_dir, self.run_path, lambda: self.busy,
                                        self.jobs), self._resume)

    def _resume(self, picked: Run | Path | None) -> None:
        """The runs screen's choice: a Run to resume, or a run folder to watch."""
        if isinstance(picked, Run):
            self.start_training(resume=picked)
        elif picked is not None:
            self.watch_run(picked)

    def action_race(self) -> None:
        """F4: the race screen, from the main screen or the runs; F4 again goes back."""
        if self.screen is self.race:
            self.race.action_close()
            return
        if isinstance(self.screen, RunsScreen):
            self.screen.dismiss(None)
        if len(self.screen_stack) == 1:
            self.push_screen("race")

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        # F5 trains the form, which the runs and race screens hide: not from there.
        if action == "train" and isinstance(self.screen, (RunsScreen, RaceScreen)):
            return False
        return super().check_action(action, parameters)

    def action_panel(self, panel: str = "") -> None:
        """F2: the next panel of the deck, or `panel` (an id of deck.PANELS)."""
        self._say(self.deck.show_panel(panel))

    def action_deck(self, key: str) -> None:
        """A key of the deck's panels: F7 the hidden state, then the LSTM's cell state and
        each gate in turn ('gates'); F9 the lag effects now or their learning timeline
        ('timeline'); ctrl+up/down a text's sample warmer or cooler."""
        deck = self.deck
        text = {"gates": deck.step_gates, "timeline": deck.toggle_timeline,
                "warmer": lambda: deck.temperature(1),
                "cooler": lambda: deck.temperature(-1)}[key]()
        self._say(text)

    def _say(self, text: str) -> None:
        if text:
            self.notify(text, timeout=2)

    def action_save_chart(self) -> None:
        """The chart on show, as an SVG: into the run folder, or runs_dir for a comparison."""
        text, severity = saving.save_chart(self.screen, self.race, self.runs_dir, self.run_path)
        self.notify(text, severity=severity, timeout=4)

    def action_export_model(self) -> None:
        saving.export_model(saving.export_target(self.screen, self.run_path), self.jobs,
                            self.notify)

    def on_exported(self, message: Exported) -> None:
        text, severity = saving.exported_text(message.path, message.error)
        self.notify(text, severity=severity, timeout=6)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from saving.commands(self)

    # ---- engine events ----------------------------------------------------------
    def _paint_progress(self) -> None:
        """On a timer (PROGRESS_PAINT_S): the progress text and the sparklines. It drains the
        bridge first, so the last chunk before a pause (whose Tick the rate limit held back)
        still reaches the chart."""
        if not self.is_running:  # shutting down: the widgets are going (see on_trainer_event)
            return
        self.view.drain(self.run_state)
        self.view.paint_progress(self.run_state)

    def on_tick(self, message: Tick) -> None:
        if message.run_id == self.run_id and self.is_running:
            self.view.drain(self.run_state)

    def on_trainer_event(self, message: TrainerEvent) -> None:
        if message.run_id != self.run_id or not self.is_running:
            # A restarted run's predecessor winding down; or shutting down, when the last
            # events would reach panels whose children are gone.
            return
        self.view.drain(self.run_state)
        self._advance(self.run_state.on_event(message.event))
        notice = self.view.show(message.event, self.run_state)
        if notice:
            self.notify(notice, severity="warning", timeout=6)


def make_app(config: Config | None = None, preload_tf: bool = True,
             runs_dir: str | Path = "runs", engine: Engine | None = None,
             watch: str | Path | None = None) -> RnnTui:
    """The app the CLI runs and the tests drive; `preload_tf=False` keeps a test's status
    free of the background TensorFlow load, `runs_dir` is where run folders go, `engine`
    the engine it trains in (this process's by default), `watch` a run folder another
    process trains, followed from the start (rnntui watch)."""
    return RnnTui(config, preload_tf=preload_tf, runs_dir=runs_dir, engine=engine,
                  watch=Path(watch) if watch is not None else None)
