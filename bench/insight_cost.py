"""What the insight measurements (lag effects, gradient reach, hidden state) cost training.

    python bench/insight_cost.py [--rounds 3] [--case default --case r2rt-long ...]

The same run with insight on and off (Trainer(insight=...)), alternating in one process so
that both see the same machine; every event is serialised as `rnntui train --json` does.
Speed is the run's own steps/s (batches over the training wall time, epoch-end
evaluation and measurements included, compile excluded). Prints medians and on/off, and
the compile time (the probe's programs are made ready in a thread beside the compile).
The presets train for well under 2 s here, so a fixed cost shows; the -long cases are the
same settings trained longer (the default's epochs stay 0.2 s: an epoch end every 0.2 s).
"""

from __future__ import annotations

import argparse
import statistics

from rnntui.config import preset
from rnntui.events import Compiled, Finished, Insight
from rnntui.report import dumps
from rnntui.train import Trainer

CASES = {
    "default": ("default", {}),
    "r2rt": ("r2rt", {}),
    "default-long": ("default", {"epochs": 40}),
    "r2rt-long": ("r2rt", {"size": 20_000_000}),
}


def one(name: str, insight: bool) -> tuple[float, float, int]:
    """(steps/s, compile seconds, Insight events) of one run of a preset."""
    seen, compiled = [], []

    def on(event):
        dumps(event.to_json())
        if isinstance(event, Insight):
            seen.append(event)
        elif isinstance(event, Compiled):
            compiled.append(event.seconds)

    base, values = CASES[name]
    final = Trainer(preset(base).with_values(**values), on, insight=insight).run()
    if not isinstance(final, Finished):
        raise SystemExit(f"{name}: the run ended with {final.kind}")
    return final.steps_per_sec, compiled[0], len(seen)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="runs of each (default: 3)")
    ap.add_argument("--case", action="append", choices=list(CASES),
                    help="repeatable (default: all)")
    args = ap.parse_args()
    for name in args.case or list(CASES):
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
