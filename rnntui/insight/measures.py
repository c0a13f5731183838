"""The task's truth and the measures' plain arithmetic, by lag (numpy only): which lags are
shown, the rules' own effects, the share of windows reaching a lag, and the LSTM/GRU gates
computed from a layer's weights."""

from __future__ import annotations

import numpy as np

from ..config import Rules

MAX_K = 64  # lags shown at most, whatever the rules


def lags_shown(rules: Rules) -> int:
    """K: the largest lag measured, max(largest rule lag + 4, 12), at most MAX_K."""
    return min(max(max((lag for lag, _ in rules), default=0) + 4, 12), MAX_K)


def true_deltas(rules: Rules, k: int) -> list[float]:
    """The task's own effect of X[t-lag] on P(Y_t=1), for lags 0..k: a rule's delta, else 0."""
    out = [0.0] * (k + 1)
    for lag, delta in rules:
        if lag <= k:
            out[lag] = float(delta)
    return out


def window_share(num_steps: int, k: int, stride: int | None = None) -> list[float]:
    """Share of training positions whose error is backpropagated to lag 0..k. Position j
    (0-based) of a window of n reaches lags 0..j, and the loss is taken on a window's last
    `stride` positions (TBPTT(stride, n); None: all n, the seed's windows, so a share
    (n - lag)/n reaches a lag; 1, even: every error reaches every lag under n). Carrying
    the state does not change it: backprop stops at the window's start either way."""
    stride = stride or num_steps
    return [max(0, num_steps - max(lag, num_steps - stride)) / stride for lag in range(k + 1)]


def reach_horizon(reach: list[float], ref: int, share: float = 0.01) -> int | None:
    """The first lag beyond `ref` (the largest rule lag: the farthest the task needs)
    whose gradient reach is below `share` of the reach at `ref`; None if none is."""
    if ref >= len(reach) or not reach[ref] > 0:
        return None
    return next((k for k in range(ref + 1, len(reach)) if reach[k] < share * reach[ref]), None)


def gates(cell: str, weights: dict, inputs: np.ndarray, h: np.ndarray, h_prev: np.ndarray,
          resets: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The gates of one LSTM/GRU layer over time (rows, steps, units) from its weights, its
    input sequence and the state before each step: what the cell's own call computes,
    without the loop. For the LSTM also its cell state as tanh(c) ("c", first), by the
    cell's recursion c = f c' + i tanh(candidate) from zero at each row's start and at the
    steps in `resets` (the window starts, with carry_state off)."""
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    u = h.shape[-1]
    normed = "gamma_x" in weights  # a layer-normed cell (engine.norm's math)
    if normed:
        pre_x, pre_h = _normed_parts(cell, weights, inputs, h_prev)
    if cell == "lstm":  # Keras's order: input, forget, cell, output
        pre = (pre_x + pre_h + weights["bias"] if normed else
               inputs @ weights["kernel"] + h_prev @ weights["recurrent_kernel"]
               + weights["bias"])
        i, f, o = sig(pre[..., :u]), sig(pre[..., u:2 * u]), sig(pre[..., 3 * u:])
        g = np.tanh(pre[..., 2 * u:3 * u])
        c = np.zeros_like(i)
        reset = np.zeros(h.shape[1], bool) if resets is None else resets
        for t in range(h.shape[1]):
            before = 0.0 if t == 0 or reset[t] else c[:, t - 1]
            c[:, t] = f[:, t] * before + i[:, t] * g[:, t]
        return {"c": np.tanh(c), "i": i, "f": f, "o": o}
    if cell == "gru":  # Keras's order (reset_after): update z, reset r, candidate
        b = weights["bias"]
        pre = ((pre_x if normed else inputs @ weights["kernel"]) + b[0]
               + (pre_h if normed else h_prev @ weights["recurrent_kernel"]) + b[1])
        return {"z": sig(pre[..., :u]), "r": sig(pre[..., u:2 * u])}
    return {}


def _normed_parts(cell: str, weights: dict, inputs: np.ndarray,
                  h_prev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A layer-normed cell's two normalized pre-activations, LN(x W) and LN(h U), each
    gate's part normalized over its units (engine.norm.layer_norm)."""
    gates = {"lstm": 4, "gru": 3}.get(cell, 1)

    def ln(v: np.ndarray, gamma: np.ndarray) -> np.ndarray:
        parts = v.reshape(*v.shape[:-1], gates, v.shape[-1] // gates).astype(np.float64)
        mean = parts.mean(axis=-1, keepdims=True)
        var = ((parts - mean) ** 2).mean(axis=-1, keepdims=True)
        return ((parts - mean) / np.sqrt(var + NORM_EPSILON)).reshape(v.shape) * gamma

    return (ln(inputs @ weights["kernel"], weights["gamma_x"]),
            ln(h_prev @ weights["recurrent_kernel"], weights["gamma_h"]))


NORM_EPSILON = 1e-5  # engine.norm.EPSILON (a test holds them equal)


MEMORY_FEATURES = 32  # a state wider than this is read through its leading components
RIDGE = 1e-2  # the readout's L2 penalty (on standardised features)


def memory(states: np.ndarray, x: np.ndarray, k: int) -> list[float]:
    """Per lag 0..k, how well X[t-lag] can be read out of the state at t: the held-out
    accuracy of a logistic readout fitted on the first half of the positions and scored on
    the second. `states` (positions, features); `x` the inputs from k before the first
    position (length positions + k). States wider than MEMORY_FEATURES are projected on
    their leading principal components (of the fitting half)."""
    n = len(states)
    fit = n // 2
    z = states.astype(np.float64)
    mean, sd = z[:fit].mean(axis=0), z[:fit].std(axis=0)
    z = (z - mean) / np.where(sd > 1e-9, sd, 1.0)
    if z.shape[1] > MEMORY_FEATURES:
        _, _, vt = np.linalg.svd(z[:fit], full_matrices=False)
        z = z @ vt[:MEMORY_FEATURES].T
    z = np.concatenate([z, np.ones((n, 1))], axis=1)
    out = []
    for lag in range(k + 1):
        y = x[k - lag: k - lag + n].astype(np.float64)
        w = _logistic(z[:fit], y[:fit])
        out.append(float(np.mean((z[fit:] @ w > 0) == (y[fit:] > 0.5))))
    return out


def _logistic(z: np.ndarray, y: np.ndarray, steps: int = 12) -> np.ndarray:
    """Ridge-penalised logistic regression by Newton's method (the bias unpenalised)."""
    d = z.shape[1]
    w = np.zeros(d)
    penalty = RIDGE * len(y) * np.eye(d)
    penalty[-1, -1] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -30, 30)))
        grad = z.T @ (p - y) + penalty @ w
        hess = (z * (p * (1 - p))[:, None]).T @ z + penalty + 1e-9 * np.eye(d)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-6:
            break
    return w


def lag_effects(effects: list[float] | None) -> dict[str, float]:
    """{"1": e1, ..., "K": eK}: the JSON form of effects by lag (lag 0 left out); {} for None."""
    return {str(k): round(float(e), 6) for k, e in enumerate(effects or []) if k > 0}


def by_lag(values: list[float] | None, places: int = 4) -> dict[str, float]:
    """{"1": v1, ...}: any per-lag list in JSON form (lag 0 left out); {} for None."""
    return {str(k): round(float(v), places) for k, v in enumerate(values or []) if k > 0}
