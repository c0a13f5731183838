"""Faults end in one line and a consistent run: a write that fails (each kind of file, by a
fault-injecting writer; a real full tmpfs and a read-only one where the test runs as root)
names the file and the last good checkpoint, leaves no torn metrics line and no temporary,
says "failed" in live.json, and the run resumes once the disk is back. A kill -9's lost
validations are marked, never silently missing."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from rnntui.cli import main
from rnntui.config import Config
from rnntui.core.control import Control
from rnntui.engine.checkpoint import Checkpoint, load
from rnntui.runs.folders import CHECKPOINT, LOOK, METRICS, read_metrics, truncate_metrics
from rnntui.runs.live import LIVE
from rnntui.runs.session import train_into_run

TINY = Config().with_values(size=20_000, val_size=5_000, batch_size=50, num_steps=5,
                            epochs=4, state_size=4)  # 80 steps an epoch


class Faults:
    """ENOSPC at the n-th write of one kind of file (its temporary's name or its own)."""

    def __init__(self, monkeypatch, name: str, nth: int, code: int = errno.ENOSPC):
        self.name, self.left, self.code = name, nth, code
        real_fsync, real_write = os.fsync, os.write

        def hit(fd: int) -> bool:
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                return False
            if Path(target).name.lstrip(".").startswith(self.name):
                self.left -= 1
                return self.left == 0
            return False

        def fsync(fd):
            if hit(fd):
                raise OSError(self.code, os.strerror(self.code))
            return real_fsync(fd)

        def write(fd, data):
            if hit(fd):  # half the line goes down first, as on a disk that fills mid-write
                real_write(fd, bytes(data)[: len(data) // 2])
                raise OSError(self.code, os.strerror(self.code))
            return real_write(fd, data)

        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(os, "write", write)


def consistent(run: Path) -> dict:
    """What a failed run must be: whole metrics lines, no temporary, live.json "failed",
    a checkpoint that loads (if any). Returns live.json."""
    text = (run / METRICS).read_text()
    assert text == "" or text.endswith("\n")
    read_metrics(run)  # every line whole
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]
    live = json.loads((run / LIVE).read_text())
    assert live["state"] == "failed"
    if (run / CHECKPOINT).exists():
        load(run / CHECKPOINT)
    return live


def train(tmp_path: Path, control: Control | None = None):
    opened: list[Path] = []
    end = train_into_run(TINY, lambda e: None, runs_dir=tmp_path / "runs", opened=opened.append,
                         control=control)
    return end, opened[0]


@pytest.mark.parametrize("name,nth", [(METRICS, 5), (LIVE, 2), (LOOK, 1), (CHECKPOINT, 2)])
def test_a_failed_write_of_each_file_ends_in_one_line_and_resumes(tmp_path, monkeypatch,
                                                                  capsys, name, nth):
    faults = Faults(monkeypatch, name, nth)
    end, run = train(tmp_path)
    monkeypatch.undo()
    assert faults.left <= 0, "the fault was never reached"
    if name == LIVE:  # the run's last word: written over the old record in place instead
        assert end.kind == "finished" and json.loads((run / LIVE).read_text())["state"] == \
            "finished"
        return
    assert end.kind == "failed", end
    message = end.message
    assert "\n" not in message and f"cannot write {run / name}: the disk is full" in message
    assert "checkpoint" in message  # where it can go on from
    consistent(run)
    if "no checkpoint was saved" in message:  # a look's file can fail before the first one
        assert not (run / CHECKPOINT).exists()
        assert main(["train", "--resume", str(run)]) == 2
        assert "no checkpoint yet" in capsys.readouterr().err
        return
    # The disk is back: the run goes on from its checkpoint (one epoch more than it has,
    # however far it got before the fault).
    epochs = load(run / CHECKPOINT).epoch + 1
    assert main(["train", "--resume", str(run), "--json", "--epochs", str(epochs)]) == 0
    capsys.readouterr()
    assert read_metrics(run)[-1]["event"] == "finished"


def test_the_stop_checkpoint_is_tried_after_an_earlier_write_failed(tmp_path, monkeypatch):
    control = Control()
    seen: list[str] = []

    def on_event(e) -> None:
        seen.append(e.kind)
        if e.kind == "epoch_end" and e.epoch == 1:
            control.stop()

    faults = Faults(monkeypatch, CHECKPOINT, 1)  # epoch 0's checkpoint fails
    opened: list[Path] = []
    end = train_into_run(TINY, on_event, runs_dir=tmp_path, control=control,
                         opened=opened.append)
    monkeypatch.undo()
    assert faults.left <= 0 and end.kind == "failed"
    saved = load(opened[0] / CHECKPOINT)  # a later checkpoint was still written
    assert saved.step >= 160 and f"at step {saved.step:,}" in end.message


def _file_name(fd: int) -> str:
    try:
        return Path(os.readlink(f"/proc/self/fd/{fd}")).name
    except OSError:
        return ""


def test_a_failure_whose_own_line_the_disk_refuses_still_ends_in_one_line(tmp_path,
                                                                         monkeypatch):
    """A checkpoint the full disk refuses, then the metrics line saying so refused too (a
    real full disk, when the checkpoint comes first: tests/test_faults.py's tmpfs test
    once ended in a traceback so): the failure still ends the run in one line, live.json
    says "failed", and no traceback escapes."""
    faults = Faults(monkeypatch, CHECKPOINT, 1)
    inner = os.write

    def write(fd, data):  # the failure's own line: refused (the lines before it went)
        if _file_name(fd) == METRICS and b'"failed"' in bytes(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return inner(fd, data)

    monkeypatch.setattr(os, "write", write)
    end, run = train(tmp_path)
    monkeypatch.undo()
    assert faults.left <= 0 and end.kind == "failed", end
    assert "\n" not in end.message and "the disk is full" in end.message
    assert "failed" not in (run / METRICS).read_text()  # its line did not go
    consistent(run)


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str = "2m"):
    path.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}",
                                            "tmpfs", str(path)]).returncode != 0:
        pytest.skip("needs root and mount (a real small tmpfs)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_real_full_disk_and_a_read_only_one(tmp_path, capsys):
    with small_tmpfs(tmp_path / "disk") as disk:
        control = Control()
        ended: list = []
        opened: list[Path] = []

        def on_event(e) -> None:
            if e.kind == "epoch_end" and e.epoch == 0:
                control.pause()

        t = threading.Thread(target=lambda: ended.append(train_into_run(
            TINY.with_values(epochs=100), on_event, runs_dir=disk / "runs", control=control,
            opened=opened.append)))
        t.start()
        assert control.paused_between_chunks.wait(120), ended
        while control.writing.is_set():  # the checkpoint in hand lands first
            control.writing.wait(0.01)
        run = opened[0]
        filler = disk / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)  # the disk fills while it is paused
        with contextlib.suppress(OSError):  # (unbuffered: nothing is left to fail at close)
            while os.write(fd, b"\0" * 65536):
                pass
        os.close(fd)
        control.resume()
        t.join(120)
        assert ended and ended[0].kind == "failed", ended
        assert "\n" not in ended[0].message and "the disk is full" in ended[0].message
        consistent(run)
        good = load(run / CHECKPOINT)
        # The command line on the still-full disk: one line, exit 1, the run untouched.
        def files() -> dict:  # (the lock notes each holder in place: not the run's data)
            return {p.name: p.read_bytes() for p in run.iterdir()
                    if p.is_file() and p.name != "lock"}

        before = files()
        assert main(["train", "--resume", str(run), "--json"]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "the disk is full" in err, err
        assert files() == before
        filler.unlink()
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        code = main(["train", "--resume", str(run), "--json"])
        err = capsys.readouterr().err.strip()
        assert code == 1 and len(err.splitlines()) == 1 and "read-only" in err, err
        subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        assert main(["train", "--resume", str(run), "--json", "--epochs",
                     str(good.epoch + 1)]) == 0
        assert load(run / CHECKPOINT).step > good.step


def test_a_kill_9s_lost_validations_are_marked_on_resume(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    lines = [{"event": "started", "step": 0}]
    for epoch in range(9):
        lines += [{"event": "progress", "epoch": epoch, "step": 10 * epoch + 10,
                   "losses": [0.6]}]
        if epoch <= 5:
            lines.append({"event": "epoch_end", "epoch": epoch, "step": 10 * epoch + 10})
    (run / METRICS).write_text("".join(json.dumps(m) + "\n" for m in lines))
    truncate_metrics(run, Checkpoint(9, 0, 90, [np.zeros(1)]))
    metrics = read_metrics(run)
    lost = [m for m in metrics if m["event"] == "epoch_lost"]
    assert [m["epoch"] for m in lost] == [6, 7]  # epoch 8 is the checkpoint's: validated
    assert all("never landed" in m["reason"] for m in lost)
    order = [(m.get("epoch"), m["event"]) for m in metrics if m.get("epoch") in (6, 7)]
    assert order == [(6, "progress"), (6, "epoch_lost"), (7, "progress"), (7, "epoch_lost")]


def test_a_read_only_runs_folder_is_one_line(tmp_path, capsys):
    if os.geteuid() == 0:  # root writes anyway: the tmpfs test covers read-only for root
        with small_tmpfs(tmp_path / "ro") as disk:
            subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
            code = main(["train", "--size", "20000", "--runs-dir", str(disk / "runs")])
            subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
    else:
        (tmp_path / "runs").mkdir(mode=0o500)
        code = main(["train", "--size", "20000", "--runs-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "read-only" in err or "ermission" in err
