"""Files every layer writes or refuses: an atomic write, and the error for a bad file."""

from __future__ import annotations

import os
from pathlib import Path

from ..config import ConfigError


class BadFile(ConfigError):
    """A file that is corrupt, foreign or does not fit; the message starts with its path."""

    def __init__(self, path: str | Path, message: str):
        super().__init__(str(path), message)
        self.path = Path(path)


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` whole or not at all: a temporary file, synced, renamed over it
    (a process killed mid-write leaves the old file)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
