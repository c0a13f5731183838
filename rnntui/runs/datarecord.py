"""A run folder's record of the data file it trained on (data_file.json), and the check
that a resume trains on the same file."""

from __future__ import annotations

import json
from pathlib import Path

from ..core.files import write_atomic
from ..data.datafile import bad, fingerprint

RECORD = "data_file.json"  # in a run folder: the fingerprint of the file it trained on


def record(path: str | Path, run: Path) -> None:
    """Write the file's fingerprint into a run folder, with its path as the user gave it."""
    write_atomic(run / RECORD, json.dumps({**fingerprint(path), "given": str(path)},
                                          indent=1) + "\n")


def check_unchanged(path: str | Path, run: Path) -> None:
    """Raise the one-line error if the file is not the one the run recorded."""
    try:
        was = json.loads((run / RECORD).read_text(encoding="utf-8"))
        if not isinstance(was, dict):
            raise ValueError("not an object")
    except (OSError, ValueError):
        raise bad(path, f"the run {run} has no readable {RECORD}; cannot tell whether the"
                        " file changed") from None
    try:
        now = fingerprint(path)
    except OSError as err:
        raise bad(path, f"cannot read: {err.strerror or err}") from None
    if now["sha256"] != was.get("sha256"):
        raise bad(path, f"changed since the run started ({was.get('bytes')} bytes, SHA-256"
                        f" {str(was.get('sha256'))[:12]}..., now {now['bytes']} bytes,"
                        f" {now['sha256'][:12]}...); resume needs the same data")
