"""Run folders, checkpoints, resume after SIGKILL, export, config strings, sweeps, bad files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rnntui.cli import main
from rnntui.config import Config, config_string, parse_config_string, preset
from rnntui.core.files import BadFile
from rnntui.engine.checkpoint import Checkpoint, load, save
from rnntui.runs.folders import CHECKPOINT, CONFIG, METRICS, list_runs, open_run, read_metrics

TINY = ["--preset", "r2rt", "--size", "20000", "--val-size", "5000", "--batch-size", "50",
        "--num-steps", "5"]  # 80 steps an epoch
RNNTUI = [sys.executable, "-m", "rnntui.cli"]


def train(tmp_path, *extra) -> tuple[int, list[dict]]:
    out = subprocess.run([*RNNTUI, "train", *TINY, "--runs-dir", str(tmp_path / "runs"),
                          "--json", *extra], capture_output=True, text=True, timeout=300)
    return out.returncode, [json.loads(line) for line in out.stdout.splitlines()]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    code, lines = train(tmp, "--epochs", "2", "--name", "tiny")
    assert code == 0, lines[-1]
    return Path(lines[0]["path"]), lines


def test_a_training_makes_a_run_folder(finished_run):
    path, lines = finished_run
    assert path.name.endswith("-tiny")
    assert {p.name for p in path.iterdir()} >= {CONFIG, METRICS, CHECKPOINT, "tb"}
    run = open_run(path)
    assert run.config.data.size == 20000 and run.config.train.epochs == 2
    assert run.checkpoint.step == 160 and (run.checkpoint.epoch, run.checkpoint.batch) == (2, 0)
    metrics = read_metrics(path)
    kinds = [m["event"] for m in metrics]
    assert kinds.count("epoch_end") == 2 and kinds[-1] == "finished"
    steps = [m["step"] for m in metrics if m["event"] == "progress"]
    assert steps == sorted(steps) and steps[-1] == 160
    assert tensorboard_scalars(path / "tb")["loss/val"] == [80, 160]  # one per epoch end
    assert lines[-1]["run"] == str(path)


def tensorboard_scalars(folder: Path) -> dict[str, list[int]]:
    """The steps of each scalar TensorBoard reads in the folder's event files."""
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    steps: dict[str, list[int]] = {}
    for f in folder.glob("events.out.tfevents*"):
        for record in tf.data.TFRecordDataset(str(f)):
            event = event_pb2.Event.FromString(record.numpy())
            for v in event.summary.value:
                assert v.metadata.plugin_data.plugin_name == "scalars", v.tag
                assert tf.make_ndarray(v.tensor).shape == (), v.tag
                steps.setdefault(v.tag, []).append(event.step)
    return steps


def test_export_csv_has_every_step(finished_run, capsys):
    path, _ = finished_run
    assert main(["export", str(path), "--csv"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert rows[0].startswith("step,epoch,train_loss,val_loss")
    assert len(rows) == 1 + 160
    assert rows[80].split(",")[3] != "" and rows[79].split(",")[3] == ""


def test_export_keras_loads_in_plain_keras_and_predicts_the_same(finished_run, tmp_path):
    path, _ = finished_run
    out = tmp_path / "model.keras"
    assert main(["export", str(path), "--keras", str(out)]) == 0
    x = np.random.default_rng(0).integers(0, 2, (3, 5)).astype(np.int64)
    np.save(tmp_path / "x.npy", x)
    # A fresh interpreter that never imports rnntui, with safe_mode on.
    code = (f"import sys, numpy as np, keras; m = keras.saving.load_model({str(out)!r}, "
            f"safe_mode=True); x = np.eye(2, dtype='float32')[np.load({str(tmp_path)!r}"
            f" + '/x.npy')]; s = np.zeros((3, 4), 'float32'); "
            f"np.save({str(tmp_path)!r} + '/p.npy', np.asarray(m([x, s])[0])); "
            f"assert 'rnntui' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    from rnntui.engine.model import build_model

    run = open_run(path)
    ours = build_model(run.config)
    ours.set_weights(run.checkpoint.weights)
    want = np.asarray(ours([np.eye(2, dtype="float32")[x], np.zeros((3, 4), "float32")])[0])
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), want, atol=1e-5)


def test_resume_after_sigkill_continues_the_curve(tmp_path):
    # The child is asked for far more epochs than any machine finishes before the kill, and
    # the resume asks for two more than the checkpoint has: the test holds at any speed.
    runs = tmp_path / "runs"
    args = [*RNNTUI, "train", *TINY, "--size", "100000", "--epochs", "100000",
            "--runs-dir", str(runs), "--json"]
    child = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    path = Path(json.loads(child.stdout.readline())["path"])
    # Read the rest as it comes: a full pipe would stop the child before its first checkpoint.
    threading.Thread(target=child.stdout.read, daemon=True).start()
    deadline = time.monotonic() + 240
    while not (path / CHECKPOINT).exists():  # the first epoch's checkpoint
        assert child.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    ckpt = load(path / CHECKPOINT)
    assert ckpt.step % 400 == 0 and 0 < ckpt.step < 400 * 100000  # 400 steps an epoch
    last = ckpt.epoch + 2
    code = main(["train", "--resume", str(path), "--epochs", str(last), "--json"])
    assert code == 0
    metrics = read_metrics(path)
    steps = [m["step"] for m in metrics if m["event"] == "progress"]
    assert steps == sorted(set(steps)), "the curve continues without repeats"
    assert steps[-1] == 400 * last
    # Every epoch from the checkpoint's own on has its end (that one validated again on
    # resume if it never landed). An earlier epoch whose validation was still running at
    # the kill (the first ones wait for the evaluation's compile) has lost its point, not
    # its training: its checkpoint was on disk.
    ends = [m["epoch"] for m in metrics if m["event"] == "epoch_end"]
    assert ends == sorted(set(ends)) and set(range(ckpt.epoch - 1, last)) <= set(ends)
    assert open_run(path).checkpoint.step == 400 * last


def test_a_checkpoint_whose_epoch_end_never_landed_is_validated_first_on_resume(tmp_path):
    """The epoch's checkpoint is written at once and its validation lands later: a trainer
    killed between the two leaves metrics without that epoch end. The resume validates the
    checkpoint's weights first, so every epoch end is there."""
    code = main(["train", *TINY, "--epochs", "2", "--runs-dir", str(tmp_path), "--json",
                 "--name", "owed"])
    assert code == 0
    path = next(tmp_path.iterdir())
    lines = (path / METRICS).read_text().splitlines()
    last_end = max(i for i, line in enumerate(lines) if '"epoch_end"' in line)
    kept = lines[:last_end]  # as if killed after the epoch's checkpoint, before its end
    (path / METRICS).write_text("".join(line + "\n" for line in kept))
    assert main(["train", "--resume", str(path), "--epochs", "3", "--json"]) == 0
    metrics = read_metrics(path)
    ends = [m for m in metrics if m["event"] == "epoch_end"]
    assert [m["epoch"] for m in ends] == [0, 1, 2]
    assert ends[1]["step"] == 160 and ends[1]["train_loss"] > 0  # from its progress lines
    steps = [m["step"] for m in metrics if m["event"] == "progress"]
    assert steps == sorted(set(steps)) and steps[-1] == 240


def test_resume_refuses_other_flags_and_missing_checkpoint(tmp_path, capsys):
    run = tmp_path / "r"
    run.mkdir()
    (run / CONFIG).write_text("[train]\nepochs = 2\n")
    assert main(["train", "--resume", str(run), "--cell", "gru"]) == 2
    assert "only --epochs may change" in capsys.readouterr().err
    assert main(["train", "--resume", str(run)]) == 2
    assert "has no checkpoint yet" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["no folder", "not a run", "bad toml", "foreign toml",
                                  "corrupt checkpoint", "foreign checkpoint"])
def test_bad_files_are_named_and_exit_2(tmp_path, capsys, case):
    run = tmp_path / "run"
    if case != "no folder":
        run.mkdir()
    if case not in ("no folder", "not a run"):
        (run / CONFIG).write_text({"bad toml": "[data\nsize=", "foreign toml":
                                   "[server]\nport = 80\n"}.get(case, "[train]\nepochs=1\n"))
    if case == "corrupt checkpoint":
        (run / CHECKPOINT).write_bytes(b"PK\x03\x04 not really a zip")
    if case == "foreign checkpoint":
        np.savez(run / CHECKPOINT, meta=np.frombuffer(b'{"format": "other"}', np.uint8))
    before = {p.name: p.read_bytes() for p in run.iterdir()} if run.exists() else {}
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {run}") and "\n" not in err and "Traceback" not in err
    after = {p.name: p.read_bytes() for p in run.iterdir()} if run.exists() else {}
    assert after == before, "nothing of the run is overwritten"


def test_checkpoint_writes_are_atomic(tmp_path):
    path = tmp_path / CHECKPOINT
    good = Checkpoint(1, 0, 80, [np.ones((2, 3), np.float32)], [np.zeros(3)], [], 0.1)
    save(path, good)
    # A writer killed mid-write leaves only its temporary file behind.
    (tmp_path / (CHECKPOINT + ".tmp")).write_bytes(b"half a checkpoint")
    back = load(path)
    assert back.step == 80 and np.array_equal(back.weights[0], good.weights[0])
    with pytest.raises(BadFile, match="corrupt"):
        load(tmp_path / (CHECKPOINT + ".tmp"))


def test_config_string_reproduces_a_run_exactly(tmp_path, capsys):
    cfg = preset("r2rt").with_values(size=20000, val_size=5000, batch_size=50,
                                     learning_rate=0.0937, seed=3)
    text = config_string(cfg)
    assert "\n" not in text and "seed=3" in text
    assert parse_config_string(text) == cfg
    a = train(tmp_path, "--config-string", text)[1][-1]  # in a fresh process
    capsys.readouterr()
    assert main(["train", *TINY, "--runs-dir", str(tmp_path / "runs"), "--json",
                 "--config-string", text]) == 0  # and in this one
    b = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert a["val_loss"] == b["val_loss"] and a["train_loss"] == b["train_loss"]
    assert Path(a["run"]) != Path(b["run"])
    assert main(["train", "--config-string", "size=12&cell=nope"]) == 2


def test_sweep_tabulates_the_grid(tmp_path, capsys):
    code = main(["sweep", *TINY, "--runs-dir", str(tmp_path), "--grid", "num_steps=2,5",
                 "--json"])
    assert code == 0
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["values"] for r in rows] == [{"num_steps": 2}, {"num_steps": 5}]
    # One field has no phase map: a note (on stderr, as stdout is JSON), not an error.
    assert err == "no phase map: it needs a grid of two fields (--grid twice), got 1\n"
    for r in rows:
        assert r["status"] == "finished" and set(r["fractions"]) == {"t-3", "t-8"}
        assert set(r["steps_to_floor"]) == {"t-3", "t-3,t-8"} and r["wall_s"] > 0
    assert len(list_runs(tmp_path)) == 2
    assert main(["sweep", "--grid", "rules=3:1"]) == 2
    assert main(["sweep", "--grid", "num_steps=2", "--grid", "num_steps=5"]) == 2


def test_list_runs_reads_what_the_panel_shows(finished_run):
    path, lines = finished_run
    [row] = [r for r in list_runs(path.parent) if r.path == path]
    assert row.status == "finished" and row.config.data.size == 20000
    assert row.val_loss == pytest.approx(lines[-1]["val_loss"], abs=1e-6)
    assert set(row.fractions) == {"t-3", "t-8"}
    assert Config().with_values(size=20000) != row.config  # the preset's fields came along


def test_the_checkpoint_writer_writes_in_order_and_reports_a_failed_write(tmp_path):
    from rnntui.engine.checkpoint import Writer

    def ckpt(step):
        return Checkpoint(0, step, step, [np.full(3, step, np.float32)], [], [], 0.1, [])

    writer = Writer(tmp_path / "c.npz")
    for step in range(1, 6):
        writer.put(ckpt(step))
    writer.flush()
    assert load(tmp_path / "c.npz").step == 5  # the newest, whichever were skipped
    writer.close()
    bad = Writer(tmp_path / "no-such-folder" / "c.npz")
    bad.put(ckpt(1))
    with pytest.raises(OSError):
        bad.flush()
    bad.close()
