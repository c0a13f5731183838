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
PRIME = 40  # its first inputs prime a text's samples (engine.sampling)


def prediction_window(windows: int, num_steps: int) -> tuple[int, int]:
    """The validation positions (row 0) a predictions event shows, for that many windows:
    a stretch from the middle of the row, where the carried state has warmed up."""
    start = max(0, min(windows * num_steps - PREDICTION_WINDOW, (windows // 2) * num_steps))
    return start, min(start + PREDICTION_WINDOW, windows * num_steps)


class ComboTable:
    """Turns validation predictions into a Predictions event: a window of the series and,
    per combination of the rule lags' X values, mean predicted vs true P(Y=1)."""

    def __init__(self, vx: np.ndarray, rules, base: float, shape: tuple, part: int,
                 known: bool = True, text: bool = False, sampled: bool = False):
        """`text`: the series is a file's symbols, shown as text: each event also holds the
        top classes per position; `sampled`: and samples primed with the stretch's start."""
        n, b, t = shape
        self.text, self.sampled = text, text and sampled
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

    @property
    def prime(self) -> list[int]:
        """The codes a sample of this stretch is primed with: its first PRIME inputs."""
        return self.x[0, self.start:self.start + PRIME].tolist() if self.sampled else []

    def event(self, step: int, probs: np.ndarray, yw: np.ndarray, top=None,
              samples: dict[str, list[int]] | None = None) -> Predictions:
        """The event for the evaluation's P(Y=1) `probs` and targets `yw`, both laid out as
        the windows (windows, batch_size, num_steps); `top` (probabilities, classes) laid out
        as they are plus one axis, and `samples` ({temperature: codes}) for text."""
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
        shown = []
        if top is not None and self.text:
            tp, tc = (a[row0, 0].reshape(-1, a.shape[-1])[s.start - first:s.stop - first]
                      for a in top)
            shown = [[[int(c), round(float(q), 4)] for c, q in zip(cs, qs, strict=True)]
                     for cs, qs in zip(tc, tp, strict=True)]
        return Predictions(step, self.x[0, s].tolist(), y.tolist(), np.round(p, 4).tolist(),
                           combos, top=shown, samples=samples or {},
                           prime=self.prime if samples else [])
