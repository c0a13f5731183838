"""Sequences from files: the loaders, their one-line errors, the empirical floors, and
training from a file against training from the generator on the same series."""

from __future__ import annotations

import math
import zipfile

import numpy as np
import pytest

from rnntui.cli import main
from rnntui.config import Config, ConfigError
from rnntui.data import datafile, empirical, source
from rnntui.data.generator import generate
from rnntui.data.source import train_series, val_series
from rnntui.runs import datarecord


def _h(*ps: float) -> float:
    return -sum(p * math.log(p) for p in ps if p > 0)


def test_floors_of_a_process_with_known_conditional_entropies():
    # X a fair coin; Y_t = X_{t-2}, flipped with probability 0.1. Windows 0..2 see nothing
    # useful (ln 2); window 3 holds X_{t-2}: H(Y | X_{t-2}) = h(0.1).
    rng = np.random.default_rng(1)
    n = 200_000
    x = rng.integers(0, 2, n).astype(np.uint8)
    y = np.zeros(n, np.uint8)
    y[2:] = x[:-2] ^ (rng.random(n - 2) < 0.1)
    w = empirical.windows(x, y, n - n // 10, 2, 2)
    assert [f.name for f in w.floors] == ["window 0", "window 3"]
    assert w.losses[0] == pytest.approx(math.log(2), abs=0.01)
    assert w.losses[2] == pytest.approx(math.log(2), abs=0.01)
    assert w.losses[3] == pytest.approx(_h(0.1, 0.9), abs=0.01)


def test_floors_over_three_symbols():
    # X uniform over 3; Y_t = (X_t + X_{t-1}) mod 3 with probability 0.8, else one of the
    # other two: H(Y | X_t, X_{t-1}) = h(0.8, 0.1, 0.1); with less, Y is uniform (ln 3).
    rng = np.random.default_rng(2)
    n = 200_000
    x = rng.integers(0, 3, n)
    s = (x + np.roll(x, 1)) % 3
    y = np.where(rng.random(n) < 0.8, s, (s + rng.integers(1, 3, n)) % 3).astype(np.uint8)
    w = empirical.windows(x.astype(np.uint8), y, n - n // 10, 3, 3)
    assert [f.name for f in w.floors] == ["window 0", "window 2"]
    assert w.losses[1] == pytest.approx(math.log(3), abs=0.01)
    assert w.losses[2] == pytest.approx(_h(0.8, 0.1, 0.1), abs=0.01)


def test_seed_task_written_by_rnntui_data_gives_the_analytic_floors(tmp_path, capsys):
    assert main(["data", "--size", "200000", "--seed", "5", "--out", "s.npz"]) == 0
    config = source.resolve(Config().with_values(data_file="s.npz"))
    fl = source.floors(config.data)
    assert [f.name for f in fl] == ["window 0", "window 4", "window 9"]
    for got, want in zip(fl, (0.6616, 0.5192, 0.4545), strict=True):
        assert got.loss == pytest.approx(want, abs=0.02)
    v = source.verdict(fl[1].loss, config, fl)
    assert v.describe().startswith("window 4 100%")
    assert v.fractions[1] < 0.1


def _same_series_files(cfg: Config, tmp_path):
    """The generator's training and validation series of `cfg` as one .npz and one .csv."""
    x, y = (np.concatenate(p) for p in zip(train_series(cfg.data, 0), val_series(cfg.data),
                                           strict=True))
    np.savez(tmp_path / "s.npz", x=x, y=y)
    rows = np.char.add(np.char.add(x.astype(str), ","), y.astype(str))
    (tmp_path / "s.csv").write_text("x,y\n" + "\n".join(rows) + "\n")
    return tmp_path / "s.npz", tmp_path / "s.csv"


def test_npz_and_csv_train_to_the_generators_losses(tmp_path):
    from rnntui.core.events import Progress
    from rnntui.engine import train

    cfg = Config().with_values(size=4000, val_size=1000, batch_size=20, num_steps=5,
                               data_mode="fixed", epochs=1, seed=3)
    npz, csv = _same_series_files(cfg, tmp_path)

    def losses(config, insights=None):
        out = []

        def on_event(e):
            out.extend(e.losses if isinstance(e, Progress) else [])
            if insights is not None and e.kind == "insight":
                insights.append(e)

        final = train(config, on_event, jit=False, chunk=10)
        assert final.kind == "finished", final
        return out, final.val_loss

    want = losses(cfg)
    for path in (npz, csv):
        insights = []
        got = losses(cfg.with_values(data_file=str(path), val_fraction=0.2), insights)
        assert got == want
        # 0/1 data from a file: effects measured, against no known truth (nan, not 0).
        assert insights and not insights[-1].off and insights[-1].effects
        assert all(math.isnan(d) for d in insights[-1].true_deltas)


BAD = [
    ("missing.csv", None, "no such file"),
    ("empty.csv", b"", "is empty"),
    ("dir.npz", "dir", "is a directory"),
    ("banana.csv", b"x,y\n0,1\n1,0\nbanana,1\n", "line 4: 'banana' is not a symbol"),
    ("ragged.csv", b"x,y\n0,1\n1,0,1\n", "line 3: 3 cells"),
    # Every row short alike parses without error: found by test_fuzz_datafile.
    ("short.csv", b"x,y\r\x00", "line 2: 1 cells, the header has 2"),
    ("shorts.csv", b"x,y\n1\n0\n", "line 2: 1 cells"),
    ("noheader.csv", b"0,1\n1,0\n", "line 1: missing header"),
    ("bin.txt", b"ab\xff\xfecd", "is not UTF-8 text"),
    ("many.txt", "".join(chr(0x4e00 + i) for i in range(300)).encode(), "more than 256"),
    ("one.txt", b"aaaaaaaa", "single symbol"),
    ("junk.npz", b"not a zip at all", "is not a readable .npz"),
]


@pytest.mark.parametrize(("name", "content", "says"), BAD, ids=[b[0] for b in BAD])
def test_bad_files_give_one_line_naming_the_file(tmp_path, name, content, says):
    p = tmp_path / name
    if content == "dir":
        p.mkdir()
    elif content is not None:
        p.write_bytes(content)
    with pytest.raises(ConfigError) as err:
        datafile.load(p)
    msg = str(err.value)
    assert err.value.field == "data_file"
    assert msg.startswith(f"data_file: {p}: ") and says in msg and "\n" not in msg


@pytest.mark.parametrize(("arrays", "says"), [
    (dict(x=np.zeros(5, np.uint8), y=np.ones(6, np.uint8)), "different lengths"),
    (dict(x=np.zeros((2, 3), np.uint8), y=np.ones(6, np.uint8)), "array 'x' has shape"),
    (dict(x=np.zeros(6), y=np.ones(6, np.uint8)), "array 'x' holds float64"),
    (dict(x=np.array([1, None] * 3, dtype=object), y=np.ones(6, np.uint8)), "never unpickled"),
    (dict(y=np.ones(6, np.uint8)), "has no array 'x'"),
])
def test_bad_npz_names_the_array(tmp_path, arrays, says):
    np.savez(tmp_path / "a.npz", **arrays)
    with pytest.raises(ConfigError, match=says):
        datafile.load(tmp_path / "a.npz")


def test_compressed_npz_single_column_csv_and_text_read(tmp_path):
    x = np.array([5, 7, 5, 5, 7], np.int64)
    np.savez_compressed(tmp_path / "c.npz", x=x, y=x[::-1])
    d = datafile.load(tmp_path / "c.npz")
    assert d.x.tolist() == [0, 1, 0, 0, 1] and d.x_symbols == ("5", "7")
    (tmp_path / "n.csv").write_text("sym\nb\na\nc\nb\n")
    d = datafile.load(tmp_path / "n.csv")
    assert d.kind == "next symbol" and d.x_symbols == ("a", "b", "c")
    assert d.x.tolist() == [1, 0, 2] and d.y.tolist() == [0, 2, 1]
    (tmp_path / "t.txt").write_text("héllo", encoding="utf-8")
    d = datafile.load(tmp_path / "t.txt")
    assert "".join(d.x_symbols[i] for i in d.x) == "héll"
    assert "".join(d.y_symbols[i] for i in d.y) == "éllo"


def test_cli_bad_file_exits_2_and_makes_no_run_folder(tmp_path, capsys):
    (tmp_path / "b.csv").write_text("x,y\n0,1\nbanana,0\n")
    assert main(["train", "--data-file", "b.csv", "--runs-dir", "r"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: data_file: b.csv: line 3") and "\n" not in err
    assert not (tmp_path / "r").exists()


def test_cli_file_shorter_than_one_batch_exits_2(tmp_path, capsys):
    x, y = generate(900, 0)
    np.savez(tmp_path / "s.npz", x=x, y=y)
    assert main(["train", "--data-file", "s.npz", "--runs-dir", "r"]) == 2
    assert "each part needs one batch" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_run_records_the_file_and_resume_refuses_a_changed_one(tmp_path):
    from rnntui.runs.folders import new_run

    x, y = generate(3000, 0)
    np.savez(tmp_path / "s.npz", x=x, y=y)
    cfg = source.resolve(Config().with_values(data_file="s.npz", batch_size=10))
    run = new_run(cfg, tmp_path / "runs")
    rec = (run / datarecord.RECORD).read_text()
    assert '"sha256"' in rec and str(tmp_path / "s.npz") in rec
    datarecord.check_unchanged("s.npz", run)  # the same file passes
    np.savez(tmp_path / "s.npz", x=y, y=x)
    with pytest.raises(ConfigError, match="changed since the run started"):
        datarecord.check_unchanged("s.npz", run)


def test_npz_members_are_streamed_not_unpickled(tmp_path):
    # A member that is not .npy at all (a raw pickle under the name x.npy) is refused.
    with zipfile.ZipFile(tmp_path / "p.npz", "w") as zf:
        zf.writestr("x.npy", b"\x80\x04K\x01.")
        zf.writestr("y.npy", b"\x80\x04K\x01.")
    with pytest.raises(ConfigError, match="not a valid .npy"):
        datafile.load(tmp_path / "p.npz")


def test_cli_data_writes_csv_and_resume_refuses_a_changed_file(tmp_path, capsys):
    from rnntui.runs.folders import new_run

    assert main(["data", "--size", "3000", "--seed", "1", "--out", "s.csv"]) == 0
    assert datafile.load("s.csv").x.tolist() == generate(3000, 1)[0].tolist()
    run = new_run(source.resolve(Config().with_values(data_file="s.csv", batch_size=10)), "r")
    with open("s.csv", "a") as f:
        f.write("1,1\n")
    assert main(["train", "--resume", str(run), "--epochs", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "s.csv: changed since the run started" in err and "\n" not in err


def test_fresh_rotates_a_files_rows_each_epoch_and_fixed_does_not(tmp_path):
    x, y = generate(5000, 2)
    np.savez(tmp_path / "s.npz", x=x, y=y)
    base = Config().with_values(data_file=str(tmp_path / "s.npz"), batch_size=10)
    starts = np.array([0, 4000])
    for mode in ("fixed", "fresh"):
        d = source.resolve(base.with_values(data_mode=mode)).data
        first = source.FileSeries(d, 0).rows(starts, 400)  # epoch 0: the part as it is
        assert first[0].tolist() == [x[0:400].tolist(), x[4000:4400].tolist()]
        later = source.FileSeries(d, 1)
        assert (later.shift == 0) == (mode == "fixed")
        idx = (starts[:, None] + np.arange(600) + later.shift) % d.size
        got = later.rows(starts, 600)
        assert (got[0] == x[idx]).all() and (got[1] == y[idx]).all()


def test_a_text_file_trains_past_its_first_floor(tmp_path):
    from rnntui.engine import train

    (tmp_path / "t.txt").write_text("abcabd" * 2000)
    cfg = source.resolve(Config().with_values(data_file=str(tmp_path / "t.txt"), batch_size=20,
                                        num_steps=10, cell="rnn", state_size=16,
                                        optimizer="adam", learning_rate=0.01, epochs=3))
    fl = source.floors(cfg.data)
    assert [f.name for f in fl][0] == "window 0" and fl[-1].loss < 0.05
    events = []
    final = train(cfg, events.append, jit=False)
    assert final.kind == "finished", final
    assert final.val_loss < fl[0].loss - 0.3 and final.verdict.prefix == "window "
    # Lag effects need 0/1 data: one Insight says why they are off, and nothing is measured.
    insights = [e for e in events if e.kind == "insight"]
    assert len(insights) == 1 and insights[0].off.startswith("insight is off: it flips a 0/1")
    assert "4 input and 4 target symbols" in insights[0].off


@pytest.mark.parametrize("text", ["x,y", "x,y\n", "x,y\n\n\n", "s\n\n"])
def test_a_header_without_rows_is_named(tmp_path, text):
    (tmp_path / "h.csv").write_text(text)
    with pytest.raises(ConfigError, match="has a header but no rows"):
        datafile.load(tmp_path / "h.csv")
