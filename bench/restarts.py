"""Many restarts in one app session: does each run leave memory behind?

    python bench/restarts.py [--cycles 40]

Starts `rnntui app --preset r2rt --size 20000000 --epochs 50` under tmux (120x40), then
`--cycles` times: F5, 3 s, F8, until the status says stopped, 1.5 s. Prints the resident
memory (VmRSS of /proc/PID/status) after cycles 1, 10, 20, 30 and 40 (and the last), and
the growth over the first. Goal (issue 10): after 40 cycles within 10% of cycle 1.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from terminal import PYTHON, Pane

ARGS = "app --preset r2rt --size 20000000 --epochs 50"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cycles", type=int, default=40)
    args = ap.parse_args()
    pane = Pane("restarts", f"{PYTHON} -m rnntui {ARGS}", tempfile.mkdtemp(prefix="rnntui-rs-"),
                truecolor=False)
    marks = {1, 10, 20, 30, 40, args.cycles}
    try:
        pid = int(pane.tmux("list-panes", "-t", pane.name, "-F", "#{pane_pid}").split()[0])
        assert pane.wait(lambda s: "● idle" in s, 90), "rnntui did not reach idle"
        print(f"rnntui {ARGS}: pid {pid}, {rss_mb(pid):,.0f} MB at idle "
              f"(TensorFlow loaded), load average {os.getloadavg()[0]:.1f}")
        first = None
        for cycle in range(1, args.cycles + 1):
            pane.keys("F5")
            time.sleep(3.0)
            pane.keys("F8")
            if pane.wait(lambda s: "● stopped" in s or "● finished" in s, 30) is None:
                print(f"cycle {cycle}: the run did not stop within 30 s")
            time.sleep(1.5)
            if cycle in marks:
                mb = rss_mb(pid)
                first = first or mb
                print(f"after cycle {cycle:>2}: {mb:7,.0f} MB  ({100 * (mb / first - 1):+5.1f}%)  "
                      f"{threads(pid)} threads", flush=True)
    finally:
        pane.close()


if __name__ == "__main__":
    main()
