"""Watching a run that another process trains: `rnntui watch RUN`, w in the runs screen, and
a detached training this app started (tui.detached). `Desk` is the app's side of it: which
run it follows, the detached trainings it starts and F8 on them.

The app's timer asks `Watch.poll` every WATCH_POLL_S; each poll reads what the trainer
wrote since the last one (runs.follow) in the engine's helper, one read at a time, and feeds
its events through the run's Bridge, exactly as a training in this process does: the view
cannot tell the two apart. About once a second it also reads the trainer's live record
(runs.live), posted when what it says changes. Nothing here writes to the run folder.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from textual.message import Message

from ..config import Config
from ..core.events import Failed
from ..core.files import BadFile
from ..runs.folders import METRICS
from ..runs.follow import ENDINGS, Follower, Span, lost_end
from ..runs.live import LIVE, Live, liveness, request_stop
from . import detached
from .bridge import Bridge
from .runstate import RunState

WATCH_POLL_S = 0.25  # a line the trainer writes is on screen within about this (+ a paint)
LIVE_CHECK_S = 1.0


class WatchLive(Message):
    """What the watched run's live record says, when it changes."""

    def __init__(self, run_id: int, live: Live):
        super().__init__()
        self.run_id, self.live = run_id, live


class WatchFailed(Message):
    """The watched run's metrics cannot be read (one line naming the file)."""

    def __init__(self, run_id: int, error: str):
        super().__init__()
        self.run_id, self.error = run_id, error


class WatchRestart(Message):
    """The watched run's metrics were cut back (a resume): read it again from the start."""

    def __init__(self, run_id: int):
        super().__init__()
        self.run_id = run_id


class StopAsked(Message):
    """F8 on a detached run: its trainer was asked to stop (or `error` says why not)."""

    def __init__(self, run_id: int, error: str = ""):
        super().__init__()
        self.run_id, self.error = run_id, error

    @staticmethod
    def ask(path: Path, run_id: int, post: Callable[[Message], object]) -> None:
        """In the helper: write the stop request into the run folder (runs.live)."""
        try:
            request_stop(path)
            post(StopAsked(run_id))
        except (BadFile, OSError) as err:
            post(StopAsked(run_id, str(err)))


class Watch:
    """One watched run; `background` runs a function in the helper (tui.jobs.Jobs)."""

    def __init__(self, path: Path, bridge: Bridge, post: Callable[[Message], object],
                 background: Callable[..., Future]):
        self.path, self.bridge, self.post, self.background = Path(path), bridge, post, background
        self.follower = Follower(path)
        self._reading: Future | None = None
        self._live_at = 0.0
        self._said: tuple[str, str] | None = None
        self.failed = False
        self.ended = False  # an ending event was read (finished, diverged, failed)
        self._odd = 0  # live checks in a row whose record and metrics disagree

    @property
    def run_id(self) -> int:
        return self.bridge.run_id

    def poll(self) -> None:
        """Read what is new, unless a read is still going (or the metrics proved bad)."""
        if self.failed or (self._reading is not None and not self._reading.done()):
            return
        self._reading = self.background(self._read, run=("watch", str(self.path)))

    def _read(self) -> None:
        """In the helper: the new events through the bridge; the live record now and then."""
        try:
            items = self.follower.read()
        except BadFile as err:
            self.failed = True
            self.post(WatchFailed(self.run_id, str(err)))
            return
        if self.follower.restarted:
            self.failed = True  # this watch is over: the app starts a new one
            self.post(WatchRestart(self.run_id))
            return
        for item in items:
            if isinstance(item, Span):
                self.bridge.on_points(item.progress, item.steps, item.losses)
            else:
                self.bridge.on_event(item)
                self.ended = self.ended or isinstance(item, (*ENDINGS, Failed))
        now = time.monotonic()
        if now - self._live_at >= LIVE_CHECK_S:
            self._live_at = now
            live = self._judged(liveness(self.path))
            if self.failed:
                return
            if (live.state, live.detail) != self._said:
                self._said = (live.state, live.detail)
                self.post(WatchLive(self.run_id, live))

    def _judged(self, live: Live) -> Live:
        """The live record against the metrics, which the trainer ends first: a run ended
        by its record and not by its metrics has lost their end (a cut file: the watch
        fails, saying so), and one whose record cannot be read cannot be told live (it
        reads as not responding). Judged so only on a second look in a row (a second
        apart): a resume cuts the metrics back a moment before it rewrites the record."""
        problem = _mismatch(self.path, live, self.ended, self.follower.partial)
        self._odd = self._odd + 1 if problem else 0
        if self._odd < 2:
            return live
        if live.state == "unknown":
            return Live("not responding", live.step, problem)
        self.failed = True  # it ended: so does this watch
        self.post(WatchFailed(self.run_id, problem))
        return live


def _mismatch(run: Path, live: Live, ended: bool, torn: bytes) -> str:
    """What is wrong when the metrics have no end: "" if nothing is (the run goes on, or
    has not started), else one line naming the file at fault."""
    lost = lost_end(run, live, ended, bool(torn))
    if lost:
        return f"{run / METRICS}: {lost}, so the curve stops early"
    if not ended and live.state == "unknown" and (run / LIVE).exists():
        return f"{run / LIVE}: cannot be read: nothing tells whether this run still trains"
    return ""


Notify = Callable[..., object]


class Desk:
    """What the app does about runs trained elsewhere. `notify` is the app's; `background`
    runs a function in the engine's helper (tui.jobs.Jobs.background); `post` is the app's
    post_message."""

    def __init__(self, runs_dir: Path, notify: Notify, background: Callable[..., Future],
                 post: Callable[[Message], object]):
        self.runs_dir, self.notify, self.background, self.post = runs_dir, notify, background, post
        self.watch: Watch | None = None

    def follow(self, path: Path, bridge: Bridge) -> None:
        """Follow `path` through `bridge` (a new run id): the old watch is dropped."""
        self.watch = Watch(path, bridge, self.post, self.background)
        self.watch.poll()

    def poll(self, run_id: int) -> None:
        if self.watch is not None and self.watch.run_id == run_id:
            self.watch.poll()

    def train_detached(self, config: Config | None, running: bool) -> None:
        """The form's config as its own `rnntui train` process: DetachedStarted, posted."""
        if config is None or running:
            self.notify("cannot train detached: " + ("a training is running here" if running
                        else "the form has errors"), severity="error", timeout=4)
            return
        try:
            proc, log = detached.launch(config, self.runs_dir)
        except OSError as err:
            self.notify(f"cannot train detached: {err}", severity="error", timeout=6)
            return
        self.notify(f"starting a detached training (pid {proc.pid})…", timeout=3)
        self.background(detached.announce, proc, log, self.post, run="detached")

    def started(self, message: detached.DetachedStarted) -> Path | None:
        """The detached training's run folder to watch, or None (said why)."""
        if message.path is None:
            self.notify(f"detached training failed: {message.error}", severity="error",
                        timeout=8)
        else:
            self.notify(f"training detached (pid {message.pid}, log {message.log}): it goes"
                        " on when the app quits; F8 asks it to stop", timeout=6)
        return message.path

    def stop(self, state: RunState, path: Path | None) -> RunState:
        """F8 on a watched run: a detached one of this app's is asked to stop (once; it is
        never killed); any other is read-only."""
        if not state.active or path is None:
            return state
        if not state.detached:
            self.notify(f"read-only: `rnntui stop {path}` stops it", severity="warning",
                        timeout=4)
            return state
        if state.halting:
            self.notify("asked already: it stops at the end of its chunk, checkpoint saved",
                        timeout=4)
            return state
        self.background(StopAsked.ask, path, state.run_id, self.post)
        return state.stopping("asked the trainer to stop: at the end of its chunk")
