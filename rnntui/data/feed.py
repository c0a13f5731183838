"""The training windows of an epoch, fed in slabs made ahead in a thread (rnntui.engine's
trainer reads them chunk by chunk)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..config import Config, effective_stride, windows_per_row
from .source import train_series_of

SLAB_STEPS = 1 << 20  # series steps per slab of the feed: ~25 MB of temporaries at most


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
        self.stride = effective_stride(t)  # a window starts this many steps after the last
        self.batches = windows_per_row(self.part, t.num_steps, self.stride)  # per epoch
        per_batch = t.batch_size * t.num_steps
        self.slab = chunk * max(1, SLAB_STEPS // (chunk * per_batch))  # batches per slab
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rnntui-data")
        self._next: dict[tuple[int, int], Future] = {}

    def _make(self, epoch: int, s0: int) -> tuple[np.ndarray, np.ndarray]:
        t = self.config.train
        s1 = min(s0 + self.slab, self.batches)
        n, stride = t.num_steps, self.stride
        starts = np.arange(t.batch_size, dtype=np.int64) * self.part + s0 * stride
        x, y = train_series_of(self.config.data, epoch).rows(starts, (s1 - s0 - 1) * stride + n)
        if stride == n:  # windows side by side: a reshape
            shape = (t.batch_size, s1 - s0, n)
            return tuple(np.ascontiguousarray(a.reshape(shape).transpose(1, 0, 2))
                         for a in (x, y))
        # Windows that overlap (TBPTT(stride, num_steps)): one every `stride` steps.
        return tuple(np.ascontiguousarray(
            sliding_window_view(a, n, axis=1)[:, ::stride].transpose(1, 0, 2)) for a in (x, y))

    def ahead(self, epoch: int, start: int = 0) -> None:
        """Begin making the slab `chunks(epoch, start)` starts with (a training's first,
        while its program is built: 0.1-0.2 s of the seed's first loss otherwise)."""
        if epoch < self.config.train.epochs and (epoch, start) not in self._next:
            self._next[(epoch, start)] = self._pool.submit(self._make, epoch, start)

    def _take(self, epoch: int, s0: int) -> tuple[np.ndarray, np.ndarray]:
        fut = self._next.pop((epoch, s0), None)
        out = fut.result() if fut is not None else self._make(epoch, s0)
        nxt = (epoch, s0 + self.slab) if s0 + self.slab < self.batches else (epoch + 1, 0)
        if nxt[0] < self.config.train.epochs and nxt not in self._next:
            self._next[nxt] = self._pool.submit(self._make, *nxt)
        return out

    def chunks(self, epoch: int, start: int = 0,
               first: int = 0) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(first batch, x, y) for chunks of up to `chunk` batches of an epoch, from batch
        `start` on; x and y have shape (batches, batch_size, num_steps). `first`: the first
        chunk is cut in two after that many batches (a run's first loss comes sooner)."""
        for s0 in range(start, self.batches, self.slab):
            xs, ys = self._take(epoch, s0)
            for c0 in range(0, len(xs), self.chunk):
                c1 = min(c0 + self.chunk, len(xs))
                if 0 < first < c1 - c0:
                    yield s0 + c0, xs[c0:c0 + first], ys[c0:c0 + first]
                    c0 += first
                first = 0
                yield s0 + c0, xs[c0:c1], ys[c0:c1]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
