"""Training from a data file against training from the generator on the same series, in one
run; then how long a file's empirical floors take, by length, vocabulary and window.

The peer is rnntui's own generator: the same config, the same series (the generator's
training and validation series written to an .npz), alternated so drift hits both. Rates
are medians of per-call steps/s after warm-up (bench/train_speed.ours).

    python bench/file_speed.py            # 4M-step series, rnn 16; floors up to 10M steps
    python bench/file_speed.py --quick    # smaller
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from train_speed import ours  # noqa: E402

from rnntui.config import Config  # noqa: E402
from rnntui.data import empirical  # noqa: E402
from rnntui.data.datafile import load  # noqa: E402
from rnntui.data.generator import generate
from rnntui.data.source import (  # noqa: E402
    floors,  # noqa: E402
    train_series,
    val_series,
)


def training(size: int, reps: int) -> None:
    cfg = Config().with_values(cell="rnn", state_size=16, num_steps=10, batch_size=32,
                               optimizer="adam", learning_rate=0.01, size=size,
                               val_size=size // 20, data_mode="fixed", epochs=1)
    x, y = (np.concatenate(p) for p in zip(train_series(cfg.data, 0), val_series(cfg.data),
                                           strict=True))
    path = os.path.join(tempfile.mkdtemp(), "s.npz")
    np.savez(path, x=x, y=y)
    from_file = cfg.with_values(data_file=path, val_fraction=(size // 20) / len(y))
    gen, fil = [], []
    for _ in range(reps):
        gen.append(ours(cfg))
        fil.append(ours(from_file))
    g, f = statistics.median(gen), statistics.median(fil)
    print(f"train {size:,} steps, rnn 16: generator {g:,.0f} steps/s, file {f:,.0f} steps/s,"
          f" file/generator {f / g:.3f}  (medians of {reps})")


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def floor_times(n: int) -> None:
    x, y = generate(n, 5)
    path = os.path.join(tempfile.mkdtemp(), "s.npz")
    np.savez(path, x=x, y=y)
    t_load, _ = timed(lambda: load(path))
    t_fl, fl = timed(lambda: floors(Config().with_values(data_file=path).data))
    names = "  ".join(f"{f.name} {f.loss:.4f}" for f in fl)
    print(f"floors of the seed task, {n:,} steps: load {t_load:.2f} s, floors {t_fl:.2f} s"
          f" ({names})")
    rng = np.random.default_rng(0)
    for v in (2, 4, 16, 64):
        for m in (n // 10, n):
            s = rng.integers(0, v, m + 1).astype(np.uint8)
            t, w = timed(lambda s=s, m=m, v=v: empirical.windows(s[:-1], s[1:], m - m // 10,
                                                                 v, v))
            print(f"  vocabulary {v:3d}, {m:>11,} steps: {len(w.losses):2d} windows"
                  f" (0..{len(w.losses) - 1}) in {t:.2f} s, {t / len(w.losses) * 1e3:.0f} ms"
                  " a window")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--reps", type=int, default=5, help="runs of each, alternated")
    p.add_argument("--no-floors", action="store_true", help="time the training only")
    a = p.parse_args()
    training(200_000 if a.quick else 4_000_000, a.reps)
    if not a.no_floors:
        floor_times(1_000_000 if a.quick else 10_000_000)


if __name__ == "__main__":
    main()
