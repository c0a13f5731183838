"""The synthetic task and the seed's batch layout, in numpy only (no TensorFlow here).

X_t is a fair coin and P(Y_t=1) = base + sum_i delta_i * X_{t-lag_i}. Unlike the seed's
gen_data, which reads X[i-3] at i < 3 from the end of the array, every Y here has a real
history: X exists before the series' first step.

Every draw is a pure function of (key, position): SplitMix64 (the generator behind Java's
SplittableRandom) evaluated at the position, so any stretch of a series can be made on its
own. That is what lets a 100M-step epoch be fed in slabs of about a million steps, each
row's stretch made when it is needed, with memory that does not grow with the series.
"""

from __future__ import annotations

import numpy as np

from ..config import Rules, check_probabilities, check_rules

# Spawn keys that keep the training epochs and the validation series on separate streams.
TRAIN_STREAM, VAL_STREAM = 0, 1
_BLOCK = 1 << 20  # steps per piece when `generate` makes a long series
_CACHE_STEPS = 1 << 16  # steps per block of Series.rows: its temporaries fit the cache
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix(key: np.uint64, pos: np.ndarray) -> np.ndarray:
    """SplitMix64's output number pos+1 for seed `key`, for every position at once."""
    z = pos.astype(np.uint64)  # negative positions (the history) wrap, which is fine
    z += np.uint64(1)
    z *= _GOLDEN
    z += key
    z ^= z >> np.uint64(30)
    z *= _MIX1
    z ^= z >> np.uint64(27)
    z *= _MIX2
    z ^= z >> np.uint64(31)
    return z


def _seed_sequence(seed: int | np.random.SeedSequence) -> np.random.SeedSequence:
    return seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)


class Series:
    """One series of the task, any stretch of it on demand.

    X_t is the top bit of one SplitMix64 output and Y_t compares 24 bits of another with
    P(Y_t=1), so P(Y_t=1) is exact for probabilities that are multiples of 2^-24.
    """

    def __init__(self, seed: int | np.random.SeedSequence, base: float = 0.5,
                 rules: Rules = ((3, 0.5), (8, -0.25))):
        self.rules = check_rules(tuple(rules))
        check_probabilities(base, self.rules)
        self.base = base
        self.pad = max((lag for lag, _ in self.rules), default=0)
        self.kx, self.ky = _seed_sequence(seed).generate_state(2, np.uint64)

    def rows(self, starts: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of shape (len(starts), length): row i is steps starts[i] .. +length.

        Made in blocks of about _CACHE_STEPS steps: the hash's dozen passes then stay in
        the CPU's cache, and the slab takes about half the time it took whole; at r2rt's
        pace the data thread had taken much of a core from the app (bench/terminal.py)."""
        starts = np.asarray(starts, dtype=np.int64)
        cols = max(1, _CACHE_STEPS // max(1, len(starts)))
        if length <= cols:
            return self._rows(starts, length)
        x = np.empty((len(starts), length), np.uint8)
        y = np.empty_like(x)
        for c in range(0, length, cols):
            n = min(cols, length - c)
            x[:, c:c + n], y[:, c:c + n] = self._rows(starts + c, n)
        return x, y

    def inputs(self, length: int) -> np.ndarray:
        """X at positions -pad .. length - 1: the series' inputs with the history before its
        first step that its first Ys depend on (pad = the largest rule lag)."""
        out = np.empty(self.pad + length, np.uint8)
        for s in range(-self.pad, length, _BLOCK):
            pos = np.arange(s, min(s + _BLOCK, length), dtype=np.int64)
            out[s + self.pad:s + self.pad + len(pos)] = (_splitmix(self.kx, pos)
                                                         >> np.uint64(63)).astype(np.uint8)
        return out

    def _rows(self, starts: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
        pos = starts[:, None] + np.arange(-self.pad, length)
        xe = (_splitmix(self.kx, pos) >> np.uint64(63)).astype(np.uint8)
        # Probabilities are sums of a few deltas: float32 is exact enough and halves memory.
        p = np.full((len(pos), length), self.base, dtype=np.float32)
        for lag, delta in self.rules:
            p += np.float32(delta) * xe[:, self.pad - lag: self.pad - lag + length]
        u = (_splitmix(self.ky, pos[:, self.pad:]) >> np.uint64(40)).astype(np.float32)
        u *= np.float32(2.0 ** -24)
        return xe[:, self.pad:], (u < p).view(np.uint8)


def generate(size: int, seed: int | np.random.SeedSequence, base: float = 0.5,
             rules: Rules = ((3, 0.5), (8, -0.25))) -> tuple[np.ndarray, np.ndarray]:
    """A series of `size` steps as uint8 arrays (x, y); the same seed gives the same series."""
    if size < 0:
        raise ValueError(f"size: {size} is negative; it must be >= 0")
    return whole(Series(seed, base, rules), size)


def whole(series: Series, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Steps 0 .. size of a series, made in pieces of _BLOCK steps."""
    x, y = np.empty(size, np.uint8), np.empty(size, np.uint8)
    for s in range(0, size, _BLOCK):
        n = min(_BLOCK, size - s)
        x[s:s + n], y[s:s + n] = (a[0] for a in series.rows(np.array([s]), n))
    return x, y


def series_seed(seed: int, stream: int, index: int = 0) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed, stream, index])


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
