"""Sequences from a file: .npz arrays, a .csv with a header, or a .txt, as symbol codes.

Every symbol becomes a code 0..V-1 in the sorted order of its column's symbols, so a 0/1
series keeps its values (and trains exactly as the generator's does). Inputs and targets
are uint8 codes (at most MAX_SYMBOLS symbols): one byte a step, 200 MB for a 100M-step
file, read in chunks of CHUNK steps so the reader's temporaries stay bounded too.

Every problem is a ConfigError on the field data_file: one line naming the file and, where
it applies, the line (CSV) or the array (npz).
"""

from __future__ import annotations

import codecs
import hashlib
import itertools
import os
import warnings
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..config import ConfigError

MAX_SYMBOLS = 256
CHUNK = 1 << 20  # steps (CSV rows, npz items, text bytes) read at a time
FORMATS = (".npz", ".csv", ".txt")


@dataclass(frozen=True, eq=False)
class FileData:
    """A file's series: x[t] is the input at step t, y[t] the target; codes index symbols."""

    path: str
    x: np.ndarray  # uint8 codes into x_symbols
    y: np.ndarray  # uint8 codes into y_symbols
    x_symbols: tuple[str, ...]
    y_symbols: tuple[str, ...]
    kind: str  # "x,y" or "next symbol"


def bad(path: str | Path, message: str) -> ConfigError:
    return ConfigError("data_file", f"{path}: {message}")


def load(path: str | Path) -> FileData:
    """The file's series, cached while the file's size and modification time stay the same."""
    if "\x00" in str(path):  # (the OS refuses it with a ValueError, not an OSError)
        raise ConfigError("data_file", "a file name cannot hold a NUL character (\\x00)")
    p = Path(path).expanduser()
    try:
        st = p.stat()
    except FileNotFoundError:
        raise bad(path, "no such file") from None
    except OSError as err:
        raise bad(path, f"cannot read: {err.strerror or err}") from None
    if p.is_dir():
        raise bad(path, "is a directory; give a .npz, .csv or .txt file")
    if p.suffix.lower() not in FORMATS:
        raise bad(path, f"unknown format {p.suffix or '(no extension)'!r}; use .npz, .csv or"
                        " .txt")
    if st.st_size == 0:
        raise bad(path, "is empty")
    return _load(str(p), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=2)
def _load(path: str, size: int, mtime_ns: int) -> FileData:
    del size, mtime_ns  # the cache key: a changed file is read again
    reader = {".npz": _read_npz, ".csv": _read_csv, ".txt": _read_txt}[Path(path).suffix.lower()]
    try:
        data = reader(path)
    except OSError as err:
        raise bad(path, f"cannot read: {err.strerror or err}") from None
    if len(data.y) < 2:
        raise bad(path, f"has {len(data.y)} step(s); a series needs many more")
    if len(data.y_symbols) < 2:
        raise bad(path, f"the target has a single symbol {data.y_symbols[0]!r}; there is"
                        " nothing to predict")
    return data


_digests: dict[tuple, str] = {}  # (path, inode, size, mtime, ctime) -> SHA-256


def fingerprint(path: str | Path) -> dict[str, object]:
    """What the run folder records of a file: its path, size in bytes and SHA-256. Hashed
    once while the file's inode, size and change times stay (a CLI resume checks the file
    before it opens the run, and the run checks it again: a 10M-step file is read once)."""
    p = Path(path).expanduser().resolve()
    st = p.stat()
    key = (str(p), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if key not in _digests:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
        _digests[key] = h.hexdigest()
    return {"path": str(p), "bytes": st.st_size, "sha256": _digests[key]}


class _Vocab:
    """Codes for a column read in chunks: first-seen codes while reading, sorted at the end."""

    def __init__(self, path: str, where: str):
        self.path, self.where = path, where
        self.index: dict = {}

    def codes(self, chunk: np.ndarray) -> np.ndarray:
        if chunk.dtype.kind in "iu" and len(chunk) and 0 <= chunk.min() and chunk.max() < 1 << 21:
            # Small non-negative integers (bits, bytes, code points): a table, no sort.
            present = np.flatnonzero(np.bincount(chunk))
            table = np.zeros(int(present[-1]) + 1, dtype=np.uint8)
            table[present] = self._add(present.tolist())
            return table[chunk]
        uniq, inv = np.unique(chunk, return_inverse=True)
        return np.asarray(self._add(uniq.tolist()), dtype=np.uint8)[inv.reshape(-1)]

    def _add(self, values: list) -> list[int]:
        for v in values:
            if v not in self.index:
                if len(self.index) == MAX_SYMBOLS:
                    raise bad(self.path, f"{self.where} has more than {MAX_SYMBOLS} distinct"
                                         " symbols")
                self.index[v] = len(self.index)
        return [self.index[v] for v in values]

    def finish(self, parts: list[np.ndarray], show=str) -> tuple[np.ndarray, tuple[str, ...]]:
        """The codes renumbered in sorted symbol order, and the symbols."""
        values = sorted(self.index)
        rank = np.zeros(max(len(values), 1), dtype=np.uint8)
        for r, v in enumerate(values):
            rank[self.index[v]] = r
        codes = np.concatenate(parts) if parts else np.zeros(0, np.uint8)
        return rank[codes], tuple(show(v) for v in values)


def _read_npz(path: str) -> FileData:
    """Arrays x and y, streamed from the zip member (compressed or not) in chunks: np.load's
    mmap_mode does nothing for .npz, and reading the whole int64 array would take 8 bytes a
    step. Never unpickles: an object array is refused from its header."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = {n.removesuffix(".npy") for n in zf.namelist() if n.endswith(".npy")}
            for name in ("x", "y"):
                if name not in names:
                    have = ", ".join(sorted(names)) or "none"
                    raise bad(path, f"has no array {name!r} (arrays: {have}); it needs x and y")
            heads = {n: _npy_header(path, zf, n) for n in ("x", "y")}
            if heads["x"][0] != heads["y"][0]:
                raise bad(path, f"arrays x and y have different lengths ({heads['x'][0]} and"
                                f" {heads['y'][0]})")
            x, xs = _npy_codes(path, zf, "x", *heads["x"])
            y, ys = _npy_codes(path, zf, "y", *heads["y"])
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as err:
        raise bad(path, f"is not a readable .npz (zip) file: {err}") from None
    return FileData(path, x, y, xs, ys, "x,y")


def _npy_header(path: str, zf: zipfile.ZipFile, name: str) -> tuple[int, np.dtype]:
    with zf.open(name + ".npy") as f:
        try:
            shape, _, dtype = _header(f)
        except (ValueError, SyntaxError, TypeError) as err:
            raise bad(path, f"array {name!r} is not a valid .npy array: {err}") from None
    if dtype.hasobject:
        raise bad(path, f"array {name!r} holds Python objects (a pickle); it is never"
                        " unpickled: save integer arrays")
    if len(shape) != 1:
        raise bad(path, f"array {name!r} has shape {shape}; it must be 1-D")
    if dtype.kind not in "iub":
        raise bad(path, f"array {name!r} holds {dtype}; it must hold integers")
    return shape[0], dtype


def _header(f):
    """(shape, fortran_order, dtype) of a .npy stream, which is left at the data."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(f)
    raise ValueError(f"unknown .npy version {version}")


def _npy_codes(path: str, zf: zipfile.ZipFile, name: str, n: int, dtype: np.dtype):
    vocab, parts = _Vocab(path, f"array {name!r}"), []
    with zf.open(name + ".npy") as f:
        _header(f)
        for start in range(0, n, CHUNK):
            want = min(CHUNK, n - start) * dtype.itemsize
            buf = f.read(want)
            if len(buf) < want:
                raise bad(path, f"array {name!r} is truncated: {n} items declared")
            parts.append(vocab.codes(np.frombuffer(buf, dtype).astype(np.int64)))
    return vocab.finish(parts)


# The CSV reader, chosen by measurement on a 10M-row 0/1 file (pandas and pyarrow are not
# dependencies): np.loadtxt's C parser on chunks of 2^20 lines. On the whole file at once
# it is faster, but its int64 table then takes 16 bytes a row (1.6 GB for 100M rows); the
# csv module took longer only to split the rows into Python strings, before any
# conversion. A file whose first row is not all integers is read as text symbols
# (np.loadtxt with str). Its speed: bench/file_speed.py.


def _read_csv(path: str) -> FileData:
    with open(path, encoding="utf-8", newline="") as f:
        try:
            header = f.readline()
            names = [h.strip() for h in header.strip("\r\n").split(",")]
            first = f.readline()
        except UnicodeDecodeError as err:
            raise bad(path, f"is not UTF-8 text: {err.reason} at byte {err.start}") from None
        _check_header(path, names)
        as_int = all(_is_int(c) for c in first.strip("\r\n").split(","))
        cols = [_Vocab(path, f"column {n!r}") for n in names]
        parts: list[list[np.ndarray]] = [[] for _ in names]
        line = 2
        lines = itertools.chain([first], f)
        try:
            while chunk := list(itertools.islice(lines, CHUNK)):
                table = _parse(path, chunk, line, names, as_int)
                if len(table):  # (a chunk of blank lines parses to no rows)
                    for i in range(len(names)):
                        parts[i].append(cols[i].codes(table[:, i]))
                line += len(chunk)
        except UnicodeDecodeError as err:
            raise bad(path, f"is not UTF-8 text after line {line}: {err.reason}") from None
    if not parts[0] or not sum(len(p) for p in parts[0]):
        raise bad(path, "has a header but no rows")
    if len(names) == 1:
        codes, symbols = cols[0].finish(parts[0])
        return FileData(path, codes[:-1], codes[1:], symbols, symbols, "next symbol")
    ix, iy = names.index("x"), names.index("y")
    x, xs = cols[ix].finish(parts[ix])
    y, ys = cols[iy].finish(parts[iy])
    return FileData(path, x, y, xs, ys, "x,y")


def _check_header(path: str, names: list[str]) -> None:
    if any(_is_int(n) for n in names) or not all(names):
        raise bad(path, f"line 1: missing header; the first line must name the columns: x,y"
                        f" or a single one (got {','.join(names)!r})")
    if len(names) > 1 and sorted(names) != ["x", "y"]:
        raise bad(path, f"line 1: columns {','.join(names)!r}; use x,y (predict y from the x"
                        " so far) or a single column (predict the next symbol)")


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _parse(path: str, chunk: list[str], line: int, names: list[str], as_int: bool):
    """One chunk of rows as a (rows, columns) array; `line` is the chunk's first line."""
    try:
        with warnings.catch_warnings():  # blank lines are skipped, which it warns of
            warnings.simplefilter("ignore", UserWarning)
            table = np.loadtxt(chunk, delimiter=",", dtype=np.int64 if as_int else str,
                               ndmin=2, comments=None, encoding=None)
    except ValueError as err:
        _find_bad_line(path, chunk, line, names, as_int)
        raise bad(path, f"after line {line}: {str(err).splitlines()[0][:80]}") from None
    if len(table) and table.shape[1] != len(names):  # every row short alike: no error there
        _find_bad_line(path, chunk, line, names, as_int)
        raise bad(path, f"after line {line}: {table.shape[1]} cells a row, the header has"
                        f" {len(names)}")
    return table


def _find_bad_line(path: str, chunk: list[str], line: int, names: list[str],
                   as_int: bool) -> None:
    """The one-line error for the first row of `chunk` that does not fit, if any.

    np.loadtxt counts rows differently per error and skips blank lines: find the line here
    instead (Python per row, on the error path only)."""
    for at, text in enumerate(chunk, start=line):
        cells = text.strip("\r\n").split(",")
        if not text.strip():
            continue
        if len(cells) != len(names):
            raise bad(path, f"line {at}: {len(cells)} cells, the header has"
                            f" {len(names)} ({text.strip()[:40]!r})") from None
        cell = next((c for c in cells if as_int and not _is_int(c)), None)
        if cell is not None:
            raise bad(path, f"line {at}: {cell.strip()[:40]!r} is not a symbol of its"
                            " column, which holds integers (as its first row does)") from None


def _read_txt(path: str) -> FileData:
    """Characters, decoded in blocks (strict UTF-8); each becomes its code point, then a code."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    vocab, parts, offset = _Vocab(path, "the text"), [], 0
    with open(path, "rb") as f:
        while True:
            block = f.read(CHUNK)
            try:
                text = decoder.decode(block, final=not block)
            except UnicodeDecodeError as err:
                raise bad(path, f"is not UTF-8 text: {err.reason} near byte"
                                f" {offset + max(err.start, 0)}") from None
            if text:
                cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)
                parts.append(vocab.codes(cps.astype(np.int64)))
            if not block:
                break
            offset += len(block)
    codes, symbols = vocab.finish(parts, show=chr)
    return FileData(path, codes[:-1], codes[1:], symbols, symbols, "next symbol")


def describe(data: FileData) -> str:
    """One line for the form and the log: steps, kind and vocabularies."""
    sym = (f"{len(data.x_symbols)} symbols" if data.kind == "next symbol" else
           f"x {len(data.x_symbols)} symbols, y {len(data.y_symbols)}")
    return f"{os.path.basename(data.path)}: {len(data.y):,} steps, {data.kind}, {sym}"
