"""Launch the app in a real terminal.

TensorFlow's C++ runtime writes to file descriptor 2, which is also where Textual draws.
For the app's lifetime fd 2 goes to a log file and Textual draws on a duplicate of the
terminal, so no stray line ever lands on the screen.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
from pathlib import Path

from .. import engine as engines
from ..config import Config
from ..core.priority import ENGINE_IN_APP

SWITCH_INTERVAL_S = 0.001
# After a hang-up nobody waits at the terminal: the run gets longer to end cleanly (its
# stop checkpoint, then its last validation and a stopped event) than a person's ctrl+q.
HANGUP_WAIT_S = 20.0


def run_app(config: Config | None, watch: Path | None = None) -> int:
    """The app in this terminal; `watch`: a run folder to follow (rnntui watch), which needs
    no TensorFlow."""
    from .app import QUIT_WAIT_S, make_app

    # A person types here: the engine yields the CPU to the UI (its threads run below)...
    engines.configure(nice=ENGINE_IN_APP)
    # ... and the GIL: a UI thread waiting for it takes it from a training thread after this
    # long (Python's default is 5 ms), at each of the many awaits a repaint goes through.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    app = make_app(config, preload_tf=watch is None, watch=watch)
    hung_up = _quit_on_hang_up(app, HANGUP_WAIT_S)
    log_path = os.path.join(tempfile.gettempdir(), f"rnntui-{os.getuid()}.log")
    saved_fd, saved_err = None, sys.__stderr__
    if sys.__stderr__ is not None and sys.__stderr__.isatty():
        saved_fd = os.dup(2)
        sys.__stderr__ = os.fdopen(os.dup(saved_fd), "w", encoding="utf-8", errors="replace")
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(log, 2)
        os.close(log)
    try:
        app.run()
    finally:
        if saved_fd is not None:
            with contextlib.suppress(OSError):  # a terminal that is gone (a hang-up)
                sys.__stderr__.close()
            sys.__stderr__ = saved_err
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
    for control in app.controls():  # however it ended (its terminal gone): the stop checkpoint
        control.stop()
        control.wait_to_leave(QUIT_WAIT_S)
    code = 128 + hung_up[0] if hung_up else app.return_code or 0
    if engines.get().busy:
        # Still in a command after the app's bounded wait (an XLA compile sees no stop):
        # leave without tearing the interpreter down around TensorFlow's running threads.
        sys.stdout.flush()
        os._exit(code)
    return code


def _quit_on_hang_up(app, wait_s: float) -> list[int]:
    """SIGHUP and SIGTERM stop a training as F8 does (its checkpoint saved, a stopped event
    written), then the app ends with 128 + the signal, as `rnntui train` does; returns the
    signals caught.

    SIGTERM quits as ctrl+q does. After SIGHUP the terminal (or the SSH connection) is gone:
    Textual's writes to it fail, its writer thread ends, and its shutdown would wait on that
    thread forever. So the handler sends whatever is still drawn to /dev/null, waits for the
    stop checkpoint itself (the engine's thread writes it; nothing it does waits on this
    one), and leaves without the shutdown: there is no terminal left to restore."""
    caught: list[int] = []

    def hang_up(signum, frame) -> None:
        caught.append(signum)
        with contextlib.suppress(OSError, AttributeError, ValueError):
            quiet = os.open(os.devnull, os.O_WRONLY)
            for stream in (sys.__stderr__, sys.__stdout__):
                os.dup2(quiet, stream.fileno())
        for control in app.controls():
            control.stop()
        for control in app.controls():
            control.wait_to_leave(wait_s)
        os._exit(128 + signum)

    def terminate(signum, frame) -> None:
        caught.append(signum)
        app.call_later(app.action_quit)  # in the app's loop: this handler runs inside it

    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, hang_up)
    signal.signal(signal.SIGTERM, terminate)
    return caught
