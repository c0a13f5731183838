"""The engine's threads' one queue loop (`JobThread`), and the helper beside a training
(`Executor`): the work that can wait, one job at a time.

The helper's jobs: a training's validations and measurements on the shadow model, the
evaluation's compile and the insight probe's tracing (rnntui.engine.trainer), an export,
and the app's file reads (a data file's checks and floors, the runs list). One thread runs
them, by priority and then in the order they came, so no two jobs ever drive the same Keras
model at once. Each job carries its run: a stop or a divergence cancels that run's queued
jobs (`cancel`), and the run waits for its last one before it lets go of its model (`drain`).

Every wait here has a bound (`DRAIN_S`, `CLOSE_S`) and, when it runs out, says what it
waited for (WaitTimeout, or one logged line where the caller must go on).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from ..core.priority import set_nice

UI, RUN, LATER = 0, 1, 2  # priorities: a person waits for it; a run's events; a speed-up
NAME = "rnntui-helper"
# Far longer than any job here takes (a probe's tracing, a validation): a wait that runs
# out is a hang, said in one line, never a slow machine taken for one.
DRAIN_S = 300.0
CLOSE_S = 60.0

log = logging.getLogger(__name__)


class WaitTimeout(TimeoutError):
    """A bounded wait ran out; the message names what it waited for and how long."""

    def __init__(self, what: str, seconds: float, state: str = "not done"):
        super().__init__(f"waited {seconds:g} s for {what}: {state}")


def name_of(fn: Callable) -> str:
    """A job's function as a message names it."""
    return getattr(fn, "__qualname__", None) or type(fn).__name__


@dataclass(eq=False)
class Job:
    fn: Callable
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    run: Hashable = None  # what the job belongs to (a training's id, "warm", "ui", ...)
    future: Future = field(default_factory=Future)


class JobThread:
    """One daemon thread at nice `nice` running queued jobs one at a time, each answered
    through its Future (an exception included). A subclass keeps the queue in its order:
    `_put`, `_pop` (None when empty) and `_queued`; it calls `_start` once it has one."""

    def __init__(self, nice: int, name: str):
        self.nice = nice
        self._cond = threading.Condition()  # (re-entrant: a cancelled job's callbacks may submit)
        self._running: Job | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def _start(self) -> None:
        self._thread.start()

    def _put(self, job: Job, *how: Any) -> None:
        raise NotImplementedError

    def _pop(self) -> Job | None:
        raise NotImplementedError

    def _queued(self) -> list[Job]:
        raise NotImplementedError

    @property
    def name(self) -> str:
        return self._thread.name

    def in_own_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def _enqueue(self, job: Job, *how: Any) -> Future:
        """Queue `job` (`_put(job, *how)`, under the lock) and wake the thread."""
        with self._cond:
            if self._closed:
                raise RuntimeError(f"{self.name} is closed")
            self._put(job, *how)
            self._cond.notify_all()
        return job.future

    def _doing(self) -> str:
        """What the thread is running now, for a message."""
        running = self._running
        return f"running {name_of(running.fn)}" if running is not None else "idle"

    def _wait(self, done: Callable[[], bool], timeout: float) -> bool:
        """Until done() (checked under the lock, after every job); False if `timeout` first."""
        if self.in_own_thread():  # the job that waits is one of those waited for
            raise RuntimeError(f"a job in {self.name} waits for {self.name}: it would never"
                               " end")
        with self._cond:
            return self._cond.wait_for(done, timeout)

    def _next(self) -> Job | None:
        with self._cond:
            while True:
                job = self._pop()
                if job is None:
                    if self._closed:
                        return None
                    self._cond.wait()
                elif job.future.set_running_or_notify_cancel():
                    self._running = job
                    return job

    def _loop(self) -> None:
        set_nice(self.nice)
        while (job := self._next()) is not None:
            try:
                value = job.fn(*job.args, **job.kwargs)
            except BaseException as exc:  # the submitter sees it at future.result()
                job.future.set_exception(exc)
            else:
                job.future.set_result(value)
            finally:
                with self._cond:
                    self._running = None
                    self._cond.notify_all()


class Executor(JobThread):
    """The helper: one thread, started at once at nice `nice`, running jobs by priority
    and then in order, until `close`."""

    def __init__(self, nice: int = 0, name: str = NAME):
        super().__init__(nice, name)
        self._heap: list[tuple[int, int, Job]] = []
        self._seq = itertools.count()
        self._start()

    def _put(self, job: Job, priority: int = RUN) -> None:
        heapq.heappush(self._heap, (priority, next(self._seq), job))

    def _pop(self) -> Job | None:
        return heapq.heappop(self._heap)[2] if self._heap else None

    def _queued(self) -> list[Job]:
        return [job for _, _, job in self._heap]

    def submit(self, fn: Callable, *args: Any, run: Hashable = None,
               priority: int = RUN) -> Future:
        """fn(*args) in the helper's thread, as a Future; `run` tags it for cancel/drain.
        RuntimeError once closed."""
        return self._enqueue(Job(fn, args, run=run), priority)

    def cancel(self, run: Hashable) -> int:
        """Drop `run`'s queued jobs (their futures are cancelled); returns how many. A job
        already running finishes."""
        with self._cond:
            dropped = [job for _, _, job in self._heap if job.run == run]
            self._heap = [item for item in self._heap if item[2].run != run]
            heapq.heapify(self._heap)
        for job in dropped:
            job.future.cancel()
        return len(dropped)

    def drain(self, run: Hashable, timeout: float = DRAIN_S) -> bool:
        """Wait until no job of `run` is queued or running: True. If `timeout` runs out
        first: False, and one line logged naming the run and the job it waited for (the
        caller goes on letting go of what it holds). RuntimeError from a job of the helper
        itself, which could never see its own end."""
        def idle() -> bool:
            running = self._running is not None and self._running.run == run
            return not running and not any(job.run == run for job in self._queued())

        if self._wait(idle, timeout):
            return True
        log.warning("%s", WaitTimeout(f"the helper's jobs of run {run!r}", timeout,
                                      f"the helper still {self._doing()}"))
        return False

    def pending(self, run: Hashable = None) -> int:
        """Jobs queued or running (of `run`, if given)."""
        with self._cond:
            jobs = [*self._queued(), *([self._running] if self._running else [])]
            return sum(1 for job in jobs if run is None or job.run == run)

    def close(self, timeout: float = CLOSE_S) -> None:
        """Cancel what is queued, let the running job finish, end the thread: WaitTimeout,
        naming the job, if it has not ended within `timeout` (from a job: does not wait)."""
        with self._cond:
            self._closed = True
            dropped, self._heap = self._queued(), []
            self._cond.notify_all()
        for job in dropped:
            job.future.cancel()
        if self.in_own_thread():
            return
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise WaitTimeout(f"{self.name} to end", timeout, f"still {self._doing()}")
