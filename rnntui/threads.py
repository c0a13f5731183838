"""Helper threads of a training run below it: the training's first chunk, and a person's
keys in the app, do not wait for work that can come later (an evaluation's compile, the
insight probe's tracing)."""

from __future__ import annotations

import os
import threading

HELPER_NICE = 5  # how much lower than the thread that starts them helpers run (Linux nice)


def run_below(threads_nice: int = HELPER_NICE) -> None:
    """Lower the calling thread's CPU priority by `threads_nice` (where the OS allows: per
    thread on Linux; elsewhere it runs as it is)."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid)
                                                 + threads_nice))
    except (AttributeError, OSError):
        pass
