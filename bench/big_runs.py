"""Peak memory of long series: rnntui now (streamed slabs) against rnntui at a peer
revision that made each epoch whole in memory, on the same run, in one go.

    python bench/big_runs.py [--sizes 10000000,100000000] [--peer-rev ade53f0]

Each run is `rnntui train --preset r2rt --size N --epochs 1` in its own process; the peak
RSS comes from that process's own rusage (os.wait4), so runs do not mask each other.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def peak_rss(src: Path, size: int, runs: Path) -> tuple[float, float, int]:
    """(peak RSS in MiB, wall seconds, exit code) of one training run from source `src`."""
    cmd = [sys.executable, "-c", "import sys; from rnntui.cli import main; sys.exit(main())",
           "train", "--preset", "r2rt", "--size", str(size), "--epochs", "1",
           "--runs-dir", str(runs), "--json"]
    env = {**os.environ, "PYTHONPATH": str(src)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=runs, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss / 1024, wall, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000000,100000000")
    ap.add_argument("--peer-rev", default="ade53f0",
                    help="the revision to compare with (default: the last whole-epoch one)")
    ap.add_argument("--no-peer", action="store_true")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        peer = Path(tmp) / "peer"
        if not args.no_peer:
            peer.mkdir()
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.peer_rev,
                                      "rnntui"], check=True, capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(peer)], input=archive, check=True)
        print(f"{'size':>12} {'rnntui MiB':>11} {'s':>6} {'peer MiB':>9} {'s':>6} {'ratio':>6}")
        for size in sizes:
            runs = Path(tmp) / f"runs{size}"
            runs.mkdir()
            ours, wall, rc = peak_rss(ROOT, size, runs)
            line = f"{size:>12_} {ours:>11.0f} {wall:>6.0f}"
            if rc:
                line += f"  (exit {rc})"
            if not args.no_peer:
                theirs, pwall, prc = peak_rss(peer, size, runs)
                line += f" {theirs:>9.0f} {pwall:>6.0f} {ours / theirs:>6.2f}"
                if prc:
                    line += f"  (peer exit {prc})"
            print(line, flush=True)


if __name__ == "__main__":
    main()
