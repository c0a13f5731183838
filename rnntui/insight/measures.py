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


def window_share(num_steps: int, k: int) -> list[float]:
    """Share of training positions whose backprop window reaches lag 0..k. The windows do
    not overlap, and position j (0-based) of a window of n sees lags 0..j, so a share
    (n - lag)/n reaches a lag. Carrying the state does not change it: backprop stops at
    the window's start either way."""
    return [max(0, num_steps - lag) / num_steps for lag in range(k + 1)]


def reach_horizon(reach: list[float], share: float = 0.01) -> int | None:
    """The first lag whose gradient reach is below `share` of lag 0's (None: none is)."""
    for k, g in enumerate(reach):
        if reach and g < share * reach[0]:
            return k
    return None


def gates(cell: str, weights: dict, inputs: np.ndarray, h: np.ndarray,
           h_prev: np.ndarray) -> dict[str, np.ndarray]:
    """The gates of one LSTM/GRU layer over time from its weights, its input sequence and
    the state before each step (what the cell's own call computes, without the loop)."""
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    u = h.shape[-1]
    if cell == "lstm":  # Keras's order: input, forget, cell, output
        pre = inputs @ weights["kernel"] + h_prev @ weights["recurrent_kernel"] + weights["bias"]
        return {"i": sig(pre[..., :u]), "f": sig(pre[..., u:2 * u]), "o": sig(pre[..., 3 * u:])}
    if cell == "gru":  # Keras's order (reset_after): update z, reset r, candidate
        b = weights["bias"]
        pre = inputs @ weights["kernel"] + b[0] + h_prev @ weights["recurrent_kernel"] + b[1]
        return {"z": sig(pre[..., :u]), "r": sig(pre[..., u:2 * u])}
    return {}


def lag_effects(effects: list[float] | None) -> dict[str, float]:
    """{"1": e1, ..., "K": eK}: the JSON form of effects by lag (lag 0 left out); {} for None."""
    return {str(k): round(float(e), 6) for k, e in enumerate(effects or []) if k > 0}
