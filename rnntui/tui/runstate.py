"""The app's one run state: a phase, plus the run's own config and floors.

Every change goes through `RunState`'s transitions (user keys and trainer events alike),
and the app applies the result in one method; widgets are painted from it, never read back.
A run keeps the floors of the config it was started with, whatever the form says later.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..config import Config
from ..core.events import Compiled, Diverged, Event, Failed, Finished, Started
from ..data import baselines

PHASES = ("idle", "loading", "compiling", "training", "paused", "stopped", "finished",
          "diverged", "failed", "not responding")
ACTIVE = ("compiling", "training", "paused")  # a run is going: F6 and F8 apply to it
LABELS = {"loading": "loading TensorFlow"}  # how a phase reads in the status


def floors_of(config: Config) -> tuple[tuple[str, float], ...]:
    """The chart's floor lines for a config: (name, loss) per floor, the rules' analytic
    ones. None for a data file, which is read in the background, never on the UI thread:
    its floors come with its read (tui.jobs.FileChecked) or its run's Started event."""
    if config.data.data_file:
        return ()
    return tuple((f.name, f.loss) for f in baselines.floors(config.data.base, config.data.rules))


@dataclass(frozen=True)
class RunState:
    phase: str = "idle"
    run_id: int = 0  # 0 before the first run; events of another run id are stale
    config: Config | None = None  # the run's config (None: no run yet, the form's floors show)
    floors: tuple[tuple[str, float], ...] = ()  # the run's floors, as drawn
    detail: str = ""  # why it ended, or what it is doing; progress text is painted apart
    started: Started | None = None  # the run's Started event, once it came
    bad_field: str = ""  # a failed run's field at fault (a setting this machine cannot have)
    compiled: bool = False  # its first program is compiled: a resume goes back to training
    halting: bool = False  # stopped by the user and winding down: its detail says how
    # A run another process trains, followed through its folder (tui.watching): read-only,
    # its phase from the events written there and the trainer's live record. `detached`:
    # this app started that process, so F8 may ask it to stop.
    watching: bool = False
    detached: bool = False

    @property
    def active(self) -> bool:
        return self.phase in ACTIVE

    @property
    def label(self) -> str:
        label = LABELS.get(self.phase, self.phase)
        return f"{label} · {'detached' if self.detached else 'watching'}" if self.watching \
            else label

    # ---- user actions ---------------------------------------------------------
    def start(self, config: Config, floors: tuple[tuple[str, float], ...]) -> RunState:
        """F5 (or a resume, a restart): a new run, compiling until its first chunk; its
        floors as the form drew them until its Started event brings its own."""
        return RunState("compiling", self.run_id + 1, config, floors, "building the model")

    def watch(self, detached: bool = False) -> RunState:
        """Follow a run folder another process writes: its events replay from the start."""
        return RunState("compiling", self.run_id + 1, None, (), "reading the run folder",
                        watching=True, detached=detached)

    def live(self, live) -> RunState:
        """A watched run's trainer, as its live record tells (runs.live.Live): gone without
        an ending event is "not responding"; back again (resumed) is training."""
        if not self.watching:
            return self
        if live.state == "not responding" and (self.active or self.phase == "not responding"):
            return replace(self, phase="not responding", detail=live.detail)
        if live.state == "paused" and self.phase in ("compiling", "training",
                                                     "not responding"):
            return replace(self, phase="paused", detail=live.detail)
        if live.state == "training" and self.phase in ("not responding", "paused"):
            return replace(self, phase="training" if self.compiled else "compiling",
                           detail=live.detail)
        if live.state == "training" and self.started is None:  # no events yet
            return replace(self, detail=f"waiting for its first event: {live.detail}")
        return self

    def pause(self) -> RunState:
        return replace(self, phase="paused") if self.phase in ("compiling", "training") else self

    def resume(self) -> RunState:
        if self.phase != "paused":
            return self
        return replace(self, phase="training" if self.compiled else "compiling")

    def stopping(self, detail: str = "stopping at the end of this chunk") -> RunState:
        """F8, or a quit (whose `detail` says it waits for the checkpoint): the progress
        text gives way to `detail` until the run's last event."""
        return replace(self, detail=detail, halting=True) if self.active else self

    def tensorflow_loading(self) -> RunState:
        return replace(self, phase="loading") if self.phase == "idle" else self

    def tensorflow_loaded(self) -> RunState:
        return replace(self, phase="idle") if self.phase == "loading" else self

    def tensorflow_failed(self, message: str) -> RunState:
        """TensorFlow could not be imported: nothing can train, and the status says why."""
        if self.active:
            return self
        return replace(self, phase="failed", detail=f"TensorFlow failed to load: {message}")

    # ---- trainer events -------------------------------------------------------
    def on_event(self, event: Event) -> RunState:
        """The state after one of this run's events (Progress and the rest change nothing)."""
        if isinstance(event, Started):  # (a watched run's config comes with it)
            return replace(self, started=event,
                           config=event.config if self.watching else self.config,
                           floors=tuple((f.name, f.loss) for f in event.floors),
                           detail=f"compiling (chunks of {event.chunk} batches)")
        if isinstance(event, Compiled):
            phase = "paused" if self.phase == "paused" else "training"
            return replace(self, phase=phase, compiled=True,
                           detail=f"compiled in {event.seconds:.1f}s")
        if isinstance(event, Finished):
            return replace(self, phase="stopped" if event.stopped else "finished",
                           detail=finished_text(event))
        if isinstance(event, Diverged):
            return replace(self, phase="diverged", detail=f"loss became {event.loss} at step "
                                                          f"{event.step}: lower the learning rate")
        if isinstance(event, Failed):
            return replace(self, phase="failed", detail=event.message, bad_field=event.bad_field)
        return self


def finished_text(e: Finished) -> str:
    epochs = f"{e.epochs} epoch" + ("s" if e.epochs != 1 else "")
    return (f"{epochs}, {e.step:,} steps, val {e.val_loss:.4f}, "
            f"{e.steps_per_sec:,.0f} steps/s, {e.wall_s:.1f}s")
