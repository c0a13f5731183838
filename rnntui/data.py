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

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from .config import Config, DataConfig, Rules, check_probabilities, check_rules

# Spawn keys that keep the training epochs and the validation series on separate streams.
_TRAIN, _VAL = 0, 1
SLAB_STEPS = 1 << 20  # series steps per slab of the feed: ~25 MB of temporaries at most
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
        the CPU's cache. A 1M-step slab of 200 rows took 8.4 ms instead of 14.1, and 10M
        steps of one row 77 ms instead of 143 (here); the trainer's data thread had taken
        a third of a core from the app at r2rt's 17M series steps a second."""
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
    return _whole(Series(seed, base, rules), size)


def _whole(series: Series, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Steps 0 .. size of a series, made in pieces of _BLOCK steps."""
    x, y = np.empty(size, np.uint8), np.empty(size, np.uint8)
    for s in range(0, size, _BLOCK):
        n = min(_BLOCK, size - s)
        x[s:s + n], y[s:s + n] = (a[0] for a in series.rows(np.array([s]), n))
    return x, y


def series_seed(seed: int, stream: int, index: int = 0) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed, stream, index])


def train_series_of(cfg: DataConfig, epoch: int) -> Series:
    """The training series for an epoch: a new one each epoch (fresh) or always the first;
    with a data file, the file's training part (source.FileSeries)."""
    if cfg.data_file:
        from .source import FileSeries

        return FileSeries(cfg, epoch)
    index = epoch if cfg.data_mode == "fresh" else 0
    return Series(series_seed(cfg.seed, _TRAIN, index), cfg.base, cfg.rules)


def train_series(cfg: DataConfig, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """The whole training series of an epoch, in memory (the trainer streams it instead)."""
    return _whole(train_series_of(cfg, epoch), cfg.size)


def val_series(cfg: DataConfig) -> tuple[np.ndarray, np.ndarray]:
    if cfg.data_file:
        from .source import val_part

        return val_part(cfg)
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
    """Training windows in slabs of about SLAB_STEPS series steps, the next slab made ahead
    in a thread (across epoch ends too), so memory stays bounded for any series length.

    numpy's array work releases the GIL, so making the next slab overlaps the TensorFlow
    work on the current one and training does not wait on data.
    """

    def __init__(self, config: Config, chunk: int = 1):
        self.config = config
        t = config.train
        self.chunk = chunk
        self.part = config.data.size // t.batch_size  # steps per row, as in windows()
        self.batches = self.part // t.num_steps  # per epoch
        per_batch = t.batch_size * t.num_steps
        self.slab = chunk * max(1, SLAB_STEPS // (chunk * per_batch))  # batches per slab
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rnntui-data")
        self._next: dict[tuple[int, int], Future] = {}

    def _make(self, epoch: int, s0: int) -> tuple[np.ndarray, np.ndarray]:
        t = self.config.train
        s1 = min(s0 + self.slab, self.batches)
        starts = np.arange(t.batch_size, dtype=np.int64) * self.part + s0 * t.num_steps
        x, y = train_series_of(self.config.data, epoch).rows(starts, (s1 - s0) * t.num_steps)
        shape = (t.batch_size, s1 - s0, t.num_steps)
        return tuple(np.ascontiguousarray(a.reshape(shape).transpose(1, 0, 2)) for a in (x, y))

    def _take(self, epoch: int, s0: int) -> tuple[np.ndarray, np.ndarray]:
        fut = self._next.pop((epoch, s0), None)
        out = fut.result() if fut is not None else self._make(epoch, s0)
        nxt = (epoch, s0 + self.slab) if s0 + self.slab < self.batches else (epoch + 1, 0)
        if nxt[0] < self.config.train.epochs and nxt not in self._next:
            self._next[nxt] = self._pool.submit(self._make, *nxt)
        return out

    def chunks(self, epoch: int, start: int = 0) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(first batch, x, y) for chunks of up to `chunk` batches of an epoch, from batch
        `start` on; x and y have shape (batches, batch_size, num_steps)."""
        for s0 in range(start, self.batches, self.slab):
            xs, ys = self._take(epoch, s0)
            for c0 in range(0, len(xs), self.chunk):
                yield s0 + c0, xs[c0:c0 + self.chunk], ys[c0:c0 + self.chunk]

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
