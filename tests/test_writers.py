"""One writer per run folder, checked before touching: the lock (held by another process,
released by kill -9), a refused resume that leaves the run byte for byte as it was, private
files whatever the umask, temporaries of their own names, a paused trainer's heartbeat."""

from __future__ import annotations

import hashlib
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rnntui.cli import main
from rnntui.config import Config
from rnntui.core.control import Control
from rnntui.core.files import write_atomic
from rnntui.runs.folders import CHECKPOINT, CONFIG, METRICS, read_metrics
from rnntui.runs.live import liveness, request_stop
from rnntui.runs.lock import LOCK, RunBusy, RunLock, busy
from rnntui.runs.session import train_into_run

TINY = Config().with_values(size=20_000, val_size=5_000, batch_size=50, num_steps=5,
                            epochs=2, state_size=4)  # 80 steps an epoch
HOLD = ("import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600);"
        " fcntl.flock(fd, fcntl.LOCK_EX); os.ftruncate(fd, 0);"
        " os.write(fd, b'{\"pid\": %d, \"host\": \"box\"}' % os.getpid());"
        " print('held', flush=True); sys.stdin.read()")


def snapshot(run: Path) -> dict[str, str]:
    """Every file of the run and its bytes' hash."""
    return {str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A tiny finished run of 2 epochs (umask 0: its files must be private all the same)."""
    old = os.umask(0)
    try:
        opened: list[Path] = []
        end = train_into_run(TINY, lambda e: None, runs_dir=tmp_path_factory.mktemp("w"),
                             opened=opened.append)
    finally:
        os.umask(old)
    assert end.kind == "finished"
    return opened[0]


def copy_run(run: Path, to: Path) -> Path:
    import shutil

    dest = to / run.name
    shutil.copytree(run, dest)
    return dest


def holder_process(run: Path) -> subprocess.Popen:
    """Another process holding the run's lock, as a live trainer does."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run / LOCK)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_run_is_private_whatever_the_umask(finished):
    assert stat.S_IMODE(finished.stat().st_mode) == 0o700
    assert stat.S_IMODE((finished / "tb").stat().st_mode) == 0o700
    files = [p for p in finished.iterdir() if p.is_file()]
    assert {p.name for p in files} >= {CONFIG, METRICS, CHECKPOINT, "live.json", LOCK}
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p.name


def test_a_live_run_refuses_a_second_writer_and_kill_9_lets_go(finished, tmp_path, capsys):
    run = copy_run(finished, tmp_path)
    proc = holder_process(run)
    before = snapshot(run)
    try:
        assert isinstance(busy(run), RunBusy)
        with pytest.raises(RunBusy, match=f"pid {proc.pid} on box"):
            RunLock(run).acquire()
        assert main(["train", "--resume", str(run), "--epochs", "3"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"pid {proc.pid}" in err
        assert "rnntui stop" in err and "--wait" in err
        with pytest.raises(RunBusy):  # the session itself refuses, not only the command line
            train_into_run(TINY.with_values(epochs=3), lambda e: None,
                           resume=_run(run))
        assert snapshot(run) == before  # not a byte changed
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert busy(run) is None  # the kernel let go of it with the process
    with RunLock(run) as lock:
        assert lock.held
    assert busy(run) is None


def _run(path: Path):
    from rnntui.runs.folders import open_run

    return open_run(path)


@pytest.mark.parametrize("case", ["empty config", "other model", "all epochs done",
                                  "changed data"])
def test_a_refused_resume_leaves_the_run_as_it_was(finished, tmp_path, capsys, case):
    run = copy_run(finished, tmp_path)
    argv = ["train", "--resume", str(run), "--epochs", "3"]
    if case == "empty config":
        (run / CONFIG).write_text("")
    elif case == "other model":  # config.toml edited by hand: the checkpoint no longer fits
        text = (run / CONFIG).read_text()
        (run / CONFIG).write_text(text.replace("state_size = 4", "state_size = 6"))
    elif case == "all epochs done":
        argv = argv[:-2]
    else:
        import numpy as np

        data = tmp_path / "d.npz"
        x = np.random.default_rng(0).integers(0, 2, 2000).astype("uint8")
        np.savez(data, x=x, y=np.roll(x, 3))
        assert main(["train", "--data-file", str(data), "--epochs", "1", "--batch-size", "10",
                     "--num-steps", "5", "--val-size", "500",
                     "--runs-dir", str(tmp_path / "d")]) == 0
        capsys.readouterr()
        run = next((tmp_path / "d").iterdir())
        np.savez(data, x=x, y=np.roll(x, 2))
        argv = ["train", "--resume", str(run), "--epochs", "2"]
    before = snapshot(run)
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert {"empty config": "empty", "other model": "do not fit",
            "all epochs done": "trained all its 2 epochs",
            "changed data": "changed since"}[case] in err
    assert snapshot(run) == before


def test_a_resume_clears_a_killed_writers_temporaries(finished, tmp_path):
    run = copy_run(finished, tmp_path)
    stale = [run / "checkpoint.npz.tmp", run / ".live.json.x1y2.tmp"]
    for p in stale:
        p.write_bytes(b"half")
    assert main(["train", "--resume", str(run), "--epochs", "3", "--json"]) == 0
    assert not list(run.glob("*.tmp")) and not list(run.glob(".*.tmp"))
    ends = [m["epoch"] for m in read_metrics(run) if m["event"] == "epoch_end"]
    assert ends == [0, 1, 2]


def test_two_atomic_writers_never_share_a_temporary(tmp_path):
    path = tmp_path / "f.json"
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(200):
                write_atomic(path, f"{n} {i}\n" * 100)
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    lines = set(path.read_text().splitlines())
    assert len(lines) == 1  # whole, one writer's
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_a_paused_trainer_keeps_its_heartbeat_and_stop_reaches_it(tmp_path):
    control, opened = Control(), []
    control.pause()
    ended: list = []
    t = threading.Thread(target=lambda: ended.append(train_into_run(
        TINY.with_values(epochs=50), lambda e: None, runs_dir=tmp_path, control=control,
        opened=opened.append)))
    t.start()
    assert control.paused_between_chunks.wait(120)
    run = opened[0]
    deadline = time.monotonic() + 30
    while liveness(run).state != "paused":  # the pause's own beat, within about a second
        assert time.monotonic() < deadline, liveness(run)
        time.sleep(0.05)
    assert liveness(run).live
    request_stop(run)  # as `rnntui stop RUN` does, to a paused trainer
    t.join(120)
    assert ended and ended[0].kind == "finished" and ended[0].stopped
    assert liveness(run).state == "stopped"


async def test_the_apps_resume_refuses_a_live_run(finished, tmp_path):
    from appsupport import wait_for
    from textual.widgets import Static

    from rnntui.tui.app import make_app
    from rnntui.tui.screens.runs import RunsScreen

    runs = tmp_path / "runs"
    runs.mkdir()
    run = copy_run(finished, runs)
    (run / CHECKPOINT).write_bytes((finished / CHECKPOINT).read_bytes())
    text = (run / CONFIG).read_text()  # epochs left, so that only the lock refuses it
    (run / CONFIG).write_text(text.replace("epochs = 2", "epochs = 5"))
    proc = holder_process(run)
    before = snapshot(run)
    try:
        app = make_app(preload_tf=False, runs_dir=runs)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("f3")
            screen = app.screen
            assert isinstance(screen, RunsScreen)
            await wait_for(pilot, lambda: screen.table.row_count == 1, 20)
            await pilot.press("r")
            message = screen.query_one("#runs-message", Static)
            await wait_for(pilot, lambda: "being trained" in str(message.render()), 20)
            said = str(message.render())
            assert f"pid {proc.pid} on box" in said and "rnntui stop" in said
            assert app.screen is screen  # nothing started
        assert snapshot(run) == before
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
