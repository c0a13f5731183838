"""How long a preset takes to learn every lag (val loss within 90% of each floor step).

    python bench/time_to_floor.py [--preset fast] [--seeds 3]
    python bench/time_to_floor.py --preset fast --with dropout=0.2 --with layer_norm=true

Wall time from Trainer.run() to the first epoch end whose verdict has every lag learned,
with the XLA compile time shown apart; medians over seeds. Quoted in the README. Each
`--with FIELD=VALUE[,FIELD=VALUE]` is a variant of the preset, timed in the same run
after the preset itself, with its median's ratio to the preset's.
"""

from __future__ import annotations

import argparse
import statistics
import time

from rnntui.config import parse_value, preset
from rnntui.core.events import Compiled, EpochEnd
from rnntui.engine import train


def one(name: str, seed: int, values: dict | None = None
        ) -> tuple[float | None, float, int | None, float]:
    cfg = preset(name).with_values(seed=seed, **(values or {}))
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


def variant(text: str) -> dict:
    """'dropout=0.2,layer_norm=true' -> {'dropout': 0.2, 'layer_norm': True}."""
    pairs = (item.split("=", 1) for item in text.split(",") if item)
    return {name: parse_value(name, value) for name, value in pairs}


def timed(name: str, seeds: int, values: dict) -> float | None:
    """Print each seed's line and the median; return the median time to every floor."""
    times, compiles = [], []
    for seed in range(seeds):
        floor, comp, step, val = one(name, seed, values)
        compiles.append(comp)
        shown = f"{floor:.2f}s at step {step}" if floor is not None else "not reached"
        print(f"  seed {seed}: both floors {shown}; compile {comp:.2f}s; final val {val:.4f}")
        if floor is not None:
            times.append(floor)
    if not times:
        print("  no seed reached every floor")
        return None
    median = statistics.median(times)
    print(f"  median time to every floor: {median:.2f}s ({len(times)}/{seeds} seeds),"
          f" of which compile {statistics.median(compiles):.2f}s")
    return median


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="default", help="preset to time (default: default)")
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default: 3)")
    ap.add_argument("--with", dest="variants", action="append", default=[],
                    metavar="FIELD=VALUE,...", help="a variant of the preset to time too")
    args = ap.parse_args()
    print(f"preset {args.preset}")
    base = timed(args.preset, args.seeds, {})
    for text in args.variants:
        print(f"preset {args.preset} with {text}")
        t = timed(args.preset, args.seeds, variant(text))
        if t is not None and base is not None:
            print(f"  {t / base:.2f}x the preset's time to every floor")


if __name__ == "__main__":
    main()
