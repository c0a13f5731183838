"""What a loss or a measurement says was learned: the floors and the verdict, as plain
values every layer may pass around (the data layer computes them, the app draws them)."""

from __future__ import annotations

import math
from dataclasses import dataclass

# A lag counts as learned once the low end of its fraction's error bar (fraction - 2 SE)
# reaches this; "no" while the high end stays under NOT_LEARNED; "partly" in between.
LEARNED = 0.9
NOT_LEARNED = 0.1
# A learned lag overshoots once the low end of its error bar is this far past all of its
# reachable effect (issue 25's example: a GRU 32 on rules 2:+0.3, 5:-0.2, 11:+0.25 with
# t-5 at 118% ±2):
# its effect is well beyond what the rule gives, not the rule's within noise.
OVERSHOOT = 0.1


@dataclass(frozen=True)
class Floor:
    name: str  # "nothing", "t-3", "t-3,t-8", "window 4"
    loss: float  # nats


@dataclass(frozen=True)
class Verdict:
    """Per rule lag (in lag order), how much of it the model has learned: its measured
    effect over the effect the config can reach (`achievable`: the rule's delta, or with
    carry_state off delta·(n-k)/n inside the window and 0 beyond it), with a standard error.
    Order-free: a lag is credited with what the model does with it, whatever it learned
    first. For a data file, with no rule to check against, `fractions` are the empirical
    windows' loss steps covered (prefix "window ")."""

    fractions: tuple[float, ...]  # per lag; nan: not measured, or nothing to reach
    learned: tuple[int, ...]  # the lags whose fraction - 2 SE >= LEARNED
    lags: tuple[int, ...]
    effects: tuple[float, ...] = ()  # the model's effect of X[t-lag] on P(Y_t=1), measured
    deltas: tuple[float, ...] = ()  # each rule's own delta
    prefix: str = "t-"  # what names a step: "t-3" (a rule lag) or "window 4" (a file's)
    fractions_se: tuple[float, ...] = ()  # the standard error of each fraction
    achievable: tuple[float, ...] = ()  # the effect this config can reach per lag
    # The loss's own view, not split by lag: the share of the way from the "nothing" floor
    # to the last one (every rule, or the widest window).
    loss_fraction: float = math.nan
    step: int = -1  # the step the effects were measured at (-1: none measured)

    def label(self, lag: int) -> str:
        return f"{self.prefix}{lag}"

    def se(self, i: int) -> float:
        return self.fractions_se[i] if i < len(self.fractions_se) else 0.0

    def state(self, i: int) -> str:
        """learned, partly, no, not measured, or beyond reach (carry off, past the window)."""
        f = self.fractions[i]
        if math.isnan(f):
            reach = self.achievable[i] if i < len(self.achievable) else math.nan
            return "beyond reach" if reach == 0 else "not measured"
        if f - 2 * self.se(i) >= LEARNED:
            return "learned"
        return "no" if f + 2 * self.se(i) < NOT_LEARNED else "partly"

    def overshoot(self, i: int) -> float:
        """How far a learned lag's fraction is past 1 (0.18: its effect 18% beyond what
        the config can reach), when well beyond it (OVERSHOOT); else 0."""
        f = self.fractions[i]
        if (self.prefix != "t-" or self.state(i) != "learned"
                or f - 2 * self.se(i) <= 1 + OVERSHOOT):
            return 0.0  # a data file's windows have no rule to overshoot
        return f - 1

    def state_text(self, i: int) -> str:
        """state(i), and for an overshooting lag by how much: 'learned, overshooting by
        18%'."""
        over = self.overshoot(i)
        return self.state(i) + (f", overshooting by {over:.0%}" if over else "")

    def overshooting(self) -> dict[str, float]:
        """{label: overshoot} of the lags that overshoot."""
        return {self.label(lag): self.overshoot(i) for i, lag in enumerate(self.lags)
                if self.overshoot(i)}

    def fraction_text(self, i: int) -> str:
        """'98% ±4' (two standard errors), '62%' without one, '?' unmeasured."""
        f = self.fractions[i]
        if math.isnan(f):
            return "-" if self.state(i) == "beyond reach" else "?"
        se = self.se(i)
        return f"{f:.0%}" + (f" ±{2 * se:.0%}" if se > 0 and math.isfinite(se) else "")

    def effect_text(self, i: int) -> str:
        """'-0.19 of -0.25': rule i's learned effect against its delta ('' if unmeasured)."""
        if not self.effects or math.isnan(self.effects[i]):
            return ""
        return f"{self.effects[i]:+.2f} of {self.deltas[i]:+.2f}"

    def loss_text(self) -> str:
        if math.isnan(self.loss_fraction):
            return ""
        last = "the widest window" if self.prefix != "t-" else "every rule"
        return f"loss {self.loss_fraction:.0%} of the way from nothing to {last}"

    def describe(self) -> str:
        parts = []
        for i, lag in enumerate(self.lags):
            effect = self.effect_text(i)
            state = "" if self.prefix != "t-" else f"{self.state_text(i)} "
            parts.append(f"{self.label(lag)} {state}{self.fraction_text(i)}"
                         + (f" ({effect})" if effect else ""))
        loss = self.loss_text()
        return "  ".join(parts) + (f"; {loss}" if loss and parts else loss)


def loss_fraction(loss: float, floors: list[Floor]) -> float:
    """The share of the way from the first floor to the last that `loss` has covered."""
    if len(floors) < 2 or not math.isfinite(loss):
        return math.nan if len(floors) < 2 else 0.0
    hi, lo = floors[0].loss, floors[-1].loss
    if hi - lo <= 1e-12:
        return 1.0
    return min(1.0, max(0.0, (hi - loss) / (hi - lo)))
