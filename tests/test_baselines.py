"""The exact loss floors, the window-only floor and the verdict, against hand values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnntui.core.verdict import LEARNED
from rnntui.data.baselines import achievable, conditional_entropy, floors, verdict, window_floor
from rnntui.data.generator import generate

SEED_RULES = ((3, 0.5), (8, -0.25))


def h(p: float) -> float:
    """Binary entropy in nats."""
    return -sum(q * math.log(q) for q in (p, 1 - p) if q > 0)


def test_seed_floors_match_the_article():
    fl = floors(0.5, SEED_RULES)
    assert [f.name for f in fl] == ["nothing", "t-3", "t-3,t-8"]
    assert [round(f.loss, 4) for f in fl] == [0.6616, 0.5192, 0.4545]


def test_seed_floors_by_hand():
    nothing, t3, both = (f.loss for f in floors(0.5, SEED_RULES))
    # P(Y=1) is 0.5, 1.0, 0.25, 0.75 for (X3, X8) = 00, 10, 01, 11, each a quarter.
    assert nothing == pytest.approx(h((0.5 + 1.0 + 0.25 + 0.75) / 4), abs=1e-12)
    assert nothing == pytest.approx(h(0.625), abs=1e-12)
    # Knowing X[t-3]: mean p is 0.375 when it is 0 and 0.875 when it is 1.
    assert t3 == pytest.approx(0.5 * h(0.375) + 0.5 * h(0.875), abs=1e-12)
    assert both == pytest.approx((h(0.5) + h(1.0) + h(0.25) + h(0.75)) / 4, abs=1e-12)


def test_rule_order_does_not_matter():
    assert floors(0.5, SEED_RULES[::-1]) == floors(0.5, SEED_RULES)


@pytest.mark.parametrize("base, rules", [(0.5, SEED_RULES), (0.2, ((1, 0.6), (5, 0.2))),
                                         (0.3, ((2, 0.1), (4, 0.2), (7, -0.3)))])
def test_nothing_floor_is_entropy_of_mean_p(base, rules):
    n = len(rules)
    mean_p = base + sum(d for _, d in rules) / 2  # each X is 1 half the time
    assert floors(base, rules)[0].loss == pytest.approx(h(mean_p), abs=1e-12)
    assert floors(base, rules)[0].name == "nothing"
    assert len(floors(base, rules)) == n + 1


def test_single_rule_by_hand():
    fl = floors(0.5, ((2, 0.5),))
    assert [f.name for f in fl] == ["nothing", "t-2"]
    # p is 0.5 or 1.0: 0.75 on average; knowing X[t-2], h(0.5) half the time and h(1) = 0.
    assert fl[0].loss == pytest.approx(h(0.75), abs=1e-12)
    assert fl[0].loss == pytest.approx(0.562335, abs=1e-6)
    assert fl[1].loss == pytest.approx(0.5 * h(0.5) + 0.5 * h(1.0), abs=1e-12)
    assert fl[1].loss == pytest.approx(0.5 * math.log(2), abs=1e-12)


def test_deterministic_rule_has_zero_floor():
    fl = floors(0.0, ((1, 1.0),))
    assert fl[0].loss == pytest.approx(math.log(2), abs=1e-12)
    assert fl[1].loss == 0.0


def test_no_rules():
    fl = floors(0.3, ())
    assert [f.name for f in fl] == ["nothing"]
    assert fl[0].loss == pytest.approx(h(0.3), abs=1e-12)


def test_floors_are_nested_and_decreasing():
    fl = floors(0.3, ((2, 0.1), (4, 0.2), (7, -0.3)))
    assert [f.name for f in fl] == ["nothing", "t-2", "t-2,t-4", "t-2,t-4,t-7"]
    losses = [f.loss for f in fl]
    assert all(a > b for a, b in zip(losses, losses[1:], strict=False))


def test_conditional_entropy_of_the_other_lag_alone():
    # Knowing only X[t-8] (index 1): p averages 0.75 (X8=0) or 0.5 (X8=1).
    assert conditional_entropy(0.5, SEED_RULES, (1,)) == pytest.approx(
        0.5 * h(0.75) + 0.5 * h(0.5), abs=1e-12)


def test_floor_equals_the_empirical_loss_of_the_best_predictor():
    """The floors are what the true conditional probabilities score on real data."""
    x, y = generate(1_000_000, 3)
    x3, x8, yt = x[5:-3], x[:-8], y[8:]
    y1 = yt == 1

    def xent(q):
        return float(-np.mean(np.where(y1, np.log(q), np.log1p(-q))))

    nothing, t3, both = (f.loss for f in floors(0.5, SEED_RULES))
    q_both = np.clip(0.5 + 0.5 * x3 - 0.25 * x8, 1e-12, 1 - 1e-12)
    assert xent(q_both) == pytest.approx(both, abs=0.003)
    assert xent(np.where(x3 == 1, 0.875, 0.375)) == pytest.approx(t3, abs=0.003)
    assert xent(np.full(len(yt), 0.625)) == pytest.approx(nothing, abs=0.003)


# -- window floor ------------------------------------------------------------------------


def test_window_floor_seed_num_steps_5():
    nothing, t3, _ = (f.loss for f in floors(0.5, SEED_RULES))
    w = window_floor(0.5, SEED_RULES, 5)
    assert round(w, 4) == 0.6046
    # Positions 0-2 know nothing, 3-4 know X[t-3].
    assert w == pytest.approx(0.6 * nothing + 0.4 * t3, abs=1e-12)


def test_window_floor_longer_windows_by_hand():
    nothing, t3, both = (f.loss for f in floors(0.5, SEED_RULES))
    # num_steps 10: positions 0-2 nothing, 3-7 t-3, 8-9 both.
    assert window_floor(0.5, SEED_RULES, 10) == pytest.approx(
        (3 * nothing + 5 * t3 + 2 * both) / 10, abs=1e-12)
    assert window_floor(0.5, SEED_RULES, 1) == pytest.approx(nothing, abs=1e-12)
    assert window_floor(0.5, SEED_RULES, 3) == pytest.approx(nothing, abs=1e-12)
    assert window_floor(0.5, SEED_RULES, 4) == pytest.approx((3 * nothing + t3) / 4, abs=1e-12)
    # A long window approaches the full floor.
    assert window_floor(0.5, SEED_RULES, 200) == pytest.approx(
        (3 * nothing + 5 * t3 + 192 * both) / 200, abs=1e-12)


def test_window_floor_single_rule():
    fl = floors(0.5, ((2, 0.5),))
    assert window_floor(0.5, ((2, 0.5),), 4) == pytest.approx(
        (2 * fl[0].loss + 2 * fl[1].loss) / 4, abs=1e-12)


# -- verdict -----------------------------------------------------------------------------


def effects_of(**by_lag) -> list[float]:
    """An Insight-shaped effects list (indexed by lag, 0..12) with these lags set."""
    out = [0.0] * 13
    for name, value in by_lag.items():
        out[int(name[1:])] = value
    return out


def test_verdict_reads_each_lag_from_its_own_effect_whatever_the_loss():
    """Order-free: t-8 learned and t-3 not reads as such; the loss's view stays one number."""
    nothing, t3, both = (f.loss for f in floors(0.5, SEED_RULES))
    v = verdict(0.6277, 0.5, SEED_RULES, effects=effects_of(t3=0.0, t8=-0.25),
                effects_se=[0.01] * 13)
    assert v.lags == (3, 8) and v.fractions == (0.0, 1.0)
    assert v.learned == (8,) and v.state(0) == "no" and v.state(1) == "learned"
    assert v.fractions_se == pytest.approx((0.02, 0.04))
    assert v.loss_fraction == pytest.approx((nothing - 0.6277) / (nothing - both))
    assert "t-8 learned 100% ±8%" in v.describe() and "loss 16% of the way" in v.describe()


def test_verdict_partly_and_the_error_bar_decide_learned():
    effects = effects_of(t3=0.5 * (LEARNED + 0.05), t8=-0.25 * 0.6)
    tight = verdict(0.5, 0.5, SEED_RULES, effects=effects, effects_se=[0.005] * 13)
    assert tight.learned == (3,) and tight.state(1) == "partly"
    assert tight.fraction_text(1) == "60% ±4%"
    loose = verdict(0.5, 0.5, SEED_RULES, effects=effects, effects_se=[0.05] * 13)
    assert loose.learned == () and loose.state(0) == "partly"  # 95% ± 20%: not sure


def test_verdict_without_a_measurement_says_so_and_keeps_the_loss_view():
    nothing, t3, _ = (f.loss for f in floors(0.5, SEED_RULES))
    v = verdict((nothing + t3) / 2, 0.5, SEED_RULES)
    assert all(math.isnan(f) for f in v.fractions) and v.learned == ()
    assert v.state(0) == "not measured" and v.fraction_text(0) == "?"
    assert v.loss_fraction == pytest.approx(0.5 * (nothing - t3) / (nothing - floors(
        0.5, SEED_RULES)[-1].loss))


@pytest.mark.parametrize("loss, expected", [(0.8, 0.0), (5.0, 0.0), (0.3, 1.0), (0.0, 1.0),
                                            (math.nan, 0.0), (math.inf, 0.0)])
def test_the_loss_view_is_clipped_and_a_non_finite_loss_covers_nothing(loss, expected):
    assert verdict(loss, 0.5, SEED_RULES).loss_fraction == expected


def test_with_carry_off_a_lag_is_read_against_its_window_share_and_nothing_beyond():
    """num_steps 5, carry off: t-3 is seen by 2/5 of the positions, t-8 by none."""
    reach = achievable(SEED_RULES, 5, carry=False)
    assert reach == pytest.approx((0.5 * 2 / 5, 0.0))
    v = verdict(0.6, 0.5, SEED_RULES, effects=effects_of(t3=0.2, t8=0.0),
                effects_se=[0.004] * 13, num_steps=5, carry=False)
    assert v.fractions[0] == pytest.approx(1.0) and v.learned == (3,)
    assert math.isnan(v.fractions[1]) and v.state(1) == "beyond reach"
    assert v.fraction_text(1) == "-"


def test_verdict_a_lag_that_adds_nothing_is_learned_for_free():
    rules = ((3, 0.5), (5, 0.0))
    v = verdict(0.5, 0.5, rules, effects=effects_of(t3=0.5, t5=0.01), effects_se=[0.0] * 13)
    assert v.fractions == (1.0, 1.0)
    assert v.learned == (3, 5)


def test_verdict_uses_given_floors_and_sorted_rules():
    fl = floors(0.5, SEED_RULES)
    assert verdict(0.5, 0.5, SEED_RULES[::-1], fl) == verdict(0.5, 0.5, SEED_RULES)


def test_a_lag_well_beyond_its_rule_reads_learned_and_overshooting_by_how_much():
    """t-3 at 118% ±2 (its effect +0.59 of +0.50): learned, and by how much over; within
    the error bar of the rule, or with a loose one, it is only learned."""
    over = verdict(0.5, 0.5, SEED_RULES, effects=effects_of(t3=0.59, t8=-0.25),
                   effects_se=[0.005] * 13)
    assert over.learned == (3, 8) and over.state(0) == "learned"
    assert over.overshoot(0) == pytest.approx(0.18) and over.overshoot(1) == 0.0
    assert over.overshooting() == {"t-3": pytest.approx(0.18)}
    assert "t-3 learned, overshooting by 18% 118% ±2%" in over.describe()
    assert "t-8 learned 100%" in over.describe()
    near = verdict(0.5, 0.5, SEED_RULES, effects=effects_of(t3=0.54, t8=-0.25),
                   effects_se=[0.005] * 13)  # 108% ±2: not well beyond
    loose = verdict(0.5, 0.5, SEED_RULES, effects=effects_of(t3=0.59, t8=-0.25),
                    effects_se=[0.05] * 13)  # 118% ±20: not sure
    assert near.overshooting() == loose.overshooting() == {}
    assert "overshooting" not in near.describe() + loose.describe()
    negative = verdict(0.5, 0.5, SEED_RULES, effects=effects_of(t3=0.5, t8=-0.35),
                       effects_se=[0.005] * 13)  # t-8's -0.35 of -0.25: 140%
    assert negative.overshooting() == {"t-8": pytest.approx(0.4)}


def test_the_status_line_and_the_summary_say_which_lag_overshoots():
    from rnntui.core.events import Finished
    from rnntui.runs.report import summary
    from rnntui.tui.widgets.status import verdict_text

    v = verdict(0.5, 0.5, SEED_RULES, effects=effects_of(t3=0.59, t8=-0.25),
                effects_se=[0.005] * 13)
    assert "t-3 [green]118% ±2%[/] [magenta]overshooting by 18%[/]" in verdict_text(v)
    assert "overshooting" not in verdict_text(verdict(0.5, 0.5, SEED_RULES))

    final = Finished(step=10, epochs=1, train_loss=0.5, val_loss=0.5, verdict=v,
                     floors=floors(0.5, SEED_RULES), steps_per_sec=1.0, wall_s=1.0)
    assert summary(final, None)["overshooting"] == {"t-3": pytest.approx(0.18)}


def test_a_data_files_windows_never_overshoot():
    from dataclasses import replace

    v = verdict(0.5, 0.5, SEED_RULES, effects=effects_of(t3=0.59, t8=-0.25),
                effects_se=[0.005] * 13)
    assert replace(v, prefix="window ").overshooting() == {}
