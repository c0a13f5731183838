"""What the insight measurements (lag effects, gradient reach, hidden state) cost training.

    python bench/insight_cost.py [--rounds 5] [--case default --case r2rt-long ...]

The same run with insight on and off (engine.train(insight=...)), alternating in one process so
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
import time

from rnntui.config import preset
from rnntui.core.events import Compiled, Finished, Insight
from rnntui.engine import train
from rnntui.engine import trainer as trainer_module
from rnntui.insight import schedule
from rnntui.runs.report import dumps

CASES = {
    "default": ("default", {}),
    "r2rt": ("r2rt", {}),
    "default-long": ("default", {"epochs": 40}),
    "r2rt-long": ("r2rt", {"size": 20_000_000}),
}


class TimedInsights(schedule.Insights):
    """The trainer's Insights, timed: what measuring took of the training wall time is a
    steadier number than the ratio of two runs on a busy machine."""

    spent = 0.0

    def take(self, *args):
        t0 = time.perf_counter()
        try:
            return super().take(*args)
        finally:
            TimedInsights.spent += time.perf_counter() - t0


trainer_module.Insights = TimedInsights


def one(name: str, insight: bool) -> tuple[float, float, int, float]:
    """(steps/s, compile seconds, Insight events, share of the training wall measuring and
    serialising Insight events took) of one run."""
    seen, compiled = [], []
    TimedInsights.spent = 0.0

    def on(event):
        t0 = time.perf_counter()
        dumps(event.to_json())
        if isinstance(event, Insight):
            seen.append(event)
            TimedInsights.spent += time.perf_counter() - t0
        elif isinstance(event, Compiled):
            compiled.append(event.seconds)

    base, values = CASES[name]
    final = train(preset(base).with_values(**values), on, insight=insight)
    if not isinstance(final, Finished):
        raise SystemExit(f"{name}: the run ended with {final.kind}")
    return final.steps_per_sec, compiled[0], len(seen), TimedInsights.spent / final.wall_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="runs of each (default: 5)")
    ap.add_argument("--case", action="append", choices=list(CASES),
                    help="repeatable (default: all)")
    args = ap.parse_args()
    for name in args.case or list(CASES):
        rates: dict[bool, list[float]] = {True: [], False: []}
        compiles: dict[bool, list[float]] = {True: [], False: []}
        shares: list[float] = []
        for r in range(args.rounds):
            for on in (r % 2 == 0, r % 2 != 0):  # alternate which goes first
                rate, comp, n, share = one(name, on)
                rates[on].append(rate)
                compiles[on].append(comp)
                shares.append(share) if on else None
                print(f"{name} round {r + 1} insight {'on ' if on else 'off'}: {rate:,.0f} "
                      f"steps/s, compiled in {comp:.2f}s"
                      + (f" ({n} Insight events, {share:.1%} of the wall)" if on else ""),
                      flush=True)
        on_, off = statistics.median(rates[True]), statistics.median(rates[False])
        paired = statistics.median(a / b for a, b in zip(rates[True], rates[False],
                                                                     strict=True))
        print(f"{name}: median {on_:,.0f} steps/s with insight, {off:,.0f} without: "
              f"{on_ / off:.1%} (median of the rounds' on/off: {paired:.1%}); compile "
              f"{statistics.median(compiles[True]):.2f}s vs "
              f"{statistics.median(compiles[False]):.2f}s; measuring took a median "
              f"{statistics.median(shares):.1%} of the training wall time", flush=True)


if __name__ == "__main__":
    main()
