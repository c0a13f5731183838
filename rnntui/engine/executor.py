"""The engine's one background executor: the work beside a training, one job at a time.

Its jobs: a training's validations and measurements on the shadow model, the evaluation's
compile and the insight probe's tracing (rnntui.engine.trainer), an export, and the app's
file reads (a data file's checks and floors, the runs list). One thread runs them, by
priority and then in the order they came, so no two jobs ever drive the same Keras model
at once. Each job carries its run: a stop or a divergence cancels that run's queued jobs
(`cancel`), and the run waits for its last one before it lets go of its model (`drain`).
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from ..core.priority import set_nice

UI, RUN, LATER = 0, 1, 2  # priorities: a person waits for it; a run's events; a speed-up
NAME = "rnntui-helper"


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    run: Hashable = field(compare=False)
    fn: Callable = field(compare=False)
    args: tuple = field(compare=False)
    future: Future = field(compare=False)


class Executor:
    """One thread, started at once at nice `nice`, running jobs until `close`."""

    def __init__(self, nice: int = 0, name: str = NAME):
        self.nice = nice
        self._cond = threading.Condition()
        self._queue: list[_Job] = []
        self._seq = itertools.count()
        self._running: _Job | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable, *args: Any, run: Hashable = None,
               priority: int = RUN) -> Future:
        """fn(*args) in the executor's thread, as a Future; `run` tags it for cancel/drain."""
        future: Future = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("the executor is closed")
            heapq.heappush(self._queue, _Job(priority, next(self._seq), run, fn, args, future))
            self._cond.notify_all()
        return future

    def cancel(self, run: Hashable) -> int:
        """Drop `run`'s queued jobs (their futures are cancelled); returns how many. A job
        already running finishes."""
        with self._cond:
            dropped = [j for j in self._queue if j.run == run]
            self._queue = [j for j in self._queue if j.run != run]
            heapq.heapify(self._queue)
        for job in dropped:
            job.future.cancel()
        return len(dropped)

    def drain(self, run: Hashable, timeout: float | None = None) -> bool:
        """Wait until no job of `run` is queued or running; False if `timeout` passed."""
        def busy() -> bool:
            running = self._running is not None and self._running.run == run
            return running or any(j.run == run for j in self._queue)

        with self._cond:
            return self._cond.wait_for(lambda: not busy(), timeout)

    def pending(self, run: Hashable = None) -> int:
        """Jobs queued or running (of `run`, if given)."""
        with self._cond:
            jobs = [*self._queue, *([self._running] if self._running else [])]
            return sum(1 for j in jobs if run is None or j.run == run)

    def in_own_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def close(self, timeout: float | None = None) -> None:
        """Cancel what is queued, let the running job finish, end the thread."""
        with self._cond:
            self._closed = True
            dropped, self._queue = self._queue, []
            self._cond.notify_all()
        for job in dropped:
            job.future.cancel()
        if not self.in_own_thread():
            self._thread.join(timeout)

    def _next(self) -> _Job | None:
        with self._cond:
            while True:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return None
                job = heapq.heappop(self._queue)
                if job.future.set_running_or_notify_cancel():
                    self._running = job
                    return job

    def _loop(self) -> None:
        set_nice(self.nice)
        while (job := self._next()) is not None:
            try:
                result = job.fn(*job.args)
            except BaseException as exc:  # the submitter sees it at future.result()
                job.future.set_exception(exc)
            else:
                job.future.set_result(result)
            finally:
                with self._cond:
                    self._running = None
                    self._cond.notify_all()
