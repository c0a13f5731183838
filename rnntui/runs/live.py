"""Whether a run is being trained right now, by whom, and asking it to stop.

The trainer's session keeps `live.json` in its run folder: its pid, its host, when it
started, a heartbeat (at most once a second, with the step) and how it ended. A viewer in
another process (or on another host, over a shared folder) reads it: "training",
"finished", "stopped", or "not responding since step N" when the heartbeat is old and the
trainer is gone. `rnntui stop RUN` (or F8 on a detached run) writes `stop` into the
folder; the session sees it within about a second and stops as F8 does.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from ..core.files import BadFile, write_atomic

LIVE, STOP = "live.json", "stop"
BEAT_S = 1.0  # the heartbeat's pace while events come
# A trainer on another host (a shared folder) whose heartbeat is older than this is taken
# for gone; one on this host is asked directly whether its process lives. (A first XLA
# compile can keep a trainer silent for tens of seconds.)
STALE_S = 60.0
ENDED = ("finished", "stopped", "diverged", "failed")


class Heartbeat:
    """The session's side: live.json, written atomically."""

    def __init__(self, run: Path):
        self.path = Path(run) / LIVE
        self.started = time.time()
        self.last = 0.0
        self.step = 0

    def _write(self, state: str) -> None:
        write_atomic(self.path, self._record(state))

    def _record(self, state: str) -> str:
        return json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                           "started": self.started, "beat": time.time(), "step": self.step,
                           "state": state}) + "\n"

    def start(self, step: int = 0) -> None:
        self.step = step
        (self.path.parent / STOP).unlink(missing_ok=True)  # an old request is not for us
        self._write("training")
        self.last = time.monotonic()

    def beat(self, step: int) -> None:
        self.step = step
        if time.monotonic() - self.last >= BEAT_S:
            self._write("training")
            self.last = time.monotonic()

    def paused(self) -> None:
        """While the trainer waits in a pause: alive, and saying so."""
        if time.monotonic() - self.last >= BEAT_S:
            self._write("paused")
            self.last = time.monotonic()

    def end(self, state: str) -> None:
        """How the run ended. On a disk too full for a new file, written over the old one in
        place (its blocks are there; padded, so no old byte shows): viewers must not read
        "training" of a run that failed for want of space."""
        try:
            self._write(state)
        except OSError:
            text = self._record(state).encode()
            with open(self.path, "r+b") as f:
                old = len(f.read())
                f.seek(0)
                f.write(text.rstrip(b"\n").ljust(max(old, len(text)) - 1) + b"\n")
                f.flush()
                os.fsync(f.fileno())


@dataclass
class Live:
    """A run's state as a viewer tells it."""

    state: str  # training, paused, not responding, finished, stopped, diverged, failed, or
    # unknown (no live record: a run of an older version, or one not started yet)
    step: int = 0
    detail: str = ""  # one line for the status

    @property
    def live(self) -> bool:
        return self.state in ("training", "paused")


def _alive(pid: int) -> bool:
    """Whether process `pid` runs on this host (a zombie, killed and not yet reaped, does
    not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it is there
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):  # no /proc (macOS): kill's answer stands
        return True


def liveness(run: Path, now: float | None = None) -> Live:
    """What the run's live record says now (its folder must be a run's)."""
    path = Path(run) / LIVE
    if not path.exists():
        return Live("unknown", 0, "no live record: not started yet, or trained by an older"
                                  " version")
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
        state, step = str(rec.get("state", "")), int(rec.get("step", 0))
        pid, host, beat = int(rec.get("pid", 0)), str(rec.get("host", "")), float(rec["beat"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        return Live("unknown", 0, f"{LIVE} cannot be read (empty, cut or not a live record)")
    if state in ENDED:
        return Live(state, step, f"{state} at step {step:,}")
    age = (time.time() if now is None else now) - beat
    if host == socket.gethostname():
        alive = _alive(pid)
    else:
        alive = age < STALE_S
    if alive:
        quiet = f" (no heartbeat for {age:.0f} s: compiling or busy)" if age > STALE_S \
            else ""
        state = "paused" if state == "paused" else "training"
        return Live(state, step, f"{state}: pid {pid} on {host}{quiet}")
    return Live("not responding", step,
                f"not responding since step {step:,} (the trainer is gone: `rnntui train"
                f" --resume {run}` continues it)")


def request_stop(run: Path) -> Live:
    """Ask the run's trainer to stop (as F8; a paused one too): BadFile, naming the run, if
    it is not live; WriteFailed if the request cannot be written."""
    live = liveness(run)
    if not live.live:
        raise BadFile(run, f"is not live ({live.state}): there is nothing to stop")
    write_atomic(Path(run) / STOP, f"{time.time()}\n")
    return live


def stop_requested(run: Path) -> bool:
    return (Path(run) / STOP).exists()


def runs_with_liveness(runs_dir: Path) -> list[tuple[Path, Live]]:
    """Every run folder under `runs_dir` (one with a config.toml), newest first, with what
    its live record says."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    runs = sorted((p for p in root.iterdir() if (p / "config.toml").is_file()), reverse=True)
    return [(p, liveness(p)) for p in runs]
