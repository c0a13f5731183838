"""Following a run folder as another process writes it: its metrics' new lines, and its
latest look, as the events its trainer emitted (what `rnntui watch` draws).

A partly written last line waits for its end; a metrics file that was replaced or shrank (a
resume cuts it back to its checkpoint and renames the new file over it, which may be longer
than what was read by the time it is looked at) starts the reading over. Nothing here
writes to the folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..core.decode import from_json
from ..core.events import Event, Progress
from ..core.files import BadFile
from .folders import LOOK, METRICS


@dataclass
class Span:
    """A progress line past the metrics' keep-every-step limit (runs.recorder): `progress`,
    whose losses are its steps' first, least, greatest and last, and those as points."""

    progress: Progress
    steps: list[int]
    losses: list[float]


class Follower:
    """`read()` returns the events written since the last call (Span for an aggregate
    progress line)."""

    def __init__(self, run: str | Path):
        self.run = Path(run)
        self.offset = 0
        self.partial = b""
        self.look_seen = 0  # look.json's mtime_ns when last read
        self.restarted = False  # the metrics were replaced: what was read before is gone
        self.inode: int | None = None  # the metrics file read so far

    def read(self) -> list[Event | Span]:
        """New events: the metrics' complete lines, then the look if it changed. BadFile
        for metrics that cannot be read or hold a line that is not an event's."""
        self.restarted = False
        path = self.run / METRICS
        try:
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                if st.st_size < self.offset or self.inode not in (None, st.st_ino):
                    self.offset, self.partial, self.restarted = 0, b"", True
                self.inode = st.st_ino
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return self._look()
        except OSError as err:
            raise BadFile(path, f"cannot be read: {err.strerror or err}") from None
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        events: list[Event | Span] = []
        for line in lines:
            if line.strip():
                events += decode_line(path, line)
        return events + self._look()

    def _look(self) -> list[Event]:
        path = self.run / LOOK
        try:
            seen = path.stat().st_mtime_ns
            if seen == self.look_seen:
                return []
            look = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # not yet, or being replaced: next time
            return []
        self.look_seen = seen
        out = [from_json(look[k]) for k in ("predictions", "insight") if k in look]
        return [e for e in out if e is not None]


def decode_line(path: Path, line: bytes) -> list[Event | Span]:
    try:
        d = json.loads(line)
        event = from_json(d)
    except (UnicodeDecodeError, ValueError) as err:
        raise BadFile(path, f"holds a line that is not an event: {err}") from None
    if event is None:
        return []
    if isinstance(event, Progress) and d.get("span"):
        points = curve_points(event.step, event.losses, int(d["span"]))
        return [Span(event, [p for p, _ in points], [x for _, x in points])]
    return [event]


def curve_points(step: int, losses: list[float], span: int | None) -> list[tuple[int, float]]:
    """(step, loss) points of a progress line: one per step, or for an aggregate line of
    `span` steps its first, least, greatest and last losses spread over them."""
    if not span:
        return [(step - len(losses) + 1 + i, float(x)) for i, x in enumerate(losses)]
    first = step - span + 1
    at = [first + round(i * (span - 1) / (len(losses) - 1)) for i in range(len(losses))]
    return [(s, float(x)) for s, x in zip(at, losses, strict=True)]
