"""Exact loss floors of the task and the verdict read from a loss (pure Python).

A floor is the expected cross-entropy (nats) of the best predictor that knows the X values
at a subset S of the rule lags: H(Y | X_{t-l}, l in S), by enumerating every combination.
The floors are nested in lag order: nothing, the first lag, the first two, ..., all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import product

from ..config import Rules
from ..core.verdict import LEARNED, Floor, Verdict


def _xent(p: float, q: float) -> float:
    """E[-log q(Y)] for Y ~ Bernoulli(p); 0 * log 0 is 0."""
    out = 0.0
    if p > 0:
        out -= p * math.log(q) if q > 0 else math.inf
    if p < 1:
        out -= (1 - p) * math.log(1 - q) if q < 1 else math.inf
    return out


def conditional_entropy(base: float, rules: Rules, known: tuple[int, ...]) -> float:
    """H(Y | X at the rule indices in `known`), in nats."""
    n = len(rules)
    combos = list(product((0, 1), repeat=n))
    probs = [base + sum(d * x for (_, d), x in zip(rules, xs, strict=True)) for xs in combos]
    groups: dict[tuple[int, ...], list[float]] = {}
    for xs, p in zip(combos, probs, strict=True):
        groups.setdefault(tuple(xs[i] for i in known), []).append(p)
    total = 0.0
    for ps in groups.values():
        q = sum(ps) / len(ps)
        total += sum(_xent(p, q) for p in ps)
    return total / len(combos)


def floors(base: float, rules: Rules) -> list[Floor]:
    """The nested floors: nothing, first lag, first two, ..., all (rules sorted by lag)."""
    rules = tuple(sorted(rules))
    out = [Floor("nothing", conditional_entropy(base, rules, ()))]
    for k in range(1, len(rules) + 1):
        name = ",".join(f"t-{lag}" for lag, _ in rules[:k])
        out.append(Floor(name, conditional_entropy(base, rules, tuple(range(k)))))
    return out


def window_floor(base: float, rules: Rules, num_steps: int) -> float:
    """The loss of the best model that sees only its own window (state reset every batch).

    Position j of a window (0-based) sees X_{t-j}..X_t, so it knows the lags <= j.
    For the seed with num_steps 5: 0.6 * 0.6616 + 0.4 * 0.5192 = 0.605.
    """
    rules = tuple(sorted(rules))
    total = 0.0
    for j in range(num_steps):
        known = tuple(i for i, (lag, _) in enumerate(rules) if lag <= j)
        total += conditional_entropy(base, rules, known)
    return total / num_steps


def verdict(loss: float, base: float, rules: Rules, fl: list[Floor] | None = None,
            effects: Sequence[float] | None = None) -> Verdict:
    """Per lag, the fraction of its floor step (floor k-1 down to floor k) the loss has covered.

    `effects`: the model's measured effect of each lag, indexed by lag (Insight.effects);
    the verdict then carries them beside the fractions."""
    rules = tuple(sorted(rules))
    fl = fl if fl is not None else floors(base, rules)
    fractions = []
    for k in range(1, len(fl)):
        hi, lo = fl[k - 1].loss, fl[k].loss
        if not math.isfinite(loss):
            frac = 0.0
        elif hi - lo <= 1e-12:  # a lag that adds nothing is learned for free
            frac = 1.0
        else:
            frac = min(1.0, max(0.0, (hi - loss) / (hi - lo)))
        fractions.append(frac)
    lags = tuple(lag for lag, _ in rules)
    learned = tuple(lag for lag, f in zip(lags, fractions, strict=True) if f >= LEARNED)
    if effects is None:
        return Verdict(tuple(fractions), learned, lags)
    measured = tuple(float(effects[lag]) if lag < len(effects) else math.nan for lag in lags)
    return Verdict(tuple(fractions), learned, lags, measured, tuple(d for _, d in rules))
