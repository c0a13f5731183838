"""What a truncation style costs a position trained: windows, TBPTT(stride, num_steps) and
even, on one preset, whole runs of the same positions, in one run.

    python bench/truncation_cost.py [--preset fast] [--num-steps 10] [--rounds 3]

Each style trains the preset's series once (one epoch: every position's loss once, as the
styles compare), compile included; prints positions trained a second, medians of the
rounds, and each style's cost a position against windows. Even does num_steps/stride times
the recurrent work of windows a position, by design; the ratio shows what that is in time.
"""

from __future__ import annotations

import argparse
import statistics
import time

from rnntui.config import positions_trained, preset
from rnntui.core.events import Finished
from rnntui.engine import train


def one(name: str, num_steps: int, stride: int) -> float:
    """Positions trained a second, over the whole run."""
    config = preset(name).with_values(num_steps=num_steps, stride=stride, epochs=1)
    t0 = time.perf_counter()
    end = train(config, None)
    wall = time.perf_counter() - t0
    assert isinstance(end, Finished), end
    return positions_trained(config.train, end.step) / wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--num-steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    n = args.num_steps
    styles = {"windows": n, f"TBPTT({n // 2}, {n})": n // 2, "even": 1}
    rates: dict[str, list[float]] = {s: [] for s in styles}
    for _ in range(args.rounds):  # interleaved, so a slow spell of the machine hits all
        for style, stride in styles.items():
            rates[style].append(one(args.preset, n, stride))
    base = statistics.median(rates["windows"])
    for style, got in rates.items():
        med = statistics.median(got)
        print(f"{style:>14}: {med:,.0f} positions/s (rounds {', '.join(f'{r:,.0f}' for r in got)})"
              f"; {base / med:.2f}x windows' time a position")


if __name__ == "__main__":
    main()
