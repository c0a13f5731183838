"""Control of a running trainer from any thread: pause, resume, stop, learning rate.

Kept apart from the trainer (and free of numpy and TensorFlow) so the app can hold one
from its first paint.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ..config import parse_value

PAUSED_TICK_S = 1.0  # a paused trainer still calls `while_paused` this often


class Control:
    """Pause, resume, stop and learning-rate changes from any thread; the trainer polls
    it between chunks, so each takes effect within one chunk."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._lock = threading.Lock()
        self._lr: float | None = None
        self.done = threading.Event()  # set once the training's command has returned
        self.saved = threading.Event()  # set once a stop's checkpoint is on disk
        self.writing = threading.Event()  # set while a checkpoint file is being written
        # Set while a paused trainer waits between chunks: no chunk is in flight, and every
        # event of the chunks before the pause has been emitted (what a test waits for).
        self.paused_between_chunks = threading.Event()
        # Called in the trainer's thread about once a second while it waits in a pause (the
        # run folder's session keeps its heartbeat and reads stop requests there).
        self.while_paused: Callable[[], None] | None = None

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def set_learning_rate(self, lr: float) -> None:
        """Raises ConfigError for a rate the form would refuse (<= 0, NaN, inf)."""
        lr = parse_value("learning_rate", lr)
        with self._lock:
            self._lr = lr

    def take_learning_rate(self) -> float | None:
        with self._lock:
            lr, self._lr = self._lr, None
            return lr

    def wait_while_paused(self) -> None:
        if self._running.is_set():
            return
        self.paused_between_chunks.set()
        last = time.monotonic()
        try:
            while not self._running.wait(0.05):
                hook = self.while_paused
                if hook is not None and time.monotonic() - last >= PAUSED_TICK_S:
                    last = time.monotonic()
                    hook()
        finally:
            self.paused_between_chunks.clear()

    def wait_to_leave(self, timeout: float) -> bool:
        """Wait, at most `timeout` s, for the training's command to end; past it, on while a
        checkpoint file is being written (leaving then would lose the stop checkpoint).
        True if it ended; else whether its stop checkpoint is on disk."""
        end = time.monotonic() + timeout
        while not self.done.wait(0.02):
            if time.monotonic() >= end and not self.writing.is_set():
                return self.saved.is_set()
        return True
