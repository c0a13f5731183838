"""No file, however malformed, makes the loaders raise anything but the one-line error."""

from __future__ import annotations

import io
import zipfile

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnntui.config import ConfigError
from rnntui.data import datafile

CSVISH = st.lists(st.sampled_from(["x", "y", "x,y", "0", "1", "0,1", "1,0", ",", "a", "b,",
                                   "banana", " ", "-3", "1e3", "\r", "\n", "\n", "é", "\x00",
                                   "0,1,1"]), max_size=30).map("".join)
RAW = st.one_of(st.binary(max_size=200), CSVISH.map(lambda s: s.encode("utf-8")),
                st.text(max_size=80).map(lambda s: s.encode("utf-8", "surrogatepass")))
DTYPES = st.sampled_from(["u1", "i2", ">i4", "i8", "u8", "f4", "bool", "U2", "O", "c8"])


def _load_ok_or_one_line(tmp_path, name: str, content: bytes) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    try:
        data = datafile.load(p)
    except ConfigError as err:
        text = str(err)
        assert err.field == "data_file" and "\n" not in text, text
        assert text.startswith(f"data_file: {p}: "), text
        return
    assert len(data.x) == len(data.y) >= 1 and len(data.y_symbols) >= 2
    assert data.x.dtype == np.uint8 and int(data.x.max()) < len(data.x_symbols)
    assert int(data.y.max()) < len(data.y_symbols)


# The same examples at every run (derandomize): a CI run must not turn red by drawing a new
# one. What a random run once found stays as an example in tests/test_datafile.py (BAD).
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(ext=st.sampled_from([".csv", ".txt", ".npz"]), content=RAW)
def test_any_bytes_in_any_format(tmp_path, ext, content):
    _load_ok_or_one_line(tmp_path, "f" + ext, content)


def _npz(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, value in members.items():
            zf.writestr(name, value)
    return buf.getvalue()


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


ARRAYS = st.builds(
    lambda dt, shape, seed: np.random.default_rng(seed).integers(0, 4, shape).astype(dt),
    DTYPES, st.sampled_from([(0,), (1,), (7,), (3, 2), ()]), st.integers(0, 5))


@SETTINGS
@given(x=ARRAYS, y=ARRAYS, cut=st.integers(0, 200), names=st.sampled_from(
    [("x.npy", "y.npy"), ("x.npy", "z.npy"), ("x", "y.npy")]))
def test_any_npz(tmp_path, x, y, cut, names):
    bx, by = _npy(x), _npy(y)
    members = {names[0]: bx[: len(bx) - cut % 3 * cut], names[1]: by}
    _load_ok_or_one_line(tmp_path, "a.npz", _npz(members))
