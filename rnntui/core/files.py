"""Files every layer writes or refuses: an atomic write, private modes, the error for a bad
file and the error for a write that failed."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..config import ConfigError

PRIVATE_FILE, PRIVATE_DIR = 0o600, 0o700  # a run's files can hold the user's data
TMP_SUFFIX = ".tmp"  # every temporary name ends so (a new trainer clears a dead one's)
# Errors of the machine, not of what the user asked: a full disk, a read-only or broken one.
FAULTS = (errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EIO)


class BadFile(ConfigError):
    """A file that is corrupt, foreign or does not fit; the message starts with its path."""

    def __init__(self, path: str | Path, message: str):
        super().__init__(str(path), message)
        self.path = Path(path)


class WriteFailed(OSError):
    """A write that failed (a full disk, a read-only folder): one line naming the file."""

    def __init__(self, path: str | Path, err: OSError):
        why = {errno.ENOSPC: "the disk is full", errno.EROFS: "the file system is read-only",
               errno.EDQUOT: "the disk quota is used up",
               errno.EACCES: "permission denied"}.get(err.errno, err.strerror or str(err))
        super().__init__(err.errno, why, str(path))
        self.path = Path(path)

    def __str__(self) -> str:
        return f"cannot write {self.path}: {self.strerror}"


def failed_write(path: str | Path, err: OSError) -> WriteFailed:
    """`err` as a WriteFailed naming `path` (one already naming its file is kept)."""
    return err if isinstance(err, WriteFailed) else WriteFailed(path, err)


def write_atomic(path: Path, text: str, *, private: bool = True) -> None:
    """Write `text` to `path` whole or not at all: a temporary file of a name of its own,
    synced, renamed over it (a process killed mid-write leaves the old file, and two writers
    never share a temporary). Private (0600) unless told otherwise. WriteFailed naming
    `path` if it cannot be written; no temporary is left behind then."""
    data = text.encode("utf-8")
    write_atomic_with(path, lambda f: f.write(data), private=private)


def write_atomic_with(path: Path, write: Callable, *, private: bool = True) -> None:
    """write_atomic for a writer of its own: `write(f)` fills the binary file `f`."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                   suffix=TMP_SUFFIX)
    except OSError as err:
        raise failed_write(path, err) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if not private:  # mkstemp makes it 0600; a shared output follows the umask
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise failed_write(path, err) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def open_private(path: Path, mode: str = "a"):
    """Open `path` for appending or writing, made 0600 whatever the umask."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    fd = os.open(path, flags, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)  # (an older file keeps its mode otherwise)
    return os.fdopen(fd, mode + "b")


def make_private_dir(path: Path) -> None:
    """mkdir, 0700 whatever the umask (FileExistsError if it is there)."""
    path.mkdir(mode=PRIVATE_DIR)
    os.chmod(path, PRIVATE_DIR)


def clear_stale_temps(folder: Path) -> list[Path]:
    """Remove the temporary files a killed writer left in `folder` (call it only holding
    the folder's lock: nobody else writes there then). Returns what it removed."""
    gone = []
    for p in Path(folder).glob(f"*{TMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            p.unlink()
            gone.append(p)
    return gone
