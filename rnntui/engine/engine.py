"""The engine: one thread per process that owns TensorFlow, and one helper beside it.

Commands run on the engine thread one after another, in the order they came: load
(TensorFlow), warm (a config's program made ahead, rnntui.engine.warm), train
(rnntui.runs.session), race (several trainings), and any other call that needs TensorFlow
(inspect, strategies). The caller says what each is (`submit`'s kind); this module knows
none of their code. So:
- a warm and a training never overlap: a newer warm or a training replaces a warm still
  queued, and tells one running to stop at its next safe point (`cancelled`), unless
  the training trains the very config the running warm makes (both submitted with
  `makes=config`): that warm goes on, and the training takes its program (F5 the
  instant the app shows idle waited for a second build before, bench/first_loss.py);
- a restart is the old training's stop, then the new training, in that order: the new
  one takes the program the old one kept; a training whose Control is stopped while it
  is still queued (a restart, then a quit) is dropped before it makes anything;
- TensorFlow's process-wide switches (op determinism, CPU threads) have one writer;
- the program cache (`programs`) is a plain field, touched by this thread alone.
The helper (`executor`, rnntui.engine.executor) runs the work beside a training; the two
share one queue loop (executor.JobThread). Both threads start with the engine and are
daemons: a quitting app waits for its run's stop (bounded), not for them.
docs/architecture.md has the table of threads and every wait's bound.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..core.priority import HELPER_BELOW
from .executor import Executor, Job, JobThread, WaitTimeout, name_of
from .programs import ProgramCache

if TYPE_CHECKING:
    from ..core.control import Control

NAME = "rnntui-engine"
TRAININGS = ("train", "race")  # commands that drop the warms queued and stop one running
# A question a person or a test waits for (`ask`: inspect, export, a strategy): far longer
# than any takes, so running out means a hang, said in one line.
ASK_S = 300.0
IDLE_S = 300.0  # `wait_idle`'s bound when none is given


@dataclass(eq=False)
class _Command(Job):
    kind: str = "call"
    control: Control | None = None  # a training's: stopped while queued, it is dropped
    stop_asked: threading.Event = field(default_factory=threading.Event)  # see `cancelled`
    makes: Config | None = None  # the config a warm makes, or a training trains first


class Engine(JobThread):
    """The thread that owns TensorFlow, at nice `nice`; its helper runs HELPER_BELOW under."""

    def __init__(self, nice: int = 0):
        super().__init__(nice, NAME)
        self.programs = ProgramCache()
        self.executor = Executor(nice + HELPER_BELOW)
        self._queue: deque[_Command] = deque()
        self._start()

    # ---- commands -------------------------------------------------------------------

    def submit(self, kind: str, fn: Callable, *args: Any, makes: Config | None = None,
               **kwargs: Any) -> Future:
        """fn(*args, **kwargs) in the engine thread after every command before it, as a
        Future. A "warm" or a training ("train", "race") cancels the warms still queued and
        tells a warm running to stop (`cancelled`), unless both say they make the same
        config (`makes`, not passed to fn): that warm goes on, for the training to take."""
        return self._enqueue(_Command(fn, args, kwargs, kind=kind, makes=makes))

    def submit_training(self, kind: str, control: Control, fn: Callable, *args: Any,
                        makes: Config | None = None, **kwargs: Any) -> Future:
        """As submit, for a training that `control` steers: if it is stopped before the
        command starts (a restart's training, then a quit or F8), the command is dropped:
        fn never runs, its future is cancelled."""
        return self._enqueue(_Command(fn, args, kwargs, kind=kind, control=control,
                                      makes=makes))

    def call(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        """fn(*args, **kwargs) in the engine thread, waited for however long it takes (a
        training's wait; a person's question is `ask`): run here when this is the engine
        thread (a command calling another), else queued. RuntimeError from the helper."""
        if self.in_own_thread():
            return fn(*args, **kwargs)
        self._refuse_helper("call")
        return self.submit("call", fn, *args, **kwargs).result()

    def ask(self, fn: Callable, *args: Any, timeout: float = ASK_S) -> Any:
        """As call, for a person or a test who waits: WaitTimeout naming fn and what the
        engine is doing if there is no answer within `timeout` s (fn, if it had not
        started, is cancelled then)."""
        if self.in_own_thread():
            return fn(*args)
        self._refuse_helper("ask")
        future = self.submit("call", fn, *args)
        try:
            return future.result(timeout)
        except TimeoutError:
            if future.done():  # fn's own TimeoutError, or its answer came just now
                return future.result()
            state = (f"not started, so cancelled; {NAME} is {self._doing()}"
                     if future.cancel() else f"still {self._doing()}")
            raise WaitTimeout(f"{name_of(fn)} in {NAME}", timeout, state) from None

    def load(self, config: Config | None = None) -> Future:
        """Import TensorFlow (its CPU threads chosen for `config`): the name of the device
        `auto` trains on."""
        def load() -> str:
            from .tfload import device_name, quiet_tensorflow

            return device_name(quiet_tensorflow(config))

        return self.submit("load", load)

    def _refuse_helper(self, how: str) -> None:
        """A helper job must never wait for the engine: the engine may be waiting for that
        very job (a training waits for its validations), and neither would go on."""
        if self.executor.in_own_thread():
            raise RuntimeError(f"Engine.{how} from {self.executor.name}: the engine may wait for"
                               " this very job, so it would never answer; submit the"
                               " command instead, and do not wait for it there")

    # ---- the queue ------------------------------------------------------------------

    def _put(self, command: _Command) -> None:
        if command.kind == "warm" or command.kind in TRAININGS:
            for old in [c for c in self._queue if c.kind == "warm"]:
                self._queue.remove(old)
                old.future.cancel()
            running = self._running
            if (isinstance(running, _Command) and running.kind == "warm"
                    and not _takes(command, running)):
                running.stop_asked.set()
        self._queue.append(command)

    def _pop(self) -> _Command | None:
        while self._queue:
            command = self._queue.popleft()
            if command.control is not None and command.control.stopped:
                command.future.cancel()  # stopped before it started: it makes no run
                continue
            return command
        return None

    def _queued(self) -> list[Job]:
        return list(self._queue)

    def _doing(self) -> str:
        running = self._running
        if not isinstance(running, _Command):
            return "idle"
        return f"running {running.kind} ({name_of(running.fn)})"

    # ---- state ----------------------------------------------------------------------

    def check_thread(self) -> None:
        """TensorFlow's objects are this thread's: anything else calling in is a bug."""
        if not self.in_own_thread():
            raise RuntimeError(f"runs in the engine thread ({NAME}), not in"
                               f" {threading.current_thread().name}")

    @property
    def cancelled(self) -> bool:
        """The command running was asked to stop at its next safe point (a warm that a
        newer warm or a training replaced): it returns what it has, keeping nothing."""
        running = self._running
        return isinstance(running, _Command) and running.stop_asked.is_set()

    @property
    def awaited(self) -> bool:
        """A training queued will take what the warm running makes (`_takes`): F5 came
        while the warm was making its program, and the warm's compiles beside it would
        share the GIL with that training's setup and first call (bench/first_loss.py
        --after 0)."""
        with self._cond:
            running = self._running
            return isinstance(running, _Command) and running.kind == "warm" and any(
                _takes(c, running) for c in self._queue)

    @property
    def busy(self) -> str:
        """The kind of the command running ("" when idle)."""
        running = self._running
        return running.kind if isinstance(running, _Command) else ""

    def wait_idle(self, timeout: float = IDLE_S) -> bool:
        """Until no command is queued or running; False if `timeout` passed first."""
        return self._wait(lambda: not self._queue and self._running is None, timeout)


def _takes(command: _Command, warm: _Command) -> bool:
    """`command` is a training of the config `warm` is making: it will take that program."""
    return command.kind in TRAININGS and command.makes is not None and command.makes == warm.makes


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
