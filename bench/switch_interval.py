"""What the app's GIL switch interval (rnntui/tui/run.py: 1 ms, Python's default 5 ms)
costs training: the same config trained in the app (bench/app_speed.py's in_app) and
headless, under each interval, alternating in one process.

    python bench/switch_interval.py [--rounds 3]

The shorter interval hands the GIL to the UI thread sooner when it waits for it, which is
what took ctrl+p from ~400 ms p90 to ~75 ms while training (bench/terminal.py); this bench
says what the training thread pays for handing it over more often.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys

from app_speed import headless, in_app

from rnntui.tui.run import SWITCH_INTERVAL_S

DEFAULT_S = 0.005  # Python's


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (default: 3)")
    args = ap.parse_args()
    got: dict[tuple[str, float], list[float]] = {}
    for r in range(args.rounds):
        order = (DEFAULT_S, SWITCH_INTERVAL_S) if r % 2 == 0 else (SWITCH_INTERVAL_S, DEFAULT_S)
        for interval in order:
            sys.setswitchinterval(interval)
            for where, fn in (("app", lambda: asyncio.run(in_app())[0]), ("headless", headless)):
                rate = fn()
                got.setdefault((where, interval), []).append(rate)
                print(f"round {r + 1}: {where} at {interval * 1000:g} ms: {rate:,.0f} steps/s",
                      flush=True)
    sys.setswitchinterval(DEFAULT_S)
    for where in ("app", "headless"):
        a = statistics.median(got[(where, SWITCH_INTERVAL_S)])
        b = statistics.median(got[(where, DEFAULT_S)])
        print(f"{where}: {a:,.0f} steps/s at {SWITCH_INTERVAL_S * 1000:g} ms, {b:,.0f} at "
              f"{DEFAULT_S * 1000:g} ms (medians of {args.rounds}): {a / b:.1%}")


if __name__ == "__main__":
    main()
