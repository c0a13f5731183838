"""TensorFlow's CPU threads: one thread against its default (one per core), by model size,
for the steady training chunk rate (rnntui.engine.steps, XLA). Each measurement is a fresh
process, since the threads are fixed when TensorFlow loads; rounds alternate the two.

    python bench/cpu_threads.py [--rounds 3] [--case basic,4,200,5 ...]

A case is cell,state_size,batch_size,num_steps. Prints steps/s for each, the ratio
1 thread / default, and what rnntui chooses (rnntui.engine.tfload.auto_threads on the CPU).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CASES = ["basic,4,200,5", "rnn,16,32,10", "rnn,64,200,10", "lstm,64,200,10",
         "lstm,256,200,10"]


def config_of(case: str):
    from rnntui.config import preset

    cell, state, batch, steps = case.split(",")
    return preset("r2rt").with_values(cell=cell, state_size=int(state),
                                      batch_size=int(batch), num_steps=int(steps),
                                      size=400_000)


def child(threads: int, case: str) -> None:
    """Print the median steps/s of 8 chunks after a warm-up, with `threads` (0: default)."""

    from rnntui.data.feed import EpochFeed
    from rnntui.engine.model import build_model, build_optimizer
    from rnntui.engine.plan import choose_chunk, steps_per_epoch
    from rnntui.engine.steps import Steps
    from rnntui.engine.tfload import ask_cpu_threads, quiet_tensorflow

    ask_cpu_threads(threads)
    tf = quiet_tensorflow()
    cfg = config_of(case)
    k = choose_chunk(cfg, steps_per_epoch(cfg))
    steps = Steps(tf, build_model(cfg, seed=0), build_optimizer(cfg, False), cfg, k)
    steps.compile()
    feed = EpochFeed(cfg, k)
    _, xs, ys = next(feed.chunks(0))
    state = steps.zero_state()
    steps.train(xs, ys, state)
    times = []
    for _ in range(8):
        t0 = time.perf_counter()
        steps.train(xs, ys, state)
        times.append(time.perf_counter() - t0)
    feed.close()
    print(len(xs) / statistics.median(times))


def measure(threads: int, case: str) -> float:
    out = subprocess.run([sys.executable, __file__, "--child", str(threads), case],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--case", action="append", help="cell,state,batch,num_steps (repeatable)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(int(args.child[0]), args.child[1])
        return
    from rnntui.engine.tfload import auto_threads

    print(f"{os.cpu_count()} cores; steps/s, median of {args.rounds} rounds")
    for case in args.case or CASES:
        one, default = [], []
        for _ in range(args.rounds):
            one.append(measure(1, case))
            default.append(measure(0, case))
        a, b = statistics.median(one), statistics.median(default)
        chosen = auto_threads(config_of(case), on_gpu=False) or "default"
        print(f"{case:>16}: 1 thread {a:9,.0f}, default {b:9,.0f}: {a / b:5.0%}"
              f"  (rnntui chooses {chosen})", flush=True)


if __name__ == "__main__":
    main()
