"""The article's phase-map sweep as `rnntui sweep` runs it against the same sweep with XLA
for every run (what it did before), in one run of this script.

Each sweep is the real thing (worker processes, run folders in a temporary folder). It
prints, for both: the wall time, the CPU time of the workers (user + system), the median
per-config wall time, and the ratios. The machine's load average is printed before each,
since on a shared machine the wall time follows it.

    python bench/sweep_speed.py                  # num_steps 1..12 x state_size 2..32, 2 jobs
    python bench/sweep_speed.py --quick          # num_steps 2,5,10 x state_size 4,16
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time

from rnntui.config import preset
from rnntui.runs.sweep import grid_configs, parse_grid, sweep

ARTICLE = ["num_steps=1,2,3,4,5,6,7,8,9,10,11,12", "state_size=2,4,8,16,32"]
QUICK = ["num_steps=2,5,10", "state_size=4,16"]


def timed(items, jobs: int, xla: bool | None) -> tuple[float, float, float, list]:
    """(wall s, workers' CPU s, median per-config wall s, results) of one sweep."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rnntui-bench-") as runs:
        results = sweep(items, runs, jobs, xla=xla)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    own_after = resource.getrusage(resource.RUSAGE_SELF)
    # With --jobs 1 the runs train in this process: count its own CPU time instead.
    usage = (after, before) if jobs > 1 else (own_after, own)
    cpu = sum(getattr(usage[0], f) - getattr(usage[1], f) for f in ("ru_utime", "ru_stime"))
    return wall, cpu, statistics.median(r.wall_s for r in results), results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a 3 x 2 grid")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    items = grid_configs(preset("r2rt"), parse_grid(QUICK if args.quick else ARTICLE))
    print(f"{len(items)} configs of the r2rt preset, {args.jobs} jobs")
    rows = {}
    for name, xla in (("XLA for every run (before)", True), ("rnntui sweep (XLA by length)",
                                                              None)):
        load = os.getloadavg()[0]
        wall, cpu, median, results = timed(items, args.jobs, xla)
        bad = sum(r.status != "finished" for r in results)
        rows[name] = (wall, cpu, median)
        print(f"{name:30} wall {wall:6.1f} s  CPU {cpu:6.1f} s  per config {median:4.1f} s"
              f"  (load before {load:.1f}{f', {bad} not finished' if bad else ''})",
              flush=True)
    (w0, c0, m0), (w1, c1, m1) = rows.values()
    print(f"ratio (before / now): wall {w0 / w1:.2f}x  CPU {c0 / c1:.2f}x  "
          f"per config {m0 / m1:.2f}x")


if __name__ == "__main__":
    main()
