"""The headless command line: baselines, data, train, bad input and help."""

from __future__ import annotations

import io
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnntui.cli import main
from rnntui.config import FIELDS
from rnntui.core.events import Diverged
from rnntui.data.baselines import floors
from rnntui.data.generator import generate
from rnntui.runs.report import JsonReport

# Small enough to compile and train in about two seconds: 20 batches an epoch.
TINY = ["--size", "2000", "--val-size", "1000", "--batch-size", "20"]


def h(p: float) -> float:
    return -sum(q * math.log(q) for q in (p, 1 - p) if q > 0)


def strict_json(line: str):
    """json.loads that refuses NaN and Infinity, which are not JSON."""
    def bad(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(line, parse_constant=bad)


def control_chars(text: str) -> set[str]:
    return {c for c in text if ord(c) < 32 and c != "\n"} | ({"\x7f"} & set(text))


# -- baselines ---------------------------------------------------------------------------


def test_baselines_text(capsys):
    assert main(["baselines"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()]
    assert rows == [["nothing", "0.6616"], ["t-3", "0.5192"], ["t-3,t-8", "0.4545"]]


def test_baselines_text_with_window(capsys):
    assert main(["baselines", "--num-steps", "5"]) == 0
    out = capsys.readouterr().out
    assert "0.6616" in out
    window = [line for line in out.splitlines() if "window only" in line]
    assert len(window) == 1 and "0.6046" in window[0]


def test_baselines_json(capsys):
    assert main(["baselines", "--json"]) == 0
    data = strict_json(capsys.readouterr().out)
    assert [f["name"] for f in data["floors"]] == ["nothing", "t-3", "t-3,t-8"]
    assert [round(f["loss"], 4) for f in data["floors"]] == [0.6616, 0.5192, 0.4545]
    assert "window_floor" not in data


def test_baselines_json_window_and_custom_rule(capsys):
    assert main(["baselines", "--json", "--num-steps", "5"]) == 0
    assert strict_json(capsys.readouterr().out)["window_floor"] == pytest.approx(0.604605,
                                                                                 abs=1e-6)
    assert main(["baselines", "--json", "--base", "0.5", "--rule", "2:0.5"]) == 0
    data = strict_json(capsys.readouterr().out)
    assert [f["name"] for f in data["floors"]] == ["nothing", "t-2"]
    assert data["floors"][0]["loss"] == pytest.approx(h(0.75), abs=1e-9)
    assert data["floors"][1]["loss"] == pytest.approx(0.5 * math.log(2), abs=1e-9)


def test_repeated_rule_flags_replace_the_default(capsys):
    assert main(["baselines", "--json", "--rule", "8:-0.25", "--rule", "3:0.5"]) == 0
    same = strict_json(capsys.readouterr().out)
    assert main(["baselines", "--json", "--rule", "1:0.6", "--rule", "5:0.2",
                 "--base", "0.2"]) == 0
    other = strict_json(capsys.readouterr().out)
    assert [f["loss"] for f in same["floors"]] == [f.loss for f in floors(0.5, ((3, 0.5),
                                                                                (8, -0.25)))]
    assert [f["loss"] for f in other["floors"]] == [f.loss for f in floors(0.2, ((1, 0.6),
                                                                                 (5, 0.2)))]


# -- data --------------------------------------------------------------------------------


def test_data_writes_the_series_without_tensorflow(tmp_path):
    out = tmp_path / "series.npz"
    code = (
        "import sys\n"
        "from rnntui.cli import main\n"
        f"rc = main(['data', '--size', '1234', '--seed', '3', '--out', {str(out)!r}])\n"
        "assert rc == 0, rc\n"
        "assert main(['baselines', '--json']) == 0\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'textual') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert f"wrote 1234 steps (seed 3) to {out}" in proc.stdout
    with np.load(out) as f:
        assert sorted(f.files) == ["x", "y"]
        x, y = f["x"], f["y"]
    assert x.dtype == np.uint8 and y.dtype == np.uint8
    assert len(x) == len(y) == 1234
    ex, ey = generate(1234, 3)
    np.testing.assert_array_equal(x, ex)
    np.testing.assert_array_equal(y, ey)


def test_data_custom_rules(tmp_path, capsys):
    out = tmp_path / "custom.npz"
    assert main(["data", "--size", "100000", "--seed", "1", "--base", "0.2", "--rule", "1:0.6",
                 "--rule", "5:0.2", "--out", str(out)]) == 0
    with np.load(out) as f:
        x, y = f["x"], f["y"]
    ex, ey = generate(100_000, 1, 0.2, ((1, 0.6), (5, 0.2)))
    np.testing.assert_array_equal(y, ey)
    assert abs(y[1:][x[:-1] == 1].mean() - y[1:][x[:-1] == 0].mean() - 0.6) < 0.02


def test_data_small_size(tmp_path, capsys):
    """`data` has no --batch-size or --num-steps, so a short series must not be held to
    the training batch (200 x 5 = 1000 steps): size allows 1 and up.

    Found failing: exits 2 with "size: 100 is too small for one batch".
    """
    out = tmp_path / "short.npz"
    rc = main(["data", "--size", "100", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    with np.load(out) as f:
        assert len(f["x"]) == len(f["y"]) == 100


def test_console_script_runs():
    script = Path(sys.executable).with_name("rnntui")
    if not script.exists():
        pytest.skip("the rnntui console script is not installed next to this Python")
    proc = subprocess.run([str(script), "baselines"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "0.4545" in proc.stdout
    bad = subprocess.run([str(script), "baselines", "--base", "x"], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: base:")


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, names",
    [
        (["train", "--size", "abc"], ("size:", "not an integer")),
        (["train", "--size", "-5"], ("size:", "out of range")),
        (["train", "--size", "10"], ("size:", "too small")),
        (["train", "--val-size", "999"], ("val_size:", "too small")),
        (["train", "--base", "nan"], ("base:", "finite")),
        (["train", "--learning-rate", "0"], ("learning_rate:", "> 0")),
        (["train", "--learning-rate", "inf"], ("learning_rate:", "finite")),
        (["train", "--cell", "cnn"], ("cell:", "basic, rnn, gru, lstm")),
        (["train", "--optimizer", "lion"], ("optimizer:", "adagrad")),
        (["train", "--rule", "3:0.9"], ("rules:", "X[t-3]=1")),
        (["train", "--rule", "0:0.5"], ("rules:", "lag 0")),
        (["train", "--rule", "3:0.1", "--rule", "3:0.2"], ("rules:", "repeated")),
        (["train", "--rule", "3"], ("rules:", "LAG:DELTA")),
        (["train", "--carry-state=maybe"], ("--carry-state",)),
        (["train", "--preset", "nope"], ("--preset", "nope")),
        (["train", "--epochs", "0"], ("epochs:", "out of range")),
        (["baselines", "--num-steps", "0"], ("num_steps:", "out of range")),
        (["baselines", "--base", "2"], ("base:", "out of range")),
        (["data", "--size", "-5", "--out", "x.npz"], ("size:", "out of range")),
        (["data", "--seed", "x", "--out", "x.npz"], ("seed:", "not an integer")),
        (["data", "--size", "10"], ("--out",)),
        (["data", "--size", "1000", "--out", "/nonexistent-dir/x/y.npz"], ("--out",)),
        (["frobnicate"], ("frobnicate",)),
        (["train", "--cpu-threads", "x"], ("--cpu-threads", "not an integer")),
        (["app", "--cpu-threads", "0"], ("--cpu-threads", "out of range")),
        (["sweep", "--grid", "num_steps=2", "--cpu-threads", "2000"],
         ("--cpu-threads", "out of range")),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, names):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err
    assert err.startswith("error: "), err
    assert err.endswith("\n") and err.count("\n") == 1, err
    for name in names:
        assert name in err, err


def test_bad_config_file_exits_2_naming_the_file(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[data]\nsizee = 3\n", encoding="utf-8")
    assert main(["train", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: sizee:") and str(bad) in err and err.count("\n") == 1
    assert main(["train", "--config", str(tmp_path / "missing.toml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: config:") and "missing.toml" in err


# -- help --------------------------------------------------------------------------------


def help_blocks(text: str) -> dict[str, str]:
    """{first flag: its whole help entry} from argparse's options section."""
    blocks: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"^\s{2}(-{1,2}[\w-]+)", line)
        if m:
            current = m.group(1)
            blocks[current] = line
        elif current and line.startswith(" " * 4):
            blocks[current] += " " + line.strip()
        else:
            current = None
    return {k: " ".join(v.split()) for k, v in blocks.items()}


def test_train_help_lists_every_option_with_a_default(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as info:
        main(["train", "--help"])
    assert info.value.code == 0
    blocks = help_blocks(capsys.readouterr().out)
    flags = {"--rule" if n == "rules" else "--" + n.replace("_", "-") for n in FIELDS}
    flags |= {"--preset", "--config", "--json"}
    assert flags <= set(blocks), flags - set(blocks)
    for flag, block in blocks.items():
        if flag != "-h":
            assert "default" in block, block
    assert "(default: 4)" in blocks["--state-size"]
    assert "(default: true)" in blocks["--carry-state"]
    assert "--no-carry-state" in blocks["--carry-state"]
    assert "--rule 3:0.5 --rule 8:-0.25" in blocks["--rule"]
    assert "(default: 0.1)" in blocks["--learning-rate"]
    assert "basic,rnn,gru,lstm" in blocks["--cell"]


@pytest.mark.parametrize("command", ["data", "baselines"])
def test_other_help_lists_options_with_a_default(capsys, monkeypatch, command):
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit):
        main([command, "--help"])
    blocks = help_blocks(capsys.readouterr().out)
    assert "--rule" in blocks and "--base" in blocks
    for flag, block in blocks.items():
        if flag != "-h":
            assert "default" in block or "required" in block, block


# -- train -------------------------------------------------------------------------------


def test_train_json(tmp_path, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text("[data]\nsize = 2000\nval_size = 1000\n[train]\nbatch_size = 20\n"
                      "epochs = 5\n", encoding="utf-8")
    # The flag overrides the file, which overrides the preset.
    rc = main(["train", "--json", "--preset", "r2rt", "--config", str(config), "--epochs", "2"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    lines = captured.out.splitlines()
    objects = [strict_json(line) for line in lines]
    kinds = [o["event"] for o in objects]
    assert kinds[:3] == ["run", "started", "compiled"]
    # A run this short trains on the plain graph (runplan.use_xla).
    assert objects[2]["kernel"] == "graph, no XLA" and objects[2]["fused"] is False
    assert kinds[-2:] == ["finished", "summary"]
    assert kinds.count("epoch_end") == 2
    assert "progress" in kinds
    assert objects[0]["path"].startswith("runs/") and objects[0]["from_step"] == 0
    started = objects[1]
    assert started["config"]["size"] == 2000
    assert started["config"]["epochs"] == 2
    assert started["config"]["cell"] == "basic" and started["config"]["optimizer"] == "adagrad"
    assert started["total_steps"] == 2 * (2000 // 20 // 5)
    summary = objects[-1]
    for key in ("train_loss", "val_loss", "floors", "fractions", "learned", "steps_per_sec",
                "epochs", "wall_s"):
        assert key in summary, key
    assert summary["status"] == "finished"
    assert summary["epochs"] == 2
    assert summary["steps"] == 40
    # The floors on this run's own validation sample (5,000 steps: within a few hundredths
    # of their expected values), and the expected ones beside them.
    assert summary["floors_expected"] == {"nothing": pytest.approx(0.661563, abs=1e-6),
                                          "t-3": pytest.approx(0.519167, abs=1e-6),
                                          "t-3,t-8": pytest.approx(0.454454, abs=1e-6)}
    assert list(summary["floors"]) == ["nothing", "t-3", "t-3,t-8"]
    assert all(abs(summary["floors"][k] - v) < 0.03
               for k, v in summary["floors_expected"].items())
    assert set(summary["fractions"]) == set(summary["fractions_se"]) == {"t-3", "t-8"}
    assert all(v is not None and -1 < v < 2 for v in summary["fractions"].values())
    assert 0 <= summary["loss_fraction"] <= 1
    assert isinstance(summary["learned"], list)
    assert set(summary["overshooting"]) <= set(summary["learned"])  # {lag: how far past}
    assert 0.3 < summary["val_loss"] < 1.0 and 0.3 < summary["train_loss"] < 1.0
    assert summary["val_loss"] == pytest.approx(objects[-2]["val_loss"], abs=1e-6)
    assert summary["steps_per_sec"] > 0 and summary["wall_s"] > 0
    assert summary["stopped"] is False


def test_train_plain_off_a_terminal(capsys):
    rc = main(["train", *TINY, "--epochs", "1", "--cell", "gru", "--state-size", "8"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    out = captured.out
    assert "\x1b" not in out and "\r" not in out
    assert not control_chars(out), control_chars(out)
    assert not control_chars(captured.err)
    lines = out.splitlines()
    assert lines[0].startswith("run runs/")  # the run folder comes first
    assert lines[1].startswith("device ") and "floors on this validation sample: nothing" \
        in lines[1] and "(expected 0.6616 0.5192 0.4545)" in lines[1]
    assert "window-only 0.6046" in lines[1]
    assert re.fullmatch(r"compiled in [0-9.]+s; running graph, no XLA", lines[2]), lines[2]
    assert any(line.startswith("epoch 1 train ") for line in lines)
    assert lines[-1].startswith("finished: val ")
    with pytest.raises(ValueError):
        json.loads(lines[-1])  # plain text, not JSON


def test_json_report_writes_only_strict_json():
    """A non-finite loss (a diverged run) must still be written as valid JSON.

    Found failing: json.dumps writes a float NaN as the bare token NaN (not JSON); the
    report's `default=` hook is only called for objects json cannot encode, never floats.
    """
    out = io.StringIO()
    report = JsonReport(out)
    event = Diverged(step=3, loss=math.nan)
    report.on_event(event)
    report.close(event)
    for line in out.getvalue().splitlines():
        strict_json(line)


# -- TensorFlow's CPU threads ------------------------------------------------------------


def test_cpu_threads_are_chosen_for_the_model_when_tensorflow_loads():
    """One thread for a small model on the CPU (faster, bench/cpu_threads.py), the default
    for a large one or on a GPU; asked for, that many, at most a sweep worker's share. The
    first config loads TensorFlow with them, and a larger run later is told why it has one.
    """
    from rnntui.config import preset
    from rnntui.engine.accel import batch_macs
    from rnntui.engine.tfload import SMALL_MACS, auto_threads, threads_for

    small, big = preset("r2rt"), preset("r2rt").with_values(cell="lstm", state_size=256)
    assert batch_macs(small) <= SMALL_MACS < batch_macs(big)
    assert auto_threads(small, on_gpu=False) == 1
    assert auto_threads(big, on_gpu=False) == 0 and auto_threads(small, on_gpu=True) == 0
    assert threads_for(0, 0, small, False) == 1 and threads_for(0, 0, None, False) == 0
    assert threads_for(3, 0, small, False) == 3 and threads_for(3, 2, small, False) == 2
    assert threads_for(0, 4, big, False) == 4 and threads_for(0, 4, small, False) == 1
    code = (
        "from rnntui.config import preset\n"
        "from rnntui.engine.tfload import quiet_tensorflow, threads_notice\n"
        "tf = quiet_tensorflow(preset('r2rt'))\n"
        "print(tf.config.threading.get_intra_op_parallelism_threads())\n"
        "print(repr(threads_notice(preset('r2rt'), False)))\n"
        "print(threads_notice(preset('r2rt').with_values(cell='lstm', state_size=256), False))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout.splitlines()
    assert out[0] == "1" and out[1] == "''"
    assert out[2].startswith("cpu threads: 1, chosen when TensorFlow loaded for a smaller")
    assert "--cpu-threads" in out[2]
