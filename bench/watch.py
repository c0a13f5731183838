"""Watching a run written by another process, as a person at a terminal sees it (tmux,
120x40, the screen read with `capture-pane` every 3 ms), in one run:

    python bench/watch.py [--rounds 15] [--steps 10000000] [--idle 20]

1. Follow lag: a real `rnntui train --preset r2rt` trains in the background; per round, the
   time from a progress line landing in its metrics.jsonl (the bench polls the file every
   3 ms) until the screen shows that step, in `rnntui watch RUN` and in the peer
   `tail -f metrics.jsonl`. Medians and p90 over the rounds.
2. A 10M-step run: its folder written by the real Recorder from made-up progress events
   (a real training would take ~20 minutes here), its bytes per step below and above the
   1M steps whose every loss is kept; the seconds until `rnntui watch RUN` shows its last
   step, against the peer: the same app's first paint with no run (`rnntui`). Then each
   process's CPU over `--idle` seconds while nothing changes (the run is live: its
   heartbeat is this process, and no line comes), against the idle app with no run.
Goals (issue 19): lag <= ~1 s; opens a 10M-step run in < 2 s; < 2% of a core idle.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from terminal import PYTHON, ROOT, Pane

sys.path.insert(0, str(ROOT))

from rnntui.config import Config  # noqa: E402
from rnntui.core.events import Progress, Started  # noqa: E402
from rnntui.data import baselines  # noqa: E402
from rnntui.runs.folders import METRICS, new_run  # noqa: E402
from rnntui.runs.recorder import KEEP_STEPS, Recorder  # noqa: E402

POLL_S = 0.003
RNNTUI = f"{PYTHON} -m rnntui"


def last_step(path: Path, seen: int) -> tuple[int, int]:
    """The step of the newest progress line past byte `seen`, and the new end."""
    with open(path, "rb") as f:
        f.seek(seen)
        data = f.read()
    end = seen + data.rfind(b"\n") + 1
    steps = re.findall(rb'"event": "progress", "step": (\d+)', data[:end - seen])
    return (int(steps[-1]) if steps else -1), end


def shown_steps(screen: str, pattern: str) -> int:
    found = [int(s.replace(",", "")) for s in re.findall(pattern, screen)]
    return max(found, default=-1)


def follow_lag(rounds: int, tmp: Path) -> None:
    runs = tmp / "live"
    trainer = subprocess.Popen(
        [PYTHON, "-m", "rnntui", "train", "--preset", "r2rt", "--size", "100000000",
         "--epochs", "5", "--runs-dir", str(runs), "--json"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
    try:
        deadline = time.time() + 120
        while not (runs.exists() and any(runs.iterdir())) and time.time() < deadline:
            time.sleep(0.1)
        run = next(runs.iterdir())
        metrics = run / METRICS
        while (not metrics.exists() or b'"progress"' not in metrics.read_bytes()) \
                and time.time() < deadline:
            time.sleep(0.1)
        panes = {"rnntui watch": (Pane("watch", f"{RNNTUI} watch {run}", str(tmp), False),
                                  r"step ([\d,]+)/"),
                 "tail -f": (Pane("tail", f"tail -f {metrics}", str(tmp), False),
                             r'"step": (\d+)')}
        time.sleep(8)  # the viewer's first paint and replay
        lags: dict[str, list[float]] = {name: [] for name in panes}
        seen = metrics.stat().st_size
        for _ in range(rounds):
            step = -1
            while step < 0:  # the next progress line to land
                time.sleep(POLL_S)
                step, seen = last_step(metrics, seen)
            t0 = time.perf_counter()
            waiting = dict(panes)
            while waiting and time.perf_counter() - t0 < 10:
                for name, (pane, pattern) in list(waiting.items()):
                    if shown_steps(pane.screen(), pattern) >= step:
                        lags[name].append(time.perf_counter() - t0)
                        del waiting[name]
                time.sleep(POLL_S)
            time.sleep(0.37)  # out of phase with the trainer's and the viewer's clocks
        for name, values in lags.items():
            print(f"follow lag {name:>13}: median {statistics.median(values) * 1000:6.0f} ms"
                  f"  p90 {sorted(values)[int(0.9 * (len(values) - 1))] * 1000:6.0f} ms"
                  f"  ({len(values)}/{rounds} rounds)")
        w, t = (statistics.median(lags[n]) for n in panes)
        print(f"ratio watch / tail -f: {w / t:.1f}x")
        for pane, _ in panes.values():
            pane.close()
    finally:
        trainer.terminate()
        trainer.wait(30)


def write_big_run(steps: int, tmp: Path) -> tuple[Path, Recorder]:
    """A run folder of `steps` steps, by the real Recorder, left live (no ending event)."""
    config = Config().with_values(size=steps, epochs=1, batch_size=200, num_steps=5)
    run = new_run(config, tmp / "big")
    rec = Recorder(run)
    d = config.data
    fl = baselines.floors(d.base, d.rules)
    rec.on_event(Started(config, "CPU", fl, baselines.window_floor(d.base, d.rules, 5), steps,
                         steps, 500))
    chunk, t0 = 500, time.perf_counter()
    for start in range(0, steps, chunk):
        s = start + chunk
        losses = [0.45 + 0.2 * 2.718 ** (-(start + i) / 2e6) for i in range(0, chunk, 1)]
        rec.on_event(Progress(s, 0, losses, 0.5, 9000.0, 9000.0 * 200, (steps - s) / 9000,
                              0.1))
        if s == KEEP_STEPS:
            below = (run / METRICS).stat().st_size
    total = (run / METRICS).stat().st_size
    print(f"wrote {steps:,} steps in {time.perf_counter() - t0:.0f} s: metrics.jsonl"
          f" {total / 1e6:.1f} MB; {below / KEEP_STEPS:.1f} bytes/step to {KEEP_STEPS:,},"
          f" {(total - below) / (steps - KEEP_STEPS):.3f} after")
    return run, rec


def cpu_seconds(pane: Pane) -> float:
    pid = pane.tmux("display", "-p", "-t", pane.name, "#{pane_pid}").strip()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def big_run(steps: int, idle: float, tmp: Path) -> None:
    run, rec = write_big_run(steps, tmp)
    last = f"{steps:,}/"
    watch = Pane("bigwatch", f"{RNNTUI} watch {run}", str(tmp), False)
    opened = watch.wait(lambda s: last in s, 60)
    plain = Pane("bigplain", f"{RNNTUI}", str(tmp), False)
    painted = plain.wait(lambda s: "learning_rate" in s, 60)
    print(f"open: rnntui watch (10M steps) shows step {last[:-1]} in {opened:.2f} s;"
          f" peer rnntui (no run) first paint {painted:.2f} s;"
          f" ratio {opened / painted:.2f}x")
    time.sleep(5)
    c0 = {p.name: cpu_seconds(p) for p in (watch, plain)}
    time.sleep(idle)
    for p in (watch, plain):
        share = (cpu_seconds(p) - c0[p.name]) / idle * 100
        print(f"idle CPU {p.name:>9}: {share:.2f}% of a core over {idle:.0f} s")
    assert json.loads((run / "live.json").read_text())["state"] == "training"
    watch.close()
    plain.close()
    del rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--steps", type=int, default=10_000_000)
    ap.add_argument("--idle", type=float, default=20.0)
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="rnntui-watch-") as tmp:
        follow_lag(args.rounds, Path(tmp))
        big_run(args.steps, args.idle, Path(tmp))


if __name__ == "__main__":
    main()
