"""Launch the app in a real terminal.

TensorFlow's C++ runtime writes to file descriptor 2, which is also where Textual draws.
For the app's lifetime fd 2 goes to a log file and Textual draws on a duplicate of the
terminal, so no stray line ever lands on the screen.
"""

from __future__ import annotations

import os
import sys
import tempfile

from .. import engine as engines
from ..config import Config
from ..core.priority import ENGINE_IN_APP

SWITCH_INTERVAL_S = 0.001


def run_app(config: Config | None) -> int:
    from .app import make_app

    # A person types here: the engine yields the CPU to the UI (its threads run below)...
    engines.configure(nice=ENGINE_IN_APP)
    # ... and the GIL: a UI thread waiting for it takes it from a training thread after this
    # long (Python's default is 5 ms), at each of the many awaits a repaint goes through.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    app = make_app(config)
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
            sys.__stderr__.close()
            sys.__stderr__ = saved_err
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
    code = app.return_code or 0
    if engines.get().busy:
        # Still in a command after the app's bounded wait (an XLA compile sees no stop):
        # leave without tearing the interpreter down around TensorFlow's running threads.
        sys.stdout.flush()
        os._exit(code)
    return code
