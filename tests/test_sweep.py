"""`rnntui sweep` ends as a training does: SIGTERM (as ctrl+c and SIGHUP) stops the runs
going as F8 does, each with its stop checkpoint and its live.json "stopped", starts no
config still queued, and exits 128 + the signal; in one process and in worker processes.
A grid of more than 1,000 configs asks for --yes first."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from rnntui.cli import main
from rnntui.runs.folders import CHECKPOINT
from rnntui.runs.live import LIVE

# 400,000 steps a run, minutes of training, while the signal comes with the first run's
# live.json, before its first chunk (in a worker, before TensorFlow has even loaded there):
# at 4,800 steps a fast machine finished a run before the stop reached it. Stopped
# before its second call (the first is the plain graph's), a run never makes XLA's program.
GRID = ["--preset", "r2rt", "--size", "20000", "--val-size", "2000", "--batch-size", "50",
        "--epochs", "5000", "--grid", "state_size=4,5,6", "--json"]
WAIT = 240  # seconds a step may take on a loaded machine: a bound, not a speed claim


def first_live(runs: Path, alive=lambda: True) -> Path:
    """The first run folder whose live.json is written (its trainer has started)."""
    deadline = time.monotonic() + WAIT
    while True:
        found = sorted(runs.glob(f"*/{LIVE}")) if runs.is_dir() else []
        if found:
            return found[0].parent
        assert alive() and time.monotonic() < deadline, "no run started"
        time.sleep(0.05)


def check_stopped(runs: Path, out: str, err: str) -> list[Path]:
    """Every run folder ended "stopped" with its checkpoint, as its JSON line says, and the
    configs that never started made none. Returns the folders."""
    folders = sorted(p for p in runs.iterdir() if p.is_dir())
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert 1 <= len(folders) < 3 and len(lines) == len(folders)
    for folder in folders:
        live = json.loads((folder / LIVE).read_text(encoding="utf-8"))
        assert live["state"] == "stopped" and (folder / CHECKPOINT).is_file()
    assert sorted(Path(r["run"]) for r in lines) == folders
    assert {r["status"] for r in lines} == {"stopped"}
    assert f"stopped: {3 - len(folders)} of 3 configs not started" in err
    return folders


def test_sigterm_stops_a_sweeps_workers_and_starts_no_queued_config(tmp_path):
    runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "rnntui.cli", "sweep", *GRID, "--jobs",
                             "2", "--runs-dir", str(runs)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    try:
        first_live(runs, lambda: proc.poll() is None)
        proc.send_signal(signal.SIGTERM)  # to the parent alone: it tells its workers
        out, err = proc.communicate(timeout=WAIT)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    check_stopped(runs, out, err)


def test_sigterm_stops_a_sweep_in_this_process(tmp_path, capsys):
    runs = tmp_path / "runs"

    def signal_once_started() -> None:  # (the handler is in place before any run starts)
        first_live(runs)
        os.kill(os.getpid(), signal.SIGTERM)

    watcher = threading.Thread(target=signal_once_started, daemon=True)
    watcher.start()
    code = main(["sweep", *GRID, "--jobs", "1", "--runs-dir", str(runs)])
    watcher.join(WAIT)
    out, err = capsys.readouterr()
    assert code == 128 + signal.SIGTERM, err
    assert len(check_stopped(runs, out, err)) == 1  # one at a time: the rest never started


def test_a_sweep_of_more_than_1000_configs_asks_for_yes(tmp_path, capsys):
    runs = tmp_path / "runs"
    seeds = ",".join(str(s) for s in range(501))
    code = main(["sweep", "--grid", f"seed={seeds}", "--grid", "cell=basic,gru", "--runs-dir",
                 str(runs)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and not runs.exists()
    assert err == ("error: sweep: 1,002 configs (501 x 2 values x 1 seed); more than 1,000"
                   " runs only with --yes\n")
