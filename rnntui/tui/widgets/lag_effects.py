"""Lag effects: what the network learned of each lag, against the task's truth, and what
its state remembers of it.

Per lag k = 1..K, one row: the learned effect of X[t-k] on P(Y_t=1) as a signed bar about
a zero axis, the effect the config can reach as a marker on the same scale, both numbers
("t-8 -0.19 of -0.25"), and the memory readout ("mem 98%": how well X[t-k] is read out of
the state). The bar is green while the target lies within its error bar (2 SE), yellow
within twice that, red beyond: so a lag the task lacks is red only when its effect is
clearly not 0. A model that uses t-8 must remember t-4..t-8; a lag can be remembered
and not used.
"""

from __future__ import annotations

import math

from rich.text import Text

from ...core.events import Insight
from .drawn import DrawnPanel
from .ruler import RULE_STYLE
from .timeline import timeline_text

TITLE = "lag effects: ΔP(Y=1) when X[t-k] flips 0→1"
KEY = "  █ learned ±2SE  ◆ reachable  mem: read out of the state"
MIN_SCALE = 0.1  # a half bar stands for at least this much, so noise near 0 looks small
NO_SE = 0.02  # the error bar assumed for an event that carries none
MIN_COLUMN = 28  # narrowest column of rows before the panel shows only the lags that matter
MARKER = "◆"
MEMORY = 9  # the memory column, " mem 100%"


def rule_lags(true_deltas: list[float]) -> list[int]:
    """The lags (>= 1) where the task has a rule."""
    return [k for k, d in enumerate(true_deltas) if k and d != 0 and math.isfinite(d)]


def colour(effect: float, target: float, se: float) -> str:
    """green while `target` is within the effect's error bar (2 SE), yellow within twice
    that, else red; cyan with no known target (a file's process)."""
    if not math.isfinite(target):
        return "cyan"
    if not math.isfinite(effect):
        return "red"
    band = 2 * (se if se > 0 and math.isfinite(se) else NO_SE)
    err = abs(effect - target)
    return "green" if err <= band else ("yellow" if err <= 2 * band else "red")


def _bar(effect: float, true: float, se: float, scale: float, width: int) -> Text:
    """A diverging bar of `width` cells about a centre axis, half-cell resolution, with the
    target's marker; the bar's colour says whether the target is within its error bar."""
    half = max(1, (width - 1) // 2)
    cells = [(" ", "")] * half + [("│", "dim")] + [(" ", "")] * half
    known = math.isfinite(true)  # a file's process has no known effect: no verdict colour
    style = colour(effect, true, se)
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


def _numbers(effect: float, true: float, se: float, rule: bool, width: int) -> Text:
    if not math.isfinite(effect):
        return Text("?".rjust(width), style="red")
    if rule:
        s = f"{effect:+.2f} of {true:+.2f}" if width >= 14 else f"{effect:+.2f}"
        return Text(s.ljust(width), style="bold")
    off = colour(effect, true, se) == "red"  # an effect the task does not have
    return Text(f"{effect:+.2f}".ljust(width), style="red" if off else "dim")


def _memory(value: float | None) -> Text:
    if value is None or not math.isfinite(value):
        return Text(" " * MEMORY)
    return Text(f" mem {value:3.0%}"[:MEMORY].ljust(MEMORY),
                style="bold" if value >= 0.9 else "dim")


def _row(k: int, d: dict, scale: float, width: int, nums: int, rule: bool) -> Text:
    label = Text(f"t-{k}".ljust(5), style=RULE_STYLE if rule else "dim")
    mem = d["memory"][k] if k < len(d["memory"]) else None
    room = width - 5 - nums - 1 - (MEMORY if d["memory"] else 0)
    se = d["se"][k] if k < len(d["se"]) else math.nan
    bar = _bar(d["effects"][k], d["target"][k], se, scale, room)
    return Text.assemble(label, bar, " ", _numbers(d["effects"][k], d["target"][k], se, rule,
                                                   nums), _memory(mem) if d["memory"] else "")


def _shown_lags(effects, rules: list[int], room: int) -> list[int]:
    """When not every lag fits: the rule lags, then the largest other effects, in lag order."""
    others = sorted((k for k in range(1, len(effects)) if k not in rules),
                    key=lambda k: -abs(effects[k]) if math.isfinite(effects[k]) else -1)
    return sorted(rules[:room] + others[:max(0, room - len(rules))])


def effects_text(effects: list[float], true_deltas: list[float], width: int, height: int,
                 se: list[float] = (), memory: list[float] = (),
                 achievable: list[float] = ()) -> Text:
    """The panel's text for `width` x `height` cells; every lag when it fits (in columns if
    need be), else the rule lags and the largest others, with a line on the rest. The
    target drawn is `achievable` (what the config can reach), else the true deltas."""
    lags = list(range(1, len(effects)))
    rules = rule_lags(true_deltas)
    target = list(achievable) or list(true_deltas)
    finite = [abs(v) for v in effects[1:] + target[1:] if math.isfinite(v)]
    scale = max([MIN_SCALE, *finite])
    data = {"effects": effects, "target": target, "se": list(se), "memory": list(memory)}
    text = Text(TITLE, style="bold")
    text.append(KEY if width >= len(TITLE) + len(KEY) else "", style="dim")
    rows = height - 1
    if rows < 1 or not lags:
        return text
    cols = math.ceil(len(lags) / rows)
    if cols > 1 and width // cols < MIN_COLUMN + (MEMORY if memory else 0):
        shown = _shown_lags(effects, rules, rows - 1)
        rest = [abs(effects[k]) for k in lags if k not in shown and math.isfinite(effects[k])]
        cols, note = 1, f"other lags: |effect| ≤ {max(rest, default=0):.2f}"
    else:
        shown, note = lags, ""
    colw = width // cols
    mem = MEMORY if memory else 0
    # "-0.19 of -0.25" while a bar of 7 cells still fits beside it, else "-0.19".
    nums = 14 if colw - 2 * (cols > 1) >= 5 + 7 + 1 + 14 + mem else 5
    per_col = math.ceil(len(shown) / cols)
    for r in range(per_col):
        text.append("\n")
        for c in range(cols):
            i = c * per_col + r
            if i < len(shown):
                k = shown[i]
                gap = " " * (2 if c else 0)
                text.append(gap)
                text.append_text(_row(k, data, scale, colw - len(gap), nums, k in rules))
    if note:
        text.append("\n" + note, style="dim")
    return text


class LagEffectsPanel(DrawnPanel):
    """The newest Insight's effects against what the config can reach, with the memory
    readout; or (`toggle`, F9) the learning timeline of every measured epoch end."""

    EMPTY = "lag effects show during training"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.view = "now"  # or "timeline"
        self._now: tuple | None = None
        self._columns: list[tuple[int, tuple]] = []  # (epoch, its effects' items)
        self._rules: tuple[int, ...] = ()
        self._scale = 0.5

    def show(self, event: Insight) -> bool:
        self._now = (tuple(event.effects), tuple(event.true_deltas), tuple(event.effects_se),
                     tuple(event.memory), tuple(event.achievable))
        self._rules = tuple(rule_lags(event.true_deltas))
        deltas = [abs(d) for d in event.true_deltas if math.isfinite(d) and d]
        self._scale = max(deltas, default=max(map(abs, event.effects[1:]), default=0.5)) or 0.5
        return self._update()

    def add_epoch(self, epoch: int, lag_effects: dict[str, float]) -> bool:
        """An epoch end's lag effects (EpochEnd.lag_effects; {} when not measured)."""
        self._columns.append((epoch, tuple(sorted(lag_effects.items()))))
        return self._update() if self.view == "timeline" else False

    def toggle(self) -> str:
        """F9: the effects now, or the learning timeline; returns the one on show."""
        self.view = "timeline" if self.view == "now" else "now"
        self._update()
        return "learning timeline" if self.view == "timeline" else "lag effects now"

    def clear(self) -> None:
        self._now, self._columns = None, []
        super().clear()

    def _update(self) -> bool:
        if self.view == "timeline":
            if not self._columns and self._now is None:
                return False
            return self.set_data(("timeline", tuple(self._columns), self._rules, self._scale))
        return False if self._now is None else self.set_data(("now", *self._now))

    def draw(self, data, width: int, height: int) -> Text:
        if data[0] == "timeline":
            _, columns, rules, scale = data
            return timeline_text([(e, dict(items)) for e, items in columns], list(rules),
                                 width, height, scale)
        _, effects, true_deltas, se, memory, achievable = data
        return effects_text(list(effects), list(true_deltas), width, height, list(se),
                            list(memory), list(achievable))
