"""Validation predictions as events: a window of the series to show, and per combination
of the rule lags' X values the mean predicted against the true P(Y=1).

Apart from the trainer so it reads top to bottom; numpy only.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.events import Predictions
from ..data.generator import rule_combinations, unwindow, windows

PREDICTION_WINDOW = 120  # positions of the validation series in a predictions event


def prediction_window(windows: int, num_steps: int) -> tuple[int, int]:
    """The validation positions (row 0) a predictions event shows, for that many windows:
    a stretch from the middle of the row, where the carried state has warmed up."""
    start = max(0, min(windows * num_steps - PREDICTION_WINDOW, (windows // 2) * num_steps))
    return start, min(start + PREDICTION_WINDOW, windows * num_steps)


class ComboTable:
    """Turns validation predictions into a Predictions event: a window of the series and,
    per combination of the rule lags' X values, mean predicted vs true P(Y=1)."""

    def __init__(self, vx: np.ndarray, rules, base: float, shape: tuple, part: int,
                 known: bool = True):
        n, b, t = shape
        self.rules, self.base, self.known = rules, base, known  # known: the true P(Y=1)
        codes = rule_combinations(vx, rules)
        pos = np.arange(b)[:, None] * part + np.arange(n * t)[None, :]
        codes = codes[pos]  # (batch_size, n*t), the layout of unwindow()
        valid = codes >= 0
        self.count = np.bincount(codes[valid], minlength=2 ** len(rules))
        # The codes in the evaluation's own layout (windows, batch_size, num_steps), the
        # positions without a code in one more bin: an event sums its probabilities by code
        # with one bincount, without reordering them (short epochs end every 0.1 s).
        laid = np.where(valid, codes, len(self.count)).reshape(b, n, t).transpose(1, 0, 2)
        self.codes = np.ascontiguousarray(laid).ravel()
        self.x = unwindow(windows(vx, b, t))
        self.window = self.start, self.stop = prediction_window(n, t)

    def event(self, step: int, probs: np.ndarray, yw: np.ndarray) -> Predictions:
        """The event for the evaluation's P(Y=1) `probs` and targets `yw`, both laid out as
        the windows (windows, batch_size, num_steps)."""
        sums = np.bincount(self.codes, weights=probs.ravel(), minlength=len(self.count) + 1)
        combos = []
        for c in range(len(self.count) if self.known else 0):
            bits = tuple((c >> i) & 1 for i in range(len(self.rules)))
            true = self.base + sum(d * x for (_, d), x in zip(self.rules, bits, strict=True))
            pred = float(sums[c] / self.count[c]) if self.count[c] else math.nan
            combos.append((bits, pred, float(true)))
        s = slice(self.start, self.stop)
        row0 = slice(s.start // yw.shape[2], -(-s.stop // yw.shape[2]))  # the windows shown
        first = row0.start * yw.shape[2]
        y, p = (a[row0, 0].ravel()[s.start - first:s.stop - first] for a in (yw, probs))
        return Predictions(step, self.x[0, s].tolist(), y.tolist(), np.round(p, 4).tolist(),
                           combos)
