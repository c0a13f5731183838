"""Exact loss floors of the task and the verdict read from a loss (pure Python).

A floor is the expected cross-entropy (nats) of the best predictor that knows the X values
at a subset S of the rule lags: H(Y | X_{t-l}, l in S), by enumerating every combination.
The floors are nested in lag order: nothing, the first lag, the first two, ..., all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from itertools import product

from ..config import Rules
from ..core.verdict import Floor, Verdict, loss_fraction


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


def window_floor(base: float, rules: Rules, num_steps: int, stride: int | None = None) -> float:
    """The training loss of the best model that sees only its own window (state reset
    every batch), under the truncation style: the loss is taken on a window's last
    `stride` positions (all num_steps when None: the seed's windows).

    Position j of a window (0-based) sees X_{t-j}..X_t, so it knows the lags <= j.
    For the seed with num_steps 5: 0.6 * 0.6616 + 0.4 * 0.5192 = 0.605; with stride 1
    (even) only position 4 counts, which knows t-3: 0.5192.
    """
    rules = tuple(sorted(rules))
    total = 0.0
    stride = stride or num_steps
    for j in range(num_steps - stride, num_steps):
        known = tuple(i for i, (lag, _) in enumerate(rules) if lag <= j)
        total += conditional_entropy(base, rules, known)
    return total / stride


def achievable(rules: Rules, num_steps: int, carry: bool) -> tuple[float, ...]:
    """Per rule (in lag order), the effect a model of this config can reach: the delta; with
    carry_state off, only the positions whose window holds the lag see it, (n - k)/n of
    them (the measured effect averages over window positions), and none beyond the window."""
    out = []
    for lag, delta in sorted(rules):
        if carry:
            out.append(float(delta))
        else:
            out.append(float(delta) * max(0, num_steps - lag) / num_steps)
    return tuple(out)


def verdict(loss: float, base: float, rules: Rules, fl: list[Floor] | None = None,
            effects: Sequence[float] | None = None, effects_se: Sequence[float] | None = None,
            num_steps: int = 1, carry: bool = True, step: int = -1) -> Verdict:
    """Per rule lag, the learned fraction: the measured effect (`effects`, indexed by lag,
    as Insight.effects; with `effects_se` its standard errors) over what the config can
    reach (`achievable`); nan where nothing was measured or nothing can be reached. The
    loss's own view (loss_fraction) is read off the floors `fl`."""
    rules = tuple(sorted(rules))
    fl = fl if fl is not None else floors(base, rules)
    lags, deltas = tuple(lag for lag, _ in rules), tuple(float(d) for _, d in rules)
    reach = achievable(rules, num_steps, carry)
    measured = tuple(float(effects[lag]) if effects is not None and lag < len(effects)
                     else math.nan for lag in lags)
    se = tuple(float(effects_se[lag]) if effects_se is not None and lag < len(effects_se)
               else 0.0 for lag in lags)
    # A rule whose delta is 0 has nothing to learn: learned for free.
    fractions = tuple(1.0 if d == 0 and effects is not None else
                      e / r if r != 0 and math.isfinite(e) else math.nan
                      for e, r, d in zip(measured, reach, deltas, strict=True))
    fractions_se = tuple(s / abs(r) if r != 0 else 0.0 for s, r in zip(se, reach, strict=True))
    v = Verdict(fractions, (), lags, measured if effects is not None else (), deltas,
                fractions_se=fractions_se, achievable=reach,
                loss_fraction=loss_fraction(loss, fl), step=step)
    learned = tuple(lag for i, lag in enumerate(lags) if v.state(i) == "learned")
    return replace(v, learned=learned)
