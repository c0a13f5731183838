"""One writer per run folder: an OS file lock that the trainer holds for as long as it
writes the run, released by the kernel when its process ends (a kill -9 too).

`lock` in the folder is locked with flock (exclusive, not waiting) and holds who has it:
pid, host, since when. A second trainer, in this process or another, is refused with one
line naming them and what to do. The file stays when the lock is let go (removing it
would let two processes lock two different files of one name).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from pathlib import Path

from ..core.files import PRIVATE_FILE, BadFile, failed_write

LOCK = "lock"


class RunBusy(BadFile):
    """The run is being written by someone else: the message says who and what to do."""

    def __init__(self, run: Path, holder: dict):
        pid, host = holder.get("pid", "?"), holder.get("host", "?")
        super().__init__(run, f"is being trained by pid {pid} on {host}: `rnntui stop {run}"
                              f" --wait` stops it (or `rnntui watch {run}` follows it)")
        self.holder = holder


def holder(run: Path) -> dict:
    """Who last held the run's lock ({} if nobody, or unreadable)."""
    try:
        d = json.loads((Path(run) / LOCK).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return d if isinstance(d, dict) else {}


class RunLock:
    """The run folder's writer lock; `acquire` raises RunBusy if another holds it."""

    def __init__(self, run: str | Path):
        self.run = Path(run)
        self.path = self.run / LOCK
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, note: bool = True) -> RunLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
        except FileNotFoundError:
            raise BadFile(self.run, "is not a run folder (no such directory)") from None
        except OSError as err:
            raise failed_write(self.path, err) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunBusy(self.run, holder(self.run)) from None
        except OSError as err:
            os.close(fd)
            raise failed_write(self.path, err) from None
        self._fd = fd
        if note:
            self.note()
        return self

    def note(self) -> None:
        """Write who holds it (a convenience for the refused; a refused resume, which
        writes nothing, notes it only once its checks pass)."""
        with contextlib.suppress(OSError):
            os.fchmod(self._fd, PRIVATE_FILE)
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                            "since": time.time()}).encode() + b"\n", 0)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> RunLock:
        return self.acquire() if not self.held else self

    def __exit__(self, *exc) -> None:
        self.release()


def busy(run: str | Path) -> RunBusy | None:
    """RunBusy if someone holds the run's lock now, else None (a look: it takes and lets go
    of the lock, writing nothing a holder would miss)."""
    path = Path(run) / LOCK
    if not path.exists():
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return RunBusy(Path(run), holder(run))
    except OSError:
        return None
    finally:
        os.close(fd)  # (closing lets go of a lock taken)
    return None
