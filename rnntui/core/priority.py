"""Each thread's CPU priority, set once when it starts and never nudged after.

Linux gives every thread its own nice value, and a thread starts with its creator's. The
values are absolute, so a thread reused for another job cannot drift: the UI keeps the
process's own (0), the engine thread runs at ENGINE_IN_APP in the terminal app (where a
key must show at once) and at 0 headless, and the engine's helper HELPER_BELOW under it. The
threads the engine thread starts (TensorFlow's pools, the data feed, the checkpoint
writer) inherit the engine's value. docs/architecture.md has the table.
"""

from __future__ import annotations

import os
import threading

HELPER_BELOW = 5  # the helper (rnntui.engine.executor) runs this much below the engine
# The engine's nice in the terminal app: a key typed while training shows within the goal
# only this far below the UI (bench/terminal.py; at 5 a digit's p90 was over it).
ENGINE_IN_APP = 10


def set_nice(value: int) -> None:
    """Set the calling thread's nice to `value` (where the OS allows: per thread on Linux,
    and only upwards without privileges; elsewhere the thread runs as it is)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(19, value))
    except (AttributeError, OSError):
        pass


def nice() -> int:
    """The calling thread's nice value (0 where it cannot be read)."""
    try:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    except (AttributeError, OSError):
        return 0
