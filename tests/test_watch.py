"""Following a run folder from outside its trainer: the follower, the live record, bounded
metrics, and `rnntui watch` / `rnntui stop` on a real `rnntui train` process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from appsupport import wait_for

from rnntui.cli import main
from rnntui.config import Config, config_string
from rnntui.core.events import Finished, Insight, Predictions, Progress, Started
from rnntui.core.files import write_atomic
from rnntui.runs import recorder
from rnntui.runs.folders import METRICS, new_run, open_run, read_metrics
from rnntui.runs.follow import Follower, Span
from rnntui.runs.live import LIVE, STOP, Heartbeat, liveness, request_stop
from rnntui.runs.report import dumps
from rnntui.runs.session import train_into_run
from rnntui.tui.app import make_app
from rnntui.tui.compare import read_curve

# Epochs of 160 steps and no end in sight: a trainer that is surely mid-run when looked at,
# with an epoch checkpoint every fraction of a second; the tests stop or kill it.
ENDLESS = Config().with_values(size=50_000, val_size=5000, batch_size=50, num_steps=5,
                               epochs=100_000, state_size=8)


def trainer(runs_dir: Path, config: Config = ENDLESS) -> tuple[subprocess.Popen, Path]:
    """A real `rnntui train` process, and the run folder it names on its first line (its
    output goes to a file: a pipe nobody reads would stall it)."""
    log = runs_dir.parent / f"{runs_dir.name}-train.log"
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rnntui", "train", "--config-string",
             config_string(config), "--runs-dir", str(runs_dir), "--json"], stdout=out,
            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        text = log.read_text(encoding="utf-8")
        if "\n" in text:
            first = json.loads(text.splitlines()[0])
            assert first["event"] == "run", first
            return proc, Path(first["path"])
        time.sleep(0.05)
    raise AssertionError(f"the trainer named no run folder: {log.read_text()}")


def lines(path: Path, events) -> None:
    with open(path / METRICS, "a", encoding="utf-8") as f:
        for e in events:
            f.write(dumps(e.to_json()) + "\n")


def progress(step: int, n: int = 4) -> Progress:
    return Progress(step, 0, [0.6 + 0.01 * i for i in range(n)], 1.0, 100.0, 5000.0, 1.0, 0.1)


# -- the follower ---------------------------------------------------------------------------


def test_the_follower_waits_for_a_line_to_end_and_starts_over_when_cut_back(tmp_path):
    run = new_run(Config(), tmp_path)
    follower = Follower(run)
    assert follower.read() == []  # no metrics yet: nothing, no error
    lines(run, [progress(4)])
    with open(run / METRICS, "a", encoding="utf-8") as f:
        f.write(dumps(progress(8).to_json())[:30])  # the trainer is mid-line
    got = follower.read()
    assert [e.step for e in got] == [4]
    with open(run / METRICS, "a", encoding="utf-8") as f:
        f.write(dumps(progress(8).to_json())[30:] + "\n")
    got = follower.read()
    assert [e.step for e in got] == [8] and got[0].losses == progress(8).losses
    assert follower.read() == []
    (run / METRICS).write_text(dumps(progress(4).to_json()) + "\n", encoding="utf-8")
    follower.read()
    assert follower.restarted  # a resume cut it back: the viewer reads it again
    # A resume renames its cut-back file over the old one, and the trainer may have
    # written past the old length by the next look: a new file is read from its start.
    cut = "".join(dumps(progress(s, 6).to_json()) + "\n" for s in (4, 8, 12, 16))
    write_atomic(run / METRICS, cut)
    assert [e.step for e in follower.read()] == [4, 8, 12, 16] and follower.restarted


def test_the_follower_reads_the_newest_look_and_names_a_bad_line(tmp_path):
    run = new_run(Config(), tmp_path)
    rec = recorder.Recorder(run)
    rec.on_event(Predictions(step=5, x=[1, 0], y=[0, 1], p=[0.4, 0.6], combos=[]))
    rec.on_event(Insight(step=5, effects=[0.0, 0.4], true_deltas=[0.0, 0.5], reach=[1.0, 0.5],
                         window_share=[1.0, 1.0]))
    rec.close()
    kinds = [type(e) for e in Follower(run).read()]
    assert Predictions in kinds and Insight in kinds
    with open(run / METRICS, "a", encoding="utf-8") as f:
        f.write("{not json\n")
    with pytest.raises(Exception, match="metrics.jsonl.*not an event"):
        Follower(run).read()


# -- live or dead ---------------------------------------------------------------------------


def test_the_live_record_says_training_ended_or_gone(tmp_path):
    run = new_run(Config(), tmp_path)
    assert liveness(run).state == "unknown"
    heart = Heartbeat(run)
    heart.start(10)
    assert liveness(run).state == "training"
    heart.end("stopped")
    assert liveness(run).state == "stopped"
    with pytest.raises(Exception, match="is not live"):
        request_stop(run)
    assert main(["stop", str(run)]) == 2
    assert not (run / STOP).exists()

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    rec = json.loads((run / LIVE).read_text())
    rec.update(state="training", pid=dead.pid, step=1234)
    (run / LIVE).write_text(json.dumps(rec))
    live = liveness(run)
    assert live.state == "not responding"
    assert "since step 1,234" in live.detail and f"rnntui train --resume {run}" in live.detail
    # Another host's trainer is judged by its heartbeat's age.
    rec.update(host=socket.gethostname() + "-elsewhere", beat=time.time())
    (run / LIVE).write_text(json.dumps(rec))
    assert liveness(run).state == "training"
    assert liveness(run, now=time.time() + 3600).state == "not responding"


# -- bounded metrics ------------------------------------------------------------------------


def test_past_the_keep_limit_lines_hold_aggregates_and_draw_the_same_curve(tmp_path,
                                                                          monkeypatch):
    cfg = Config().with_values(size=20_000, val_size=5000, batch_size=50, num_steps=5,
                               epochs=3, state_size=8, deterministic=True)  # 240 steps
    full = train_into_run(cfg, lambda e: None, runs_dir=tmp_path / "full")
    monkeypatch.setattr(recorder, "KEEP_STEPS", 50)
    monkeypatch.setattr(recorder, "AGG_STEPS", 40)
    cut = train_into_run(cfg, lambda e: None, runs_dir=tmp_path / "cut")
    assert isinstance(full, Finished) and full.val_loss == cut.val_loss
    a, b = (read_curve(next((tmp_path / d).iterdir())) for d in ("full", "cut"))
    assert len(b.steps) < len(a.steps)
    assert b.steps[0] == a.steps[0] and b.steps[-1] == a.steps[-1]
    assert b.losses[0] == a.losses[0] and b.losses[-1] == a.losses[-1]
    assert b.losses.min() == a.losses.min() and b.losses.max() == a.losses.max()
    assert np.isin(b.losses, a.losses).all()  # every point drawn is one of the steps' losses
    run = next((tmp_path / "cut").iterdir())
    spans = [m for m in read_metrics(run) if m["event"] == "progress" and m.get("span")]
    assert spans and all(m["step"] > 50 for m in spans)
    for m in spans:  # each aggregate: first, least, greatest, last of its span
        first = m["step"] - m["span"] + 1
        seg = a.losses[(a.steps >= first) & (a.steps <= m["step"])]
        assert m["losses"] == pytest.approx([seg[0], seg.min(), seg.max(), seg[-1]])
    assert any(isinstance(e, Span) for e in Follower(run).read())
    assert [v for _, v in b.val] == [v for _, v in a.val]


# -- watching a real trainer ----------------------------------------------------------------


def state(app) -> str:
    return app.status.state


async def test_two_viewers_follow_a_trainer_that_dies_and_its_resume_finishes(tmp_path):
    """Two viewers follow one trainer; quitting one never touches it; killed, the trainer
    is "not responding" with the command that resumes it, and the viewer left open follows
    the resumed run to "finished"."""
    proc, run = trainer(tmp_path)
    try:
        a = make_app(preload_tf=False, runs_dir=tmp_path, watch=run)
        b = make_app(preload_tf=False, runs_dir=tmp_path, watch=run)
        async with b.run_test(size=(120, 40)) as pb:
            async with a.run_test(size=(120, 40)) as pa:
                await wait_for(pa, lambda: a.chart.num_points > 0 and b.chart.num_points > 0)
                assert state(a) == state(b) == "training · watching"
                seen = a.chart.num_points
                await wait_for(pa, lambda: a.chart.num_points > seen)  # it follows
                assert isinstance(a.started, Started) and a.started.config == ENDLESS
                await pa.press("f8")  # read-only: a viewer cannot stop it
                await pa.press("f6")
            # viewer a has quit: the trainer goes on, and b still follows it
            seen = b.chart.num_points
            await wait_for(pb, lambda: b.chart.num_points > seen and b.chart.num_val > 0)
            assert proc.poll() is None and liveness(run).live
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            await wait_for(pb, lambda: state(b) == "not responding · watching", 20)
            assert f"rnntui train --resume {run}" in str(b.status.detail)
            epoch = open_run(run).checkpoint.epoch
            assert main(["train", "--resume", str(run), "--epochs", str(epoch + 1)]) == 0
            assert liveness(run).state == "finished"
            await wait_for(pb, lambda: state(b) == "finished · watching")
            assert b.status.verdict is not None
    finally:
        proc.kill()


def test_watch_and_stop_refuse_what_they_cannot_follow(tmp_path, capsys):
    assert main(["watch", str(tmp_path / "missing")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["watch", str(tmp_path / "empty")]) == 2
    assert "holds no run folders" in capsys.readouterr().err
    run = new_run(Config(), tmp_path / "runs")
    (run / METRICS).write_text("this is not json\n", encoding="utf-8")
    assert main(["watch", str(run)]) == 2
    assert "metrics.jsonl" in capsys.readouterr().err
    (run / METRICS).write_text("", encoding="utf-8")
    os.chmod(run / METRICS, 0)
    if os.geteuid() != 0:  # root reads anything
        assert main(["watch", str(run)]) == 2
    os.chmod(run / METRICS, 0o644)
    assert main(["stop", str(tmp_path / "missing")]) == 2
    assert main(["stop", str(run)]) == 2
    assert "is not live" in capsys.readouterr().err
    assert main(["watch", "--list", str(tmp_path / "runs")]) == 0
    assert "unknown" in capsys.readouterr().out


async def test_a_detached_run_stops_by_f8_or_outlives_the_app(tmp_path, capsys):
    app = make_app(ENDLESS, preload_tf=False, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: app.run_state.detached and app.chart.num_points > 0)
        assert state(app) == "training · detached"
        first = app.run_path
        await pilot.press("f8")
        await pilot.press("f8")  # asked already: it is never killed
        await wait_for(pilot, lambda: state(app) == "stopped · detached")
        assert open_run(first).checkpoint is not None
        assert read_metrics(first)[-1]["stopped"] is True

        await pilot.press("ctrl+t")  # another; this one the app leaves running
        await wait_for(pilot, lambda: app.run_path != first and app.chart.num_points > 0)
        second = app.run_path
    time.sleep(1.0)  # the app is gone; its detached training is not
    assert liveness(second).live
    capsys.readouterr()
    assert main(["watch", "--list", str(tmp_path)]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert f"{'live':>14}  {second}" in listed and f"{'stopped':>14}  {first}" in listed
    assert main(["stop", str(second), "--wait"]) == 0
    assert liveness(second).state == "stopped"
    assert open_run(second).checkpoint is not None
    assert read_metrics(second)[-1]["stopped"] is True


def test_a_hang_up_stops_the_apps_training_as_f8_does(tmp_path):
    """The terminal goes (SIGHUP): the app's run ends with its stop checkpoint and a stopped
    event, then the app exits. A real app in a real pseudo-terminal."""
    import fcntl
    import pty
    import struct
    import termios
    import threading

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    flags = ["--size", "50000", "--val-size", "5000", "--batch-size", "50", "--num-steps",
             "5", "--epochs", "100000", "--state-size", "8"]
    proc = subprocess.Popen([sys.executable, "-m", "rnntui", "app", *flags], stdin=slave,
                            stdout=slave, stderr=slave, cwd=tmp_path, start_new_session=True,
                            env={**os.environ, "TERM": "xterm-256color"})
    os.close(slave)
    screen = bytearray()

    def drain() -> None:  # a terminal reads what the app draws
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            screen.extend(data)

    threading.Thread(target=drain, daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        while b"Train" not in screen and time.monotonic() < deadline:  # its footer is up
            time.sleep(0.05)
        os.write(master, b"\x1b[15~")  # F5
        runs = tmp_path / "runs"
        while time.monotonic() < deadline:
            metrics = list(runs.glob(f"*/{METRICS}")) if runs.is_dir() else []
            if metrics and any(m["event"] == "epoch_end" for m in read_metrics(metrics[0].parent)):
                break
            time.sleep(0.1)
        run = metrics[0].parent
        os.kill(proc.pid, signal.SIGHUP)
        os.close(master)
        assert proc.wait(30) == 128 + signal.SIGHUP
    finally:
        proc.kill()
    last = read_metrics(run)[-1]
    assert last["event"] == "finished" and last["stopped"] is True
    assert open_run(run).checkpoint.step == last["step"]
    assert liveness(run).state == "stopped"
