"""Control of a running trainer from any thread: pause, resume, stop, learning rate.

Kept apart from the trainer (and free of numpy and TensorFlow) so the app can hold one
from its first paint.
"""

from __future__ import annotations

import threading

from ..config import parse_value


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
        # Set while a paused trainer waits between chunks: no chunk is in flight, and every
        # event of the chunks before the pause has been emitted (what a test waits for).
        self.paused_between_chunks = threading.Event()

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
        try:
            while not self._running.wait(0.05):
                pass
        finally:
            self.paused_between_chunks.clear()
