"""How long a preset takes to learn every lag (val loss within 90% of each floor step).

    python bench/time_to_floor.py [--preset fast] [--seeds 3]

Wall time from Trainer.run() to the first epoch end whose verdict has every lag learned,
with the XLA compile time shown apart; medians over seeds. Quoted in the README.
"""

from __future__ import annotations

import argparse
import statistics
import time

from rnntui.config import preset
from rnntui.core.events import Compiled, EpochEnd
from rnntui.engine import train


def one(name: str, seed: int) -> tuple[float | None, float, int | None, float]:
    cfg = preset(name).with_values(seed=seed)
    t0 = time.perf_counter()
    marks: dict[str, float | int] = {}

    def on(event):
        if isinstance(event, Compiled):
            marks["compile"] = event.seconds
        if (isinstance(event, EpochEnd) and "floor" not in marks
                and len(event.verdict.learned) == len(event.verdict.lags)):
            marks["floor"] = time.perf_counter() - t0
            marks["step"] = event.step
            marks["val"] = event.val_loss

    final = train(cfg, on)
    return (marks.get("floor"), marks.get("compile", 0.0), marks.get("step"),
            getattr(final, "val_loss", float("nan")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="default", help="preset to time (default: default)")
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default: 3)")
    args = ap.parse_args()
    times, compiles = [], []
    for seed in range(args.seeds):
        floor, comp, step, val = one(args.preset, seed)
        compiles.append(comp)
        shown = f"{floor:.2f}s at step {step}" if floor is not None else "not reached"
        print(f"seed {seed}: both floors {shown}; compile {comp:.2f}s; final val {val:.4f}")
        if floor is not None:
            times.append(floor)
    if times:
        print(f"median time to every floor: {statistics.median(times):.2f}s "
              f"({len(times)}/{args.seeds} seeds), of which compile "
              f"{statistics.median(compiles):.2f}s")


if __name__ == "__main__":
    main()
