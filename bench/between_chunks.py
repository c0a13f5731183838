"""How much of a whole run goes between chunks: the run's steps/s (compile excluded: from
the first chunk's start to Finished) against its own steady chunk rate (the median of the
per-chunk rates of the same run), for the r2rt preset over many short epochs, where epoch
ends (validation, predictions, insight, checkpoint) come every ~0.1 s.

    python bench/between_chunks.py [--epochs 40] [--rounds 3]

Prints each round and the median ratio, and the median without the first round, which
builds its program (the evaluation and the probe compile beside its first epochs); the
goal is >= 90%.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rnntui.config import preset  # noqa: E402
from rnntui.core.events import Progress  # noqa: E402
from rnntui.engine import train  # noqa: E402

INSIGHT = True  # --insight-off: without the insight measurements


def one(epochs: int, folder: Path) -> tuple[float, float]:
    """(whole-run steps/s after compile, median per-chunk steps/s) of one training."""
    cfg = preset("r2rt").with_values(epochs=epochs)
    seen: list[tuple[int, float]] = []  # (step, when its Progress came)

    def hear(event):
        if isinstance(event, Progress):
            seen.append((event.step, time.perf_counter()))

    final = train(cfg, hear, checkpoint_path=folder / "checkpoint.npz", insight=INSIGHT)
    assert final.kind == "finished", final
    # Steady: from one Progress to the next inside one epoch is one chunk and little else;
    # the median leaves out the pairs with a predictions event between them.
    per_epoch = final.step // epochs
    steady = [(s1 - s0) / (t1 - t0) for (s0, t0), (s1, t1) in zip(seen, seen[1:], strict=False)
              if (s0 - 1) // per_epoch == (s1 - 1) // per_epoch]
    # The whole run as Finished reports it: from the first chunk to the end, less the
    # waits for XLA's compile, which a first round's second call makes (steps.first_steps):
    # a compile is no cost between chunks.
    return final.steps_per_sec, statistics.median(steady)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--insight-off", action="store_true", help="train with insight off")
    args = ap.parse_args()
    global INSIGHT
    INSIGHT = not args.insight_off
    ratios = []
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory() as d:
            whole, steady = one(args.epochs, Path(d))
        ratios.append(whole / steady)
        print(f"round {r + 1}: whole run {whole:,.0f} steps/s, steady chunks {steady:,.0f}"
              f" steps/s: {whole / steady:.0%}", flush=True)
    print(f"median: the whole run at {statistics.median(ratios):.0%} of its steady chunk rate"
          " (goal >= 90%)")
    if len(ratios) > 2:
        # The first round builds its program: the evaluation and the probe compile beside
        # its first epochs. The later rounds reuse it (engine.programs), as a restart in the
        # app does.
        print(f"without the first round (which compiles): {statistics.median(ratios[1:]):.0%}")


if __name__ == "__main__":
    main()
