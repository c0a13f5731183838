"""What a loss or a measurement says was learned: the floors and the verdict, as plain
values every layer may pass around (the data layer computes them, the app draws them)."""

from __future__ import annotations

from dataclasses import dataclass

LEARNED = 0.9  # a lag counts as learned once this fraction of its floor step is covered


@dataclass(frozen=True)
class Floor:
    name: str  # "nothing", "t-3", "t-3,t-8"
    loss: float  # nats


@dataclass(frozen=True)
class Verdict:
    fractions: tuple[float, ...]  # per rule lag, in lag order, each in [0, 1]
    learned: tuple[int, ...]  # the lags whose fraction >= LEARNED
    lags: tuple[int, ...]
    # Per rule lag, when measured (rnntui.insight): the model's effect of X[t-lag] on
    # P(Y_t=1) (nan past the lags measured), and the rule's own delta. () if not measured.
    effects: tuple[float, ...] = ()
    deltas: tuple[float, ...] = ()
    prefix: str = "t-"  # what names a step: "t-3" (a rule lag) or "window 4" (a file's)

    def label(self, lag: int) -> str:
        return f"{self.prefix}{lag}"

    def effect_text(self, i: int) -> str:
        """'-0.19 of -0.25': rule i's learned effect against its delta ('' if unmeasured)."""
        if not self.effects:
            return ""
        return f"{self.effects[i]:+.2f} of {self.deltas[i]:+.2f}"

    def describe(self) -> str:
        parts = []
        for i, (lag, f) in enumerate(zip(self.lags, self.fractions, strict=True)):
            effect = self.effect_text(i)
            parts.append(f"{self.label(lag)} {f:4.0%}" + (f" ({effect})" if effect else ""))
        return "  ".join(parts)
