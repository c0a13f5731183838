"""The engine: one thread per process that owns TensorFlow, and one helper beside it.

Commands run on the engine thread one after another, in the order they came: load
(TensorFlow), warm (a config's program made ahead), train (rnntui.runs.session), race
(several trainings), and any other call that needs TensorFlow (inspect, strategies). So:
- a warm and a training never overlap, and a warm still queued is replaced by a newer one
  or dropped for a training;
- a restart is the old training's stop, then the new training, in that order: the new
  one takes the program the old one kept;
- TensorFlow's process-wide switches (op determinism, CPU threads) have one writer;
- the program cache (`programs`) is a plain field, touched by this thread alone.
The helper (`executor`, rnntui.engine.executor) runs the work beside a training. Both
threads start with the engine and are daemons: a quitting app waits for its run's stop
(bounded), not for them. docs/architecture.md has the table of threads.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from ..config import Config
from ..core.priority import HELPER_BELOW, set_nice
from .executor import Executor
from .programs import ProgramCache

NAME = "rnntui-engine"
TRAININGS = ("train", "race")  # commands that drop the warms queued before them


@dataclass(eq=False)
class _Command:
    kind: str
    fn: Callable
    args: tuple
    kwargs: dict
    future: Future = field(default_factory=Future)


class Engine:
    """The thread that owns TensorFlow, at nice `nice`; its helper runs HELPER_BELOW under."""

    def __init__(self, nice: int = 0):
        self.nice = nice
        self.programs = ProgramCache()
        self.executor = Executor(nice + HELPER_BELOW)
        self._cond = threading.Condition()
        self._queue: deque[_Command] = deque()
        self._running: _Command | None = None
        self._thread = threading.Thread(target=self._loop, name=NAME, daemon=True)
        self._thread.start()

    # ---- commands -------------------------------------------------------------------

    def submit(self, kind: str, fn: Callable, *args: Any, **kwargs: Any) -> Future:
        """fn(*args, **kwargs) in the engine thread after every command before it, as a
        Future. A "warm" replaces the warms still queued; a "train" or "race" drops them
        (their futures are cancelled)."""
        command = _Command(kind, fn, args, kwargs)
        with self._cond:
            if kind == "warm" or kind in TRAININGS:
                for old in [c for c in self._queue if c.kind == "warm"]:
                    self._queue.remove(old)
                    old.future.cancel()
            self._queue.append(command)
            self._cond.notify_all()
        return command.future

    def call(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        """fn(*args, **kwargs) in the engine thread, waited for: run here when this is the
        engine thread (a command calling another), else queued."""
        if self.in_own_thread():
            return fn(*args, **kwargs)
        return self.submit("call", fn, *args, **kwargs).result()

    def load(self, config: Config | None = None) -> Future:
        """Import TensorFlow (its CPU threads chosen for `config`): the name of the device
        `auto` trains on."""
        def load() -> str:
            from .tfload import device_name, quiet_tensorflow

            return device_name(quiet_tensorflow(config))

        return self.submit("load", load)

    def warm(self, config: Config) -> Future:
        """Make `config`'s program ahead (rnntui.engine.warm): True if one was made."""
        from .warm import warm

        return self.submit("warm", warm, self, config)

    # ---- state ----------------------------------------------------------------------

    def in_own_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def check_thread(self) -> None:
        """TensorFlow's objects are this thread's: anything else calling in is a bug."""
        if not self.in_own_thread():
            raise RuntimeError(f"runs in the engine thread ({NAME}), not in"
                               f" {threading.current_thread().name}")

    @property
    def busy(self) -> str:
        """The kind of the command running ("" when idle)."""
        running = self._running
        return running.kind if running is not None else ""

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Until no command is queued or running; False if `timeout` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and self._running is None,
                                       timeout)

    # ---- the thread -----------------------------------------------------------------

    def _next(self) -> _Command:
        with self._cond:
            while True:
                while not self._queue:
                    self._cond.wait()
                command = self._queue.popleft()
                if command.future.set_running_or_notify_cancel():
                    self._running = command
                    return command

    def _loop(self) -> None:
        set_nice(self.nice)
        while True:
            command = self._next()
            try:
                result = command.fn(*command.args, **command.kwargs)
            except BaseException as exc:  # the submitter sees it at future.result()
                command.future.set_exception(exc)
            else:
                command.future.set_result(result)
            finally:
                with self._cond:
                    self._running = None
                    self._cond.notify_all()


_engine: Engine | None = None
_lock = threading.Lock()
_nice = 0


def configure(nice: int) -> None:
    """The engine thread's nice, before the process's engine starts (the terminal app:
    core.priority.ENGINE_IN_APP)."""
    global _nice
    _nice = nice


def get() -> Engine:
    """This process's engine, started on first use."""
    global _engine
    with _lock:
        if _engine is None:
            _engine = Engine(_nice)
        return _engine
