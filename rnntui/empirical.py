"""Empirical floors: what a lookup table of the last k inputs achieves on held-out data.

Analytic floors need the true process; a file has none. "window k" is the validation
cross-entropy (nats) of a counting model of Y_t given X_{t-k+1} .. X_t (window 0: given
nothing), fitted on the training part. A recurrent network below "window k" has learned
something beyond its last k inputs.

Each window's model is smoothed toward the window before it (a Dirichlet prior whose mean
is the shorter window's prediction), so a context seen rarely falls back to what a shorter
context knows instead of to a guess. The prior's weight is chosen per window on the
training part only: fitted on its first 90%, scored on its last 10%.

Speed: contexts are integers (a rolling base-V code, renumbered densely when the code
space outgrows a bincount), counted with np.bincount; no Python loop runs per step. The
cost is a few passes over the file per window: windows grow while contexts stay populated,
so a binary file of n steps has about log2(n / 10) windows, and a vocabulary of V symbols
about log_V(n / 10).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .baselines import LEARNED, Floor, Verdict

MAX_WINDOW = 32
MIN_SEEN = 5  # a context seen this often in training counts as populated ...
POPULATED = 0.5  # ... and a window is kept while this share of validation positions has one
STEP = 0.005  # nats: a window is a floor of its own when it beats the last floor by this
_BINS = 1 << 22  # beyond this many (context, target) cells, contexts are renumbered densely
_PRIORS = np.array([0.1, 0.5, 2.0, 8.0, 32.0])  # the prior weights tried
_CHOOSE_ON = 200_000  # validation positions inside the training part that choose the weight


@dataclass(frozen=True)
class Windows:
    """Every window's held-out loss (`losses[k]` for window k) and the floors among them."""

    losses: tuple[float, ...]
    floors: tuple[Floor, ...]  # window 0, then each window that beats the last floor by STEP

    def window_floor(self, num_steps: int) -> float:
        """A model reset every batch: position j of a window sees the last j+1 inputs."""
        last = len(self.losses) - 1
        return sum(self.losses[min(j + 1, last)] for j in range(num_steps)) / num_steps


def windows(x: np.ndarray, y: np.ndarray, n_train: int, vx: int, vy: int) -> Windows:
    """The windows' losses for codes x (0..vx-1) and y (0..vy-1); positions from n_train on
    are the validation part. Both parts must be non-empty."""
    n = len(y)
    n_fit = n_train - max(1, n_train // 10)  # the inner split that chooses the weights
    inner = np.arange(n_fit, n_train)
    if len(inner) > _CHOOSE_ON:
        inner = np.sort(np.random.default_rng(0).choice(inner, _CHOOSE_ON, replace=False))
    outer = np.arange(n_train, n)
    prev_in = np.full(len(inner), 1.0 / vy)
    prev_out = np.full(len(outer), 1.0 / vy)
    losses: list[float] = []
    for fit_j, all_j, fit_c, all_c, j_in, j_out, c_in, c_out in _counts(
            x, y, n_fit, n_train, inner, outer, vx, vy):
        c_out = all_c[c_out]
        if losses and np.mean(c_out >= MIN_SEEN) < POPULATED:
            break
        # The weight that predicts the training part's tail best, from counts before it.
        jn, cn = fit_j[j_in], fit_c[c_in]
        a = _PRIORS[int(np.argmin([_xent(jn, cn, prev_in, a) for a in _PRIORS]))]
        prev_in = (jn + a * prev_in) / (cn + a)
        prev_out = (all_j[j_out] + a * prev_out) / (c_out + a)
        losses.append(float(-np.mean(np.log(prev_out))))
    return Windows(tuple(losses), _floors(losses))


def _counts(x, y, n_fit, n_train, inner, outer, vx, vy):
    """Per window k = 0, 1, ...: the counts of (context, target) and of the context on the fit
    part and on the whole training part, then the (context, target) and the context codes at
    the inner and at the outer positions.

    Up to the widest window K whose table fits in _BINS, the counts are taken once, at K,
    and summed down: window k's context is K's code modulo vx^k (X_t is the lowest digit).
    Wider windows count again, with the contexts and pairs seen renumbered densely (a sort
    each: seconds for ten million steps)."""
    n = len(y)
    y64 = y.astype(np.int64)
    top = 0
    while top < MAX_WINDOW and vx ** (top + 1) * vy <= _BINS and vx ** (top + 1) <= n_train:
        top += 1
    code = _rolling(x, top, vx)
    joint = code * vy + y64
    size = vx ** top * vy
    fit_j = np.bincount(joint[:n_fit], minlength=size)
    all_j = fit_j + np.bincount(joint[n_fit:n_train], minlength=size)
    del joint
    tables = [(fit_j, all_j, fit_j.reshape(-1, vy).sum(1), all_j.reshape(-1, vy).sum(1))]
    for _ in range(top):  # window k-1's tables sum window k's over its oldest input
        tables.append(tuple(t.reshape(vx, -1).sum(0) for t in tables[-1]))
    y_in, y_out = y64[inner], y64[outer]
    for k in range(top + 1):
        c_in, c_out = code[inner] % vx ** k, code[outer] % vx ** k
        yield *tables[top - k], c_in * vy + y_in, c_out * vy + y_out, c_in, c_out
    ctx = code
    del tables
    for k in range(top + 1, MAX_WINDOW + 1):
        ctx = ctx * vx  # ctx < n here (renumbered), so this stays far from overflow
        ctx[k - 1:] += x[: n - k + 1]  # X_{t-k+1}; before the file's start, symbol 0
        # One sort renumbers both: sorted (context, target) pairs come grouped by context.
        pairs, joint = np.unique(ctx * vy + y64, return_inverse=True)
        joint = joint.reshape(-1)
        n_joint = len(pairs)
        pair_ctx = np.cumsum(np.diff(pairs // vy, prepend=-1) != 0) - 1  # context of a pair
        n_ctx, ctx = int(pair_ctx[-1]) + 1, pair_ctx[joint]
        f, fc = (np.bincount(a[:n_fit], minlength=m) for a, m in ((joint, n_joint),
                                                                 (ctx, n_ctx)))
        w = f + np.bincount(joint[n_fit:n_train], minlength=n_joint)
        wc = fc + np.bincount(ctx[n_fit:n_train], minlength=n_ctx)
        yield f, w, fc, wc, joint[inner], joint[outer], ctx[inner], ctx[outer]


def _rolling(x: np.ndarray, k: int, v: int) -> np.ndarray:
    """code[t] = sum over j < k of X_{t-j} v^j (symbol 0 before the start), by doubling:
    about log2(k) passes over the series instead of k."""
    n = len(x)
    out = np.zeros(n, dtype=np.int64)
    block, width = x.astype(np.int64), 1  # block[t] codes the `width` inputs ending at t
    done = 0  # out codes the `done` most recent inputs
    while k:
        if k & 1:  # out gains `width` older inputs: those ending at t - done
            if done < n:
                out[done:] += block[: n - done] * v ** done
            done += width
        k >>= 1
        if k:
            wider = block.copy()
            wider[width:] += block[: n - width] * v ** width
            block, width = wider, width * 2
    return out


def _xent(j: np.ndarray, c: np.ndarray, prior: np.ndarray, a: float) -> float:
    return float(-np.mean(np.log((j + a * prior) / (c + a))))


def _floors(losses: list[float]) -> tuple[Floor, ...]:
    out = [Floor("window 0", losses[0])]
    for k, loss in enumerate(losses[1:], start=1):
        if loss < out[-1].loss - STEP:
            out.append(Floor(f"window {k}", loss))
    return tuple(out)


def window_of(floor: Floor) -> int:
    return int(floor.name.split()[-1])


def verdict(loss: float, floors: list[Floor]) -> Verdict:
    """Per floor step (window a down to window b), the fraction the loss has covered,
    as baselines.verdict does for the rule lags; the steps are named by their window."""
    fractions = []
    for hi, lo in zip(floors, floors[1:], strict=False):
        if not math.isfinite(loss):
            frac = 0.0
        else:
            frac = min(1.0, max(0.0, (hi.loss - loss) / (hi.loss - lo.loss)))
        fractions.append(frac)
    ks = tuple(window_of(f) for f in floors[1:])
    learned = tuple(k for k, f in zip(ks, fractions, strict=True) if f >= LEARNED)
    return Verdict(tuple(fractions), learned, ks, prefix="window ")
