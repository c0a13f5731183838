"""From the training thread to the UI: events become messages, coalesced to ~10 a second.

The trainer calls `Bridge.on_event` in its own thread. Progress events only add their
losses to a locked buffer; a `Tick` message is posted at most every `INTERVAL` seconds,
and a newer Tick replaces a queued one (`can_replace`), so a slow UI never falls behind.
Each message handler drains the buffer first, so no loss is dropped and order is kept.
Nothing here touches a widget, and nothing blocks the trainer (no call_from_thread).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from textual.message import Message

from ..core.events import Event, Insight, Predictions, Progress

INTERVAL = 0.1  # seconds between Tick messages: about 10 a second


@dataclass
class Drained:
    """What arrived since the last drain: per-step losses from `first_step`, the latest
    Progress (rates, ETA, learning rate) and the learning rates seen, with their steps."""

    first_step: int = 0
    losses: list[float] = field(default_factory=list)
    latest: Progress | None = None
    grad_norms: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)
    last_losses: list[float] = field(default_factory=list)  # per Progress: its chunk's last
    lr_changes: list[tuple[int, float]] = field(default_factory=list)
    # After `losses`: points at steps of their own (a watched run's aggregate lines)
    points: tuple[list[int], list[float]] = field(default_factory=lambda: ([], []))


class Tick(Message):
    """Training progressed; drain the bridge. A newer Tick replaces a queued one."""

    def __init__(self, run_id: int):
        super().__init__()
        self.run_id = run_id

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, Tick) and message.run_id == self.run_id


class TrainerEvent(Message):
    """Any event other than Progress, posted as it comes (a few a second at most)."""

    def __init__(self, run_id: int, event: Event):
        super().__init__()
        self.run_id, self.event = run_id, event

    def can_replace(self, message: Message) -> bool:
        # Only the newest predictions and the newest insight matter.
        return (isinstance(self.event, (Predictions, Insight)) and isinstance(message, TrainerEvent)
                and type(message.event) is type(self.event) and message.run_id == self.run_id)


class Bridge:
    """One per run. `target` is the app (its post_message is thread-safe)."""

    def __init__(self, target, run_id: int, clock=time.monotonic):
        self.target, self.run_id, self.clock = target, run_id, clock
        self._lock = threading.Lock()
        self._pending = Drained()
        self._last_post = 0.0
        self._last_lr: float | None = None

    def on_event(self, event: Event) -> None:
        if isinstance(event, Progress):
            self._progress(event, event.losses)
            return
        self.target.post_message(TrainerEvent(self.run_id, event))

    def on_points(self, event: Progress, steps: list[int], losses: list[float]) -> None:
        """A progress line that stands for many steps (a watched run past its metrics'
        keep-every-step limit): its losses at their own steps."""
        self._progress(event, [], (steps, losses))

    def _progress(self, event: Progress, losses: list[float],
                  points: tuple[list[int], list[float]] | None = None) -> None:
        with self._lock:
            p = self._pending
            if losses and not p.losses:
                p.first_step = event.step - len(losses) + 1
            if points is not None:
                p.points[0].extend(points[0])
                p.points[1].extend(points[1])
            else:
                p.losses.extend(losses)
            p.latest = event
            p.grad_norms.append(event.grad_norm)
            p.rates.append(event.steps_per_sec)
            p.last_losses.append(event.losses[-1] if event.losses else float("nan"))
            if self._last_lr is not None and event.learning_rate != self._last_lr:
                p.lr_changes.append((event.step - len(event.losses) + 1, event.learning_rate))
            self._last_lr = event.learning_rate
        now = self.clock()
        if now - self._last_post >= INTERVAL:
            self._last_post = now
            self.target.post_message(Tick(self.run_id))

    def drain(self) -> Drained:
        with self._lock:
            out, self._pending = self._pending, Drained()
        return out
