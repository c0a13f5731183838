"""Training detached: the form's config as its own `rnntui train` process, in a session of its
own, so it outlives the app and the SSH connection; the app then watches its run folder
(tui.watching) like any other, and F8 asks it to stop through that folder (runs.live).

The process's output (JSON lines, and anything TensorFlow prints) goes to a log file in the
temp folder; its first line names the run folder, which is how the app finds it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from textual.message import Message

from ..config import Config, config_string

FIND_S = 60.0  # the trainer names its run folder within this, or it is taken as failed


class DetachedStarted(Message):
    """A detached training made its run folder (`path`), or could not start (`error`)."""

    def __init__(self, path: Path | None, pid: int, log: Path, error: str = ""):
        super().__init__()
        self.path, self.pid, self.log, self.error = path, pid, log, error


def command(config: Config, runs_dir: Path) -> list[str]:
    """The command line that trains `config` into a new run folder under `runs_dir`."""
    return [sys.executable, "-m", "rnntui", "train", "--config-string", config_string(config),
            "--runs-dir", str(runs_dir), "--json"]


def launch(config: Config, runs_dir: Path) -> tuple[subprocess.Popen, Path]:
    """Start the training in its own session (no terminal: a hang-up never reaches it).
    Called on the UI thread, whose priority the process inherits (the engine's and the
    helper's threads run below it: core.priority). OSError if it cannot start."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    log = Path(tempfile.gettempdir()) / f"rnntui-detached-{stamp}-{os.getpid()}.log"
    # The log can hold what the run prints of the user's data: the owner's alone.
    with os.fdopen(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as out:
        proc = subprocess.Popen(command(config, runs_dir), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, log


def find_run(proc: subprocess.Popen, log: Path, deadline_s: float = FIND_S) -> Path:
    """The run folder the process names on its first line; RuntimeError with its last
    words if it ends first or says nothing in time."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        for line in _lines(log):
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if isinstance(d, dict) and d.get("event") == "run":
                return Path(d["path"])
        if proc.poll() is not None:
            last = next((x for x in reversed(_lines(log)) if x.strip()), "no output")
            raise RuntimeError(f"the training ended at once (exit {proc.returncode}): {last}")
        time.sleep(0.05)
    raise RuntimeError(f"the training named no run folder in {deadline_s:.0f} s (see {log})")


def _lines(log: Path) -> list[str]:
    try:
        return log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def announce(proc: subprocess.Popen, log: Path, post) -> None:
    """In the helper: wait for the run folder the process names; post DetachedStarted."""
    try:
        post(DetachedStarted(find_run(proc, log), proc.pid, log))
    except RuntimeError as err:
        post(DetachedStarted(None, proc.pid, log, str(err)))
