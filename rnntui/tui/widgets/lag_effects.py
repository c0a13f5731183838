"""Lag effects: what the network learned of each lag, against the task's truth.

Per lag k = 1..K, one row: the learned effect of X[t-k] on P(Y_t=1) as a signed bar about
a zero axis, the task's own delta as a marker on the same scale, and both numbers
("t-8 -0.19 of -0.25"). Rule lags stand out; the other lags should stay near 0.
"""

from __future__ import annotations

import math

from rich.text import Text

from ...core.events import Insight
from .drawn import DrawnPanel
from .ruler import RULE_STYLE

TITLE = "lag effects: ΔP(Y=1) when X[t-k] flips 0→1"
KEY = "  █ learned  ◆ true"
MIN_SCALE = 0.1  # a half bar stands for at least this much, so noise near 0 looks small
CLOSE, NEAR = 0.04, 0.1  # |learned - true| under which a bar is green, then yellow; else red
MIN_COLUMN = 28  # narrowest column of rows before the panel shows only the lags that matter
MARKER = "◆"


def rule_lags(true_deltas: list[float]) -> list[int]:
    """The lags (>= 1) where the task has a rule."""
    return [k for k, d in enumerate(true_deltas) if k and d != 0 and math.isfinite(d)]


def _bar(effect: float, true: float, scale: float, width: int) -> Text:
    """A diverging bar of `width` cells about a centre axis, half-cell resolution, with the
    true value's marker; the bar's colour says how close the effect is to the truth."""
    half = max(1, (width - 1) // 2)
    cells = [(" ", "")] * half + [("│", "dim")] + [(" ", "")] * half
    err = abs(effect - true)
    known = math.isfinite(true)  # a file's process has no known effect: no verdict colour
    style = ("cyan" if not known else
             "green" if err < CLOSE else ("yellow" if err < NEAR else "red"))
    n = 0 if not math.isfinite(effect) else min(2 * half, round(abs(effect) / scale * 2 * half))
    step = 1 if effect > 0 else -1
    for i in range(n // 2):
        cells[half + step * (i + 1)] = ("█", style)
    if n % 2:
        cells[half + step * (n // 2 + 1)] = ("▌" if step > 0 else "▐", style)
    if true and known:
        m = half + max(-half, min(half, round(true / scale * half)))
        cells[m] = (MARKER, RULE_STYLE)
    text = Text()
    for ch, st in cells:
        text.append(ch, style=st)
    return text


def _numbers(effect: float, true: float, rule: bool, width: int) -> Text:
    if not math.isfinite(effect):
        return Text("?".rjust(width), style="red")
    if rule:
        s = f"{effect:+.2f} of {true:+.2f}" if width >= 14 else f"{effect:+.2f}"
        return Text(s.ljust(width), style="bold")
    off = abs(effect) >= CLOSE and math.isfinite(true)  # an effect the task does not have
    return Text(f"{effect:+.2f}".ljust(width), style="red" if off else "dim")


def _row(k: int, effects, true_deltas, scale: float, width: int, nums: int,
         rule: bool) -> Text:
    label = Text(f"t-{k}".ljust(5), style=RULE_STYLE if rule else "dim")
    bar = _bar(effects[k], true_deltas[k], scale, width - 5 - nums - 1)
    return Text.assemble(label, bar, " ", _numbers(effects[k], true_deltas[k], rule, nums))


def _shown_lags(effects, rules: list[int], room: int) -> list[int]:
    """When not every lag fits: the rule lags, then the largest other effects, in lag order."""
    others = sorted((k for k in range(1, len(effects)) if k not in rules),
                    key=lambda k: -abs(effects[k]) if math.isfinite(effects[k]) else -1)
    return sorted(rules[:room] + others[:max(0, room - len(rules))])


def effects_text(effects: list[float], true_deltas: list[float], width: int,
                 height: int) -> Text:
    """The panel's text for `width` x `height` cells; every lag when it fits (in columns if
    need be), else the rule lags and the largest others, with a line on the rest."""
    lags = list(range(1, len(effects)))
    rules = rule_lags(true_deltas)
    finite = [abs(v) for v in effects[1:] + true_deltas[1:] if math.isfinite(v)]
    scale = max([MIN_SCALE, *finite])
    text = Text(TITLE, style="bold")
    text.append(KEY if width >= len(TITLE) + len(KEY) else "", style="dim")
    rows = height - 1
    if rows < 1 or not lags:
        return text
    cols = math.ceil(len(lags) / rows)
    if cols > 1 and width // cols < MIN_COLUMN:
        shown = _shown_lags(effects, rules, rows - 1)
        rest = [abs(effects[k]) for k in lags if k not in shown and math.isfinite(effects[k])]
        cols, note = 1, f"other lags: |effect| ≤ {max(rest, default=0):.2f}"
    else:
        shown, note = lags, ""
    colw = width // cols
    # "-0.19 of -0.25" while a bar of 7 cells still fits beside it, else "-0.19".
    nums = 14 if colw - 2 * (cols > 1) >= 5 + 7 + 1 + 14 else 5
    per_col = math.ceil(len(shown) / cols)
    for r in range(per_col):
        text.append("\n")
        for c in range(cols):
            i = c * per_col + r
            if i < len(shown):
                k = shown[i]
                gap = " " * (2 if c else 0)
                text.append(gap)
                text.append_text(_row(k, effects, true_deltas, scale, colw - len(gap), nums,
                                      k in rules))
    if note:
        text.append("\n" + note, style="dim")
    return text


class LagEffectsPanel(DrawnPanel):
    """The newest Insight's effects against the task's deltas."""

    EMPTY = "lag effects show during training"

    def show(self, event: Insight) -> bool:
        return self.set_data((tuple(event.effects), tuple(event.true_deltas)))

    def draw(self, data, width: int, height: int) -> Text:
        effects, true_deltas = data
        return effects_text(list(effects), list(true_deltas), width, height)
