"""Time from launch to the app's first paint, against a bare Textual app, in one run.

    python bench/first_paint.py [--runs 5]

Each launch is a fresh interpreter that runs the real app (the same make_app the CLI uses,
TensorFlow preload included) headless, and stops the clock when Textual reports the app
ready: its first screen composed and painted. The peer
is an empty Textual App with a Footer: the floor any Textual app pays. It also checks that
TensorFlow was not imported by then. Target: rnntui's first paint within 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

PROBE = """
import time, sys
t0 = time.perf_counter()
import asyncio
{imports}
async def main():
    app = {factory}
    seen = []
    async with app.run_test(size=(120, 40)):
        # run_test hands over once the app is ready: its first screen composed and painted.
        seen.append((time.perf_counter() - t0, 'tensorflow' in sys.modules))
    print(*seen[0])
asyncio.run(main())
"""

OURS = dict(imports="from rnntui.tui.app import make_app", factory="make_app()")
BARE = dict(imports="from textual.app import App\nfrom textual.widgets import Footer\n"
                    "class Bare(App):\n    def compose(self):\n        yield Footer()",
            factory="Bare()")


def launch(spec: dict) -> tuple[float, bool]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(**spec)], capture_output=True,
                         text=True, check=True, timeout=120)
    seconds, tf = out.stdout.split()
    return float(seconds), tf == "True"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="launches of each (default: 5)")
    args = ap.parse_args()
    ours, bare, tf_seen = [], [], False
    for _ in range(args.runs):
        s, tf = launch(OURS)
        ours.append(s)
        tf_seen |= tf
        bare.append(launch(BARE)[0])
    a, b = statistics.median(ours), statistics.median(bare)
    print(f"first paint: rnntui {a * 1000:.0f} ms, bare Textual app {b * 1000:.0f} ms "
          f"(medians of {args.runs}); rnntui/bare = {a / b:.2f}x; "
          f"TensorFlow imported before first paint: {'YES' if tf_seen else 'no'}")


if __name__ == "__main__":
    main()
