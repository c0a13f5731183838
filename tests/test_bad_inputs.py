"""Bad input is one line naming the flag or file and what is allowed, exit 2: a sample's
temperature and seed, a config file that is no regular file (a FIFO, /dev/zero), too big,
empty or unknown, `data --out` that numpy would rename, export paths, and a config beyond
this machine's memory (refused before anything trains, with the estimate). None of these
starts TensorFlow: each is refused before a run folder is read or a model built."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from rnntui.cli import main
from rnntui.config import Config, ConfigError
from rnntui.data import feed, memory
from rnntui.data.source import resolve


def one_line(capsys, argv: list[str], *says: str) -> str:
    """main(argv) exits 2 with one line on stderr holding every `says`; returns it."""
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ") and err.count("\n") == 1, (out, err)
    assert "Traceback" not in err
    for s in says:
        assert s in err, err
    return err


# -- sample's flags (checked before the run folder is even opened) --------------------------

@pytest.mark.parametrize("flags, says", [
    (["--temperature", "1e-308"], "--temperature: 1e-308 is out of range: a number from 0.01"),
    (["--temperature", "1000"], "--temperature: 1000 is out of range"),
    (["--temperature", "nan"], "--temperature: nan must be a number above 0"),
    (["--seed", "1180591620717411303424"], "--seed: 1180591620717411303424 is out of range:"
                                           " an integer from 0 to 4_294_967_295"),
    (["--seed", "-1"], "--seed: -1 is out of range"),
    (["--seed", "1.5"], "--seed: '1.5' is not an integer"),
    (["--length", "100001"], "--length: 100001 is out of range"),
])
def test_sample_flags_out_of_range(tmp_path, capsys, flags, says):
    one_line(capsys, ["sample", str(tmp_path / "no-run"), *flags], says)


# -- config files ---------------------------------------------------------------------------

def train_config(capsys, path: Path, *says: str) -> str:
    return one_line(capsys, ["train", "--config", str(path)], *says)


def test_a_fifo_config_is_refused_not_waited_on(tmp_path, capsys):
    fifo = tmp_path / "c.toml"
    os.mkfifo(fifo)
    done: list[int] = []
    # In a thread: a hang fails this test instead of stopping the suite.
    worker = threading.Thread(target=lambda: done.append(main(["train", "--config",
                                                                 str(fifo)])), daemon=True)
    worker.start()
    worker.join(20)
    assert done == [2], "a FIFO --config hung (nothing writes to it)"
    err = capsys.readouterr().err
    assert err == f"error: config: cannot read {fifo}: not a regular file\n", err


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_dev_zero_and_a_directory_are_no_config(tmp_path, capsys):
    train_config(capsys, Path("/dev/zero"), "config: cannot read /dev/zero: not a regular file")
    train_config(capsys, tmp_path, f"cannot read {tmp_path}: not a regular file")


def test_a_config_over_a_megabyte_is_not_read(tmp_path, capsys):
    big = tmp_path / "big.toml"
    big.write_text("# padding\n" * 150_000, encoding="utf-8")  # 1.5 MB of comments
    train_config(capsys, big, str(big), "larger than 1 MB: not a config file")


@pytest.mark.parametrize("text", ["", "\n  \n", "# only a comment\n"], ids=["empty", "blank",
                                                                          "comments"])
def test_an_empty_config_is_an_error_naming_the_file(tmp_path, capsys, text):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    train_config(capsys, path, f"config: {path} is empty")


@pytest.mark.parametrize("text, says", [
    ("[foo]\nx = 1\n", "foo: unknown field (a section: the sections are [data], [model]"),
    ("[model]\nsizee = 3\n", "sizee: unknown field in [model]"),
    ("[model]\nsize = 3\n", "size: unknown field in [model]"),
    ("data = 3\n", "data: must be a table of fields"),
    ("state_size = [4]\n", "state_size: '[4]' is not an integer"),
])
def test_a_config_with_unknown_sections_or_keys_is_refused(tmp_path, capsys, text, says):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    train_config(capsys, path, says, str(path))


# -- data --out -----------------------------------------------------------------------------

def test_data_out_refuses_a_name_numpy_would_change_and_a_directory(tmp_path, capsys):
    plain = tmp_path / "series"
    one_line(capsys, ["data", "--size", "100", "--out", str(plain)],
             f"--out: {plain} must end in .npz or .csv")
    assert list(tmp_path.iterdir()) == []  # nothing written, not series.npz either
    folder = tmp_path / "x.npz"
    folder.mkdir()
    one_line(capsys, ["data", "--size", "100", "--out", str(folder)],
             f"--out: {folder} is there and is not a regular file")
    upper = tmp_path / "S.NPZ"
    assert main(["data", "--size", "100", "--out", str(upper)]) == 0
    assert f"to {upper}\n" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["S.NPZ", "x.npz"]  # the name said


# -- export ---------------------------------------------------------------------------------

def test_export_paths_are_checked_before_the_run_is_read(tmp_path, capsys):
    one_line(capsys, ["export", str(tmp_path / "no-run"), "--keras", "model.h5"],
             "--keras: model.h5 must end in .keras")
    one_line(capsys, ["export", str(tmp_path / "no-run"), "--csv", "--out", str(tmp_path)],
             f"--out: {tmp_path} is there and is not a regular file")


# -- memory ---------------------------------------------------------------------------------

# A config no machine holds: 50,000 rows x 200 steps of 8 LSTM layers of 1,024 units is over
# a terabyte of activations for one batch.
HUGE = ["--cell", "lstm", "--num-layers", "8", "--state-size", "1024", "--batch-size", "50000",
        "--num-steps", "200", "--size", "10000000", "--val-size", "10000000"]


@pytest.mark.skipif(memory.available() is None, reason="no /proc/meminfo here")
def test_a_config_beyond_this_machines_memory_is_refused_before_it_trains(tmp_path, capsys):
    err = one_line(capsys, ["train", *HUGE, "--runs-dir", str(tmp_path / "runs")],
                   "batch_size: the config needs about", "TB (activations", "validation 500 MB",
                   "this machine has", "available")
    assert not (tmp_path / "runs").exists()  # refused before a run folder was made
    assert err.index("activations") < err.index("validation")  # the largest part first


def test_the_estimate_names_its_parts_and_the_field_that_grows_the_largest():
    cfg = Config().with_values(cell="lstm", state_size=256, num_layers=2, batch_size=1000,
                               num_steps=100, size=10_000_000, val_size=1_000_000)
    need = memory.estimate(cfg)
    parts = {name: n for name, _, n in need.parts}
    # one batch of activations: rows x steps x units x layers x gates x 4 bytes, and a little
    gates = 1000 * 100 * 256 * 2 * 4 * 4
    assert gates <= parts["activations"] < 1.01 * gates
    assert parts["validation"] == 50 * 1_000_000
    assert parts["series"] == 8 * memory.SLAB_STEPS  # streamed: two slabs, not the series
    with pytest.raises(ConfigError) as err:
        memory.check_fits(cfg, free=5 * 10**8)
    assert str(err.value) == (f"batch_size: the config needs {need.text()}; this machine has"
                              " 500 MB available")
    memory.check_fits(cfg, free=10**10)  # it fits a bigger one
    assert memory.estimate(Config()).total < 50e6  # the defaults: tens of MB
    assert memory.SLAB_STEPS == feed.SLAB_STEPS  # the feed's own, which it cannot import


def test_without_proc_meminfo_nothing_is_refused(monkeypatch):
    monkeypatch.setattr(memory, "MEMINFO", Path("/nonexistent/meminfo"))
    assert memory.available() is None
    cfg = Config().with_values(cell="lstm", state_size=1024, num_layers=8, batch_size=50_000,
                               num_steps=200, size=10_000_000, val_size=10_000_000)
    assert resolve(cfg) == cfg  # validated as ever, the estimate skipped
