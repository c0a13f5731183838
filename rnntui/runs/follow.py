"""Following a run folder as another process writes it: its metrics' new lines, and its
latest look, as the events its trainer emitted (what `rnntui watch` draws); and reading
them whole (`read_events`, `read_look`: inspect, export, sample). Every line read back is
checked to be the event it says, each field of its declared type (`decode`), so a reader
meets a corrupt file as one BadFile naming it, never as a traceback further on.

A partly written last line waits for its end; a metrics file that was replaced or shrank (a
resume cuts it back to its checkpoint and renames the new file over it, which may be longer
than what was read by the time it is looked at) starts the reading over. Nothing here
writes to the folder.
"""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ..core.decode import from_json
from ..core.events import Diverged, Event, Finished, Progress
from ..core.files import BadFile
from .folders import LOOK, METRICS
from .live import LIVE, Live, liveness

ENDINGS = (Finished, Diverged)  # the events a run that ended by one ends its metrics with


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
        self.look_problem = ""  # why the last look read was left out ("" if it was not)
        self.lines = 0  # the metrics' lines read so far

    def read(self) -> list[Event | Span]:
        """New events: the metrics' complete lines, then the look if it changed. BadFile
        for metrics that cannot be read or hold a line that is not an event's."""
        return self.metrics() + self._look()

    def metrics(self) -> list[Event | Span]:
        """The events of the metrics' lines completed since the last read (a line without
        its newline waits in `partial`); BadFile as `read`."""
        self.restarted = False
        path = self.run / METRICS
        try:
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                if st.st_size < self.offset or self.inode not in (None, st.st_ino):
                    self.offset, self.partial, self.restarted = 0, b"", True
                    self.lines = 0
                self.inode = st.st_ino
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        except OSError as err:
            raise BadFile(path, f"cannot be read: {err.strerror or err}") from None
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        events: list[Event | Span] = []
        for line in lines:
            self.lines += 1
            if line.strip():
                events += decode_line(path, line, f"line {self.lines}")
        return events

    def _look(self) -> list[Event]:
        """The look's events if it changed. One that is not a look is left out (the view
        goes on without its predictions; `look_problem` says why) and read again next time:
        the trainer replaces it about once a second."""
        path = self.run / LOOK
        try:
            seen = path.stat().st_mtime_ns
        except OSError:  # not yet
            return []
        if seen == self.look_seen:
            return []
        try:
            look = read_look(self.run)
        except BadFile as err:
            self.look_problem = str(err)
            return []
        self.look_seen, self.look_problem = seen, ""
        return list(look.values())


def read_events(run: str | Path) -> list[Event | Span]:
    """Every event a run's metrics hold, each line checked as `decode` does (a last line
    without its newline is left out: a trainer may be mid-line); BadFile naming the file
    and line otherwise, or naming the file if the run ended by an event its metrics lack
    (`lost_end`: a file cut short, emptied or lost)."""
    follower = Follower(run)
    out = follower.metrics()
    ended = any(isinstance(e, ENDINGS) for e in out)
    lost = lost_end(follower.run, liveness(follower.run), ended, bool(follower.partial))
    if lost:
        raise BadFile(follower.run / METRICS, lost)
    return out


def lost_end(run: Path, live: Live, ended: bool, torn: bool = False) -> str:
    """What is wrong ("" if nothing) with metrics that hold no ending event (`ended`:
    they do) when the live record says the run ended by one: the trainer writes that line
    before the record, so the file was cut short or lost. (A run that broke off without
    an ending event is "failed" there, and is not asked for one.) `torn`: its last line
    has no end."""
    if ended or live.state not in ("finished", "stopped", "diverged"):
        return ""
    metrics = run / METRICS
    how = "is missing" if not metrics.exists() else "ends mid-line" if torn else "has no end"
    return f"{how}, though {LIVE} says {live.detail}: the file was cut short or lost"


def read_look(run: str | Path) -> dict[str, Event]:
    """The newest predictions and insight the run's trainer wrote (look.json), by kind: {}
    if it wrote none. BadFile for a look that cannot be read or is not one."""
    path = Path(run) / LOOK
    try:
        look = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise BadFile(path, f"cannot be read: {err.strerror or err}") from None
    except ValueError:  # (UnicodeDecodeError is one)
        raise BadFile(path, "is not JSON (it holds the newest predictions and insight)") from None
    if not isinstance(look, dict):
        raise BadFile(path, "is not a look (a JSON object of the newest predictions and"
                            " insight)")
    out: dict[str, Event] = {}
    for kind in ("predictions", "insight"):
        d = look.get(kind)
        if d is None:
            continue
        if not isinstance(d, dict) or d.get("event") != kind:
            raise BadFile(path, f"its {kind} is not a {kind} event")
        out[kind] = decode(path, d, kind)[0]
    return out


def decode_line(path: Path, line: bytes, where: str = "a line") -> list[Event | Span]:
    """The events of one metrics line, as `decode`; BadFile if it is not JSON."""
    try:
        d = json.loads(line)
    except ValueError as err:  # (UnicodeDecodeError is one)
        raise BadFile(path, f"holds a line that is not an event ({where}): {err}") from None
    return decode(path, d, where)


def decode(path: Path, d: Any, where: str) -> list[Event | Span]:
    """The event a metrics line (or a look's part) holds, its every field of the type the
    event declares, or [] for a line that is no event of ours. BadFile naming `where`
    otherwise: a reader then never meets a string where a loss should be."""
    if not isinstance(d, dict) or not isinstance(d.get("event"), str):
        raise BadFile(path, f"{where} is not an event (a JSON object with an \"event\")")
    try:
        event = from_json(d)
    except ValueError as err:  # it says "a malformed ... line"
        raise BadFile(path, f"{where}: {_one_line(err)}") from None
    except (TypeError, AttributeError) as err:  # a part that is no mapping, say
        raise BadFile(path, f"{where}: the {d['event']} line is of the wrong shape"
                            f" ({_one_line(err)})") from None
    if event is None:
        return []
    wrong = wrong_field(event)
    if wrong:
        raise BadFile(path, f"{where}: the {event.kind} event's {wrong}")
    span = d.get("span")
    if isinstance(event, Progress) and span:
        if not (_is_int(span) and span >= len(event.losses) >= 2):
            raise BadFile(path, f"{where}: a progress line whose span {span!r} is not a count"
                                " of steps for its losses")
        points = curve_points(event.step, event.losses, span)
        return [Span(event, [p for p, _ in points], [x for _, x in points])]
    return [event]


def wrong_field(value: Any) -> str:
    """'' if every field of a dataclass read back is of its declared type, else which one
    is not and what it should be ("val_loss is not float")."""
    for name, hint in _hints(type(value)).items():
        v = getattr(value, name)
        if dataclasses.is_dataclass(hint) and isinstance(v, hint):
            inner = wrong_field(v)
            if inner:
                return f"{name}.{inner}"
        elif not fits(v, hint):
            return f"{name} is not {hint.__name__ if isinstance(hint, type) else hint}"
    return ""


def fits(value: Any, hint: Any) -> bool:
    """Whether a value read back from JSON is of a field's declared type (an integer where
    a float is declared fits; a bool fits only bool)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return _is_int(value)
    if origin is dict:
        return isinstance(value, dict) and all(fits(k, args[0]) and fits(v, args[1])
                                               for k, v in value.items())
    if origin is tuple and args[-1:] != (Ellipsis,):
        return (isinstance(value, (list, tuple)) and len(value) == len(args)
                and all(fits(v, a) for v, a in zip(value, args, strict=True)))
    if origin in (list, tuple):
        return isinstance(value, (list, tuple)) and all(fits(v, args[0]) for v in value)
    if dataclasses.is_dataclass(hint):
        return isinstance(value, hint) and not wrong_field(value)
    return isinstance(value, origin or hint)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


@cache
def _hints(cls: type) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in typing.get_type_hints(cls).items() if k in names}


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())


def curve_points(step: int, losses: list[float], span: int | None) -> list[tuple[int, float]]:
    """(step, loss) points of a progress line: one per step, or for an aggregate line of
    `span` steps its first, least, greatest and last losses spread over them."""
    if not span:
        return [(step - len(losses) + 1 + i, float(x)) for i, x in enumerate(losses)]
    first = step - span + 1
    at = [first + round(i * (span - 1) / (len(losses) - 1)) for i in range(len(losses))]
    return [(s, float(x)) for s, x in zip(at, losses, strict=True)]
