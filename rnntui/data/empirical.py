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

from ..core.verdict import LEARNED, Floor, Verdict, loss_fraction

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

    def window_floor(self, num_steps: int, stride: int | None = None) -> float:
        """A model reset every batch: position j of a window sees the last j+1 inputs; the
        loss on a window's last `stride` positions (baselines.window_floor)."""
        last, stride = len(self.losses) - 1, stride or num_steps
        return sum(self.losses[min(j + 1, last)]
                   for j in range(num_steps - stride, num_steps)) / stride


def windows(x: np.ndarray, y: np.ndarray, n_train: int, vx: int, vy: int) -> Windows:
    """The windows' losses for codes x (0..vx-1) and y (0..vy-1); positions from n_train on
    are the validation part. Both parts must be non-empty."""
    n_fit = n_train - max(1, n_train // 10)  # the inner split that chooses the weights
    top = 0  # the widest window counted in dense tables
    while top < MAX_WINDOW and vx ** (top + 1) * vy <= _BINS and vx ** (top + 1) <= n_train:
        top += 1
    code = _rolling(x, top, vx)
    losses, p_fit, p_all = _dense(code * vy + y, n_fit, n_train, top, vx, vy)
    if len(losses) == top + 1:  # still populated: wider windows, counted position by position
        losses += _sparse(x, y, code, n_fit, n_train, top, vx, vy, p_fit, p_all)
    return Windows(tuple(losses), _floors(losses))


def _dense(joint, n_fit, n_train, top, vx, vy):
    """Windows 0..top from count tables: (losses, the last window's probability tables fitted
    on the fit part and on the whole training part).

    Counted once, at window `top`; window k-1's tables sum window k's over its oldest input
    (a code's highest digit). Every loss is a sum over the table's cells weighted by the
    validation counts, so the cost per window is its table's size, not the file's length."""
    size = vx ** top * vy
    tables = [tuple(np.bincount(joint[a:b], minlength=size).reshape(-1, vy)
                    for a, b in ((0, n_fit), (n_fit, n_train), (n_train, len(joint))))]
    for _ in range(top):
        tables.append(tuple(t.reshape(vx, -1, vy).sum(0) for t in tables[-1]))
    tables.reverse()  # tables[k]: (fit, inner, validation) counts of window k
    n_val = len(joint) - n_train
    p_fit = p_all = np.full((1, vy), 1.0 / vy)  # window -1: every target alike
    losses: list[float] = []
    for k, (fit, inner, val) in enumerate(tables):
        whole = fit + inner
        whole_c = whole.sum(1, keepdims=True)
        if k and val.sum(1)[whole_c[:, 0] >= MIN_SEEN].sum() < POPULATED * n_val:
            break
        # The shorter window's prediction, for every context of this window.
        prior_fit, prior_all = (np.broadcast_to(p, (vx if k else 1, *p.shape)).reshape(-1, vy)
                                for p in (p_fit, p_all))
        fit_c = fit.sum(1, keepdims=True)
        a = _choose(fit, fit_c, prior_fit, inner)
        p_fit = (fit + a * prior_fit) / (fit_c + a)
        p_all = (whole + a * prior_all) / (whole_c + a)
        seen = val > 0
        losses.append(float(-(val[seen] * np.log(p_all[seen])).sum() / n_val))
    return losses, p_fit, p_all


def _choose(fit, fit_c, prior, inner) -> float:
    """The prior weight whose model, fitted on `fit`, predicts the `inner` counts best."""
    seen = inner > 0
    j, c = fit[seen], np.broadcast_to(fit_c, fit.shape)[seen]
    q, w = prior[seen], inner[seen]
    scores = [-(w * np.log((j + a * q) / (c + a))).sum() for a in _PRIORS]
    return float(_PRIORS[int(np.argmin(scores))])


def _sparse(x, y, code, n_fit, n_train, top, vx, vy, p_fit, p_all) -> list[float]:
    """Windows top+1 .. while populated, position by position: the contexts and pairs seen
    are renumbered by sorting (seconds for ten million steps)."""
    n = len(y)
    y64 = y.astype(np.int64)
    inner = np.arange(n_fit, n_train)
    if len(inner) > _CHOOSE_ON:
        inner = np.sort(np.random.default_rng(0).choice(inner, _CHOOSE_ON, replace=False))
    outer = np.arange(n_train, n)
    prev_in = p_fit[code[inner], y64[inner]]
    prev_out = p_all[code[outer], y64[outer]]
    ctx, losses = code, []
    for k in range(top + 1, MAX_WINDOW + 1):
        ctx = ctx * vx  # ctx < n here (renumbered), so this stays far from overflow
        ctx[k - 1:] += x[: n - k + 1]  # X_{t-k+1}; before the file's start, symbol 0
        # One sort renumbers both: sorted (context, target) pairs come grouped by context.
        pairs, joint = np.unique(ctx * vy + y64, return_inverse=True)
        joint = joint.reshape(-1)
        pair_ctx = np.cumsum(np.diff(pairs // vy, prepend=-1) != 0) - 1  # context of a pair
        n_ctx, ctx = int(pair_ctx[-1]) + 1, pair_ctx[joint]
        fit_j = np.bincount(joint[:n_fit], minlength=len(pairs))
        fit_c = np.bincount(ctx[:n_fit], minlength=n_ctx)
        all_j = fit_j + np.bincount(joint[n_fit:n_train], minlength=len(pairs))
        all_c = fit_c + np.bincount(ctx[n_fit:n_train], minlength=n_ctx)
        c_out = all_c[ctx[outer]]
        if np.mean(c_out >= MIN_SEEN) < POPULATED:
            break
        jn, cn = fit_j[joint[inner]], fit_c[ctx[inner]]
        a = _PRIORS[int(np.argmin([_xent(jn, cn, prev_in, a) for a in _PRIORS]))]
        prev_in = (jn + a * prev_in) / (cn + a)
        prev_out = (all_j[joint[outer]] + a * prev_out) / (c_out + a)
        losses.append(float(-np.mean(np.log(prev_out))))
    return losses


def _rolling(x: np.ndarray, k: int, v: int) -> np.ndarray:
    """code[t] = sum over j < k of X_{t-j} v^j (symbol 0 before the start), as int64, by
    doubling: about log2(k) passes over the series instead of k. The passes run in int32
    (codes below _BINS fit) with their temporaries reused: this is the floors' biggest cost."""
    n = len(x)
    small = np.int32 if v ** k < 2 ** 31 else np.int64
    out = np.zeros(n, dtype=small)
    block, width = x.astype(small), 1  # block[t] codes the `width` inputs ending at t
    tmp = np.empty(n, dtype=small)
    done = 0  # out codes the `done` most recent inputs
    while k:
        if k & 1 and done < n:  # out gains `width` older inputs: those ending at t - done
            np.multiply(block[: n - done], small(v ** done), out=tmp[: n - done])
            out[done:] += tmp[: n - done]
        if k & 1:
            done += width
        k >>= 1
        if k and width < n:
            np.multiply(block[: n - width], small(v ** width), out=tmp[: n - width])
            block[width:] += tmp[: n - width]  # in place: numpy buffers the overlap
            width *= 2
        elif k:
            width *= 2
    return out.astype(np.int64)


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
    """Per floor step (window a down to window b), the fraction the loss has covered: a
    file has no rule to measure an effect against, so this is the loss's view, by window."""
    fractions = []
    for hi, lo in zip(floors, floors[1:], strict=False):
        if not math.isfinite(loss):
            frac = 0.0
        else:
            frac = min(1.0, max(0.0, (hi.loss - loss) / (hi.loss - lo.loss)))
        fractions.append(frac)
    ks = tuple(window_of(f) for f in floors[1:])
    learned = tuple(k for k, f in zip(ks, fractions, strict=True) if f >= LEARNED)
    return Verdict(tuple(fractions), learned, ks, prefix="window ",
                   loss_fraction=loss_fraction(loss, floors))
