"""Many restarts in one app session: does each run leave memory behind, and does a restart
ever compile a program twice?

    python bench/restarts.py [--cycles 40] [--round stop --round running --round edit]

Starts `rnntui app --preset r2rt --size 20000000 --epochs 50` under tmux (120x40), then:
- `stop`: `--cycles` times F5, 3 s, F8, until the status says stopped, 1.5 s;
- `running`: `--cycles` times F5 while a run is still going (y to the "Restart it?"
  question), 3 s: the new run starts after the old one stops, and must take its program;
- `edit` (a fresh app each time, --cycles / 10 of them): the moment the app is idle (the
  form's program being made ahead), state_size is typed twice, 8 then 6; once idle again,
  F5. The first run must find the program made once, for the form as it is.
Prints the resident memory (VmRSS of /proc/PID/status) after cycles 1, 10, 20, 30 and 40
(and the last), the growth over the first, the seconds from the key to the new run's first
step on screen, and whether each run reused its program (its metrics' `compiled` event,
`reused`; "?" for a version that did not record it). Goal (issue 17): RSS within 10% after
40 cycles; every restart reuses.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

from terminal import PYTHON, Pane, focus_row

ARGS = "app --preset r2rt --size 20000000 --epochs 50"
STEP = re.compile(r"step [1-9][0-9,]*/")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def reused(runs: Path, seen: set[str]) -> str:
    """Whether the run folder not in `seen` (which it joins) took a program made before
    it: yes, no, or ? (not recorded)."""
    new = next(p for p in runs.iterdir() if p.name not in seen)
    seen.add(new.name)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        metrics = new / "metrics.jsonl"
        for line in metrics.read_text().splitlines() if metrics.exists() else []:
            event = json.loads(line)
            if event.get("event") == "compiled":
                return "?" if "reused" not in event else ("yes" if event["reused"] else "no")
            if event.get("event") == "progress":
                return "?"  # a version that records no compiled event
        time.sleep(0.05)
    return "?"


def first_step(pane: Pane, key: str, runs: Path, before: int) -> float | None:
    """Seconds from `key` until the new run (a run folder beyond the `before`-th) shows its
    first step on screen, training. The screen first leaves the old run's: a new run
    starts compiling ("● compiling"), whatever the version."""
    t0 = time.perf_counter()
    pane.keys(key)
    if pane.wait(lambda s: "● training" not in s, 30) is None:
        return None
    ok = pane.wait(lambda s: STEP.search(s) is not None and "● training" in s
                   and runs.is_dir() and len(list(runs.iterdir())) > before, 60)
    return None if ok is None else time.perf_counter() - t0


def app(name: str) -> tuple[Pane, int, Path]:
    folder = Path(tempfile.mkdtemp(prefix="rnntui-rs-"))
    pane = Pane(name, f"{PYTHON} -m rnntui {ARGS}", str(folder), truecolor=False)
    pid = int(pane.tmux("list-panes", "-t", pane.name, "-F", "#{pane_pid}").split()[0])
    assert pane.wait(lambda s: "● idle" in s and "device" in s, 90), "rnntui did not reach idle"
    return pane, pid, folder / "runs"


def memory(label: str, pid: int, cycle: int, first: float | None) -> float:
    mb = rss_mb(pid)
    first = first or mb
    print(f"{label} after cycle {cycle:>2}: {mb:7,.0f} MB  ({100 * (mb / first - 1):+5.1f}%)"
          f"  {threads(pid)} threads", flush=True)
    return first


def stop_round(cycles: int) -> None:
    pane, pid, runs = app("restarts-stop")
    marks, first = {1, 10, 20, 30, 40, cycles}, None
    print(f"rnntui {ARGS}: pid {pid}, {rss_mb(pid):,.0f} MB at idle (TensorFlow loaded),"
          f" load average {os.getloadavg()[0]:.1f}")
    try:
        for cycle in range(1, cycles + 1):
            pane.keys("F5")
            time.sleep(3.0)
            pane.keys("F8")
            if pane.wait(lambda s: "● stopped" in s or "● finished" in s, 30) is None:
                print(f"cycle {cycle}: the run did not stop within 30 s")
            time.sleep(1.5)
            if cycle in marks:
                first = memory("F5, F8:", pid, cycle, first)
    finally:
        pane.close()


def running_round(cycles: int) -> None:
    pane, pid, runs = app("restarts-running")
    marks, first, seconds, kept, seen = {1, 10, 20, 30, 40, cycles}, None, [], [], set()
    try:
        assert first_step(pane, "F5", runs, 0) is not None, "no first run"
        reused(runs, seen)
        for cycle in range(1, cycles + 1):
            time.sleep(3.0)
            pane.keys("F5")
            assert pane.wait(lambda s: "Restart it?" in s, 10), "no restart question"
            seconds.append(first_step(pane, "y", runs, cycle))
            kept.append(reused(runs, seen))
            if cycle in marks:
                first = memory("F5 while running:", pid, cycle, first)
    finally:
        pane.close()
    done = [s for s in seconds if s is not None]
    print(f"F5 while running: the new run's first step after {statistics.median(done):.2f} s"
          f" (median of {len(done)}); reused its program: {kept.count('yes')} of {len(kept)}"
          + (f" ({kept.count('?')} not recorded)" if "?" in kept else ""), flush=True)


def edit_round(cycles: int) -> None:
    seconds, kept = [], []
    for cycle in range(1, cycles + 1):
        pane, _, runs = app(f"restarts-edit-{cycle}")
        try:
            focus_row(pane, "state_size")
            for text in ("8", "6"):  # while the first program is being made ahead
                for key in ("End", "BSpace", "BSpace", text):
                    pane.keys(key)
                    time.sleep(0.05)
                assert pane.wait(lambda s, t=text: re.search(rf"state_size\s+{t}\b", s), 10)
            time.sleep(2.0)  # the form settles (1 s), and its program is made
            seconds.append(first_step(pane, "F5", runs, 0))
            kept.append(reused(runs, set()))
        finally:
            pane.close()
    done = [s for s in seconds if s is not None]
    print(f"edit during the warm, then F5: first step after {statistics.median(done):.2f} s"
          f" (median of {len(done)}); reused its program: {kept.count('yes')} of {len(kept)}"
          + (f" ({kept.count('?')} not recorded)" if "?" in kept else ""), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cycles", type=int, default=40)
    ap.add_argument("--round", action="append", choices=["stop", "running", "edit"],
                    help="repeatable (default: all three)")
    args = ap.parse_args()
    for which in args.round or ["stop", "running", "edit"]:
        {"stop": stop_round, "running": running_round,
         "edit": lambda n: edit_round(max(1, n // 10))}[which](args.cycles)


if __name__ == "__main__":
    main()
