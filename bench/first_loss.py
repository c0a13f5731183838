"""F5 to the first loss on screen, in a real terminal, once TensorFlow is loaded.

    python bench/first_loss.py [--rounds 3] [--preset r2rt --preset fast]

For each preset, `--rounds` times: start `rnntui app --preset P` under tmux (120x40), wait
until it is idle with TensorFlow loaded ("● idle" and the device shown), wait `--after`
seconds (2), then F5 and poll the screen every 3 ms until the status shows a step ("step N/"
with N > 0): the first training of the process, whose program the app makes ahead while it
is idle (rnntui/engine/warm.py) and F5 waits for, queued behind it, if it is still
being made. Then F8, and F5
again: a restart of the same program (reused, nothing to compile). Prints each and the
medians. Goal (issue 10): <= 1 s.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time

from terminal import PYTHON, Pane

STEP = re.compile(r"step [1-9][0-9,]*/")


def one(preset: str, r: int, after: float) -> tuple[float | None, float | None]:
    pane = Pane(f"first-{preset}-{r}", f"{PYTHON} -m rnntui app --preset {preset} "
                "--epochs 1000", tempfile.mkdtemp(prefix="rnntui-fl-"), truecolor=False)
    try:
        assert pane.wait(lambda s: "● idle" in s and "device" in s, 90), "no idle"
        time.sleep(after)
        fresh = pane.press("F5", lambda s: STEP.search(s) is not None, 60)
        pane.keys("F8")
        pane.wait(lambda s: "● stopped" in s, 30)
        time.sleep(1.0)
        again = pane.press("F5", lambda s: STEP.search(s) is not None and "● training" in s,
                           60)
        pane.keys("F8")
        pane.wait(lambda s: "● stopped" in s, 30)
        return fresh, again
    finally:
        pane.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--preset", action="append", help="repeatable (default: r2rt, fast)")
    ap.add_argument("--after", type=float, default=2.0,
                    help="seconds from idle to F5 (default: 2)")
    args = ap.parse_args()
    for preset in args.preset or ["r2rt", "fast"]:
        got: dict[str, list[float]] = {"fresh": [], "restart": []}
        for r in range(args.rounds):
            fresh, again = one(preset, r, args.after)
            print(f"{preset} round {r + 1}: F5 to the first step on screen "
                  f"{fresh if fresh is None else f'{fresh:.2f}'} s (compiling), "
                  f"{again if again is None else f'{again:.2f}'} s (a restart)", flush=True)
            got["fresh"] += [fresh] if fresh is not None else []
            got["restart"] += [again] if again is not None else []
        print(f"{preset}: median {statistics.median(got['fresh']):.2f} s compiling, "
              f"{statistics.median(got['restart']):.2f} s restarting (goal <= 1 s)", flush=True)


if __name__ == "__main__":
    main()
