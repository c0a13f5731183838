"""The synthetic task and the seed's batch layout, in numpy only (no TensorFlow here).

X_t is a fair coin and P(Y_t=1) = base + sum_i delta_i * X_{t-lag_i}. Unlike the seed's
gen_data, which reads X[i-3] at i < 3 from the end of the array, every Y here has a real
history: the series starts max_lag draws of X before its first Y.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from .config import Config, DataConfig, Rules, check_probabilities, check_rules

# Spawn keys that keep the training epochs and the validation series on separate streams.
_TRAIN, _VAL = 0, 1


def generate(size: int, seed: int | np.random.SeedSequence, base: float = 0.5,
             rules: Rules = ((3, 0.5), (8, -0.25))) -> tuple[np.ndarray, np.ndarray]:
    """A series of `size` steps as uint8 arrays (x, y); the same seed gives the same series."""
    rules = check_rules(tuple(rules))
    check_probabilities(base, rules)
    if size < 0:
        raise ValueError(f"size: {size} is negative; it must be >= 0")
    rng = np.random.default_rng(seed)
    pad = max((lag for lag, _ in rules), default=0)
    x = rng.integers(0, 2, size=size + pad, dtype=np.uint8)
    # Probabilities are sums of a few deltas: float32 is exact enough and halves the memory.
    p = np.full(size, base, dtype=np.float32)
    for lag, delta in rules:
        p += np.float32(delta) * x[pad - lag: pad - lag + size]
    y = (rng.random(size, dtype=np.float32) < p).view(np.uint8)
    return x[pad:], y


def series_seed(seed: int, stream: int, index: int = 0) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed, stream, index])


def train_series(cfg: DataConfig, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """The training series for an epoch: a new one each epoch (fresh) or always the first."""
    index = epoch if cfg.data_mode == "fresh" else 0
    return generate(cfg.size, series_seed(cfg.seed, _TRAIN, index), cfg.base, cfg.rules)


def val_series(cfg: DataConfig) -> tuple[np.ndarray, np.ndarray]:
    return generate(cfg.val_size, series_seed(cfg.seed, _VAL), cfg.base, cfg.rules)


def windows(series: np.ndarray, batch_size: int, num_steps: int) -> np.ndarray:
    """The seed's gen_batch as one reshape: shape (num_batches, batch_size, num_steps).

    Row b of batch i+1 continues row b of batch i, so a carried state stays meaningful.
    The tail that does not fill a whole window is dropped, as in the seed.
    """
    part = len(series) // batch_size
    n = part // num_steps
    if n == 0:
        need = batch_size * num_steps
        raise ValueError(f"size: {len(series)} is too small for one batch (needs {need})")
    rows = series[: batch_size * part].reshape(batch_size, part)
    return rows[:, : n * num_steps].reshape(batch_size, n, num_steps).transpose(1, 0, 2)


def unwindow(batches: np.ndarray) -> np.ndarray:
    """Inverse of `windows` for per-position values: back to (batch_size, steps) rows."""
    n, b, t = batches.shape
    return batches.transpose(1, 0, 2).reshape(b, n * t)


class EpochFeed:
    """Training windows per epoch, the next epoch's series made ahead in a thread.

    numpy's generators release the GIL while they fill arrays, so making the next series
    overlaps the TensorFlow work of the current epoch and training never waits on data.
    """

    def __init__(self, config: Config):
        self.config = config
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rnntui-data")
        self._next: dict[int, Future] = {}
        self._fixed: tuple[np.ndarray, np.ndarray] | None = None

    def _make(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        t = self.config.train
        x, y = train_series(self.config.data, epoch)
        return windows(x, t.batch_size, t.num_steps), windows(y, t.batch_size, t.num_steps)

    def epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) windows for `epoch`; starts making epoch+1 before returning."""
        if self.config.data.data_mode == "fixed":
            if self._fixed is None:
                self._fixed = self._make(0)
            return self._fixed
        fut = self._next.pop(epoch, None)
        out = fut.result() if fut is not None else self._make(epoch)
        if epoch + 1 < self.config.train.epochs:
            self._next[epoch + 1] = self._pool.submit(self._make, epoch + 1)
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def rule_combinations(x: np.ndarray, rules: Rules) -> np.ndarray:
    """For each position t, which combination of the rule lags' X values precedes it.

    codes[t] has bit i set when X[t-lag_i] = 1 (lags in rule order); -1 where t < max_lag,
    whose history lies before the series.
    """
    pad = max((lag for lag, _ in rules), default=0)
    codes = np.full(len(x), -1, dtype=np.int64)
    if len(x) > pad:
        c = np.zeros(len(x) - pad, dtype=np.int64)
        for i, (lag, _) in enumerate(rules):
            c |= x[pad - lag: len(x) - lag].astype(np.int64) << i
        codes[pad:] = c
    return codes
