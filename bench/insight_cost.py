"""What the insight measurements (lag effects, gradient reach, hidden state) cost training.

    python bench/insight_cost.py [--rounds 3] [--preset default --preset r2rt]

The same run with insight on and off (Trainer(insight=...)), alternating in one process so
that both see the same machine; every event is serialised as `rnntui train --json` does.
Speed is the run's own steps/s (batches over the training wall time, epoch-end
evaluation and measurements included, compile excluded). Prints medians and on/off, and
the compile time (the probe's programs are made ready on the compile thread).
"""

from __future__ import annotations

import argparse
import statistics

from rnntui.config import preset
from rnntui.events import Compiled, Finished, Insight
from rnntui.report import dumps
from rnntui.train import Trainer


def one(name: str, insight: bool) -> tuple[float, float, int]:
    """(steps/s, compile seconds, Insight events) of one run of a preset."""
    seen, compiled = [], []

    def on(event):
        dumps(event.to_json())
        if isinstance(event, Insight):
            seen.append(event)
        elif isinstance(event, Compiled):
            compiled.append(event.seconds)

    final = Trainer(preset(name), on, insight=insight).run()
    if not isinstance(final, Finished):
        raise SystemExit(f"{name}: the run ended with {final.kind}")
    return final.steps_per_sec, compiled[0], len(seen)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="runs of each (default: 3)")
    ap.add_argument("--preset", action="append", help="presets (default: default and r2rt)")
    args = ap.parse_args()
    for name in args.preset or ["default", "r2rt"]:
        rates: dict[bool, list[float]] = {True: [], False: []}
        compiles: dict[bool, list[float]] = {True: [], False: []}
        for r in range(args.rounds):
            for on in (r % 2 == 0, r % 2 != 0):  # alternate which goes first
                rate, comp, n = one(name, on)
                rates[on].append(rate)
                compiles[on].append(comp)
                print(f"{name} round {r + 1} insight {'on ' if on else 'off'}: {rate:,.0f} "
                      f"steps/s, compiled in {comp:.2f}s"
                      + (f" ({n} Insight events)" if on else ""), flush=True)
        on_, off = statistics.median(rates[True]), statistics.median(rates[False])
        print(f"{name}: median {on_:,.0f} steps/s with insight, {off:,.0f} without: "
              f"{on_ / off:.1%}; compile {statistics.median(compiles[True]):.2f}s vs "
              f"{statistics.median(compiles[False]):.2f}s", flush=True)


if __name__ == "__main__":
    main()
