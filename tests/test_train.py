"""The trainer, for real: TensorFlow on tiny data, about eight short runs in all.

Each run pays a few seconds of XLA compile, so runs are module fixtures shared by tests.
"""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest

from rnntui import engine as engines
from rnntui.config import Config, ConfigError, preset
from rnntui.core.control import Control
from rnntui.core.events import (
    Compiled,
    Diverged,
    EpochEnd,
    Failed,
    Finished,
    Predictions,
    Progress,
    Started,
)
from rnntui.data.baselines import floors, window_floor
from rnntui.data.source import realised_floors, val_series
from rnntui.engine import train
from rnntui.engine.shadow import DIVERGED_LOSS
from rnntui.engine.trainer import Trainer

SEED_RULES = ((3, 0.5), (8, -0.25))
NOTHING, T3, BOTH = (f.loss for f in floors(0.5, SEED_RULES))
WINDOW5 = window_floor(0.5, SEED_RULES, 5)

# The seed's network and optimizer (basic cell, state 4, num_steps 5, adagrad 0.1) on a
# series small enough to compile and train in a few seconds: 240 batches an epoch.
SMALL = dict(size=60_000, val_size=20_000, batch_size=50, epochs=3)
CHUNK = 60  # 4 compiled calls an epoch


def run(cfg: Config, **kwargs):
    events = []
    final = train(cfg, events.append, **kwargs)
    return final, events


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


# Op determinism on (a no-op for these CPU programs, but what makes a rerun match bit for
# bit on a GPU box too, where XLA's reductions may otherwise add in another order).
DETERMINISTIC = preset("r2rt").with_values(deterministic=True, **SMALL)


@pytest.fixture(scope="module")
def learned():
    return run(DETERMINISTIC, chunk=CHUNK)


@pytest.fixture(scope="module")
def learned_again():
    return run(DETERMINISTIC, chunk=CHUNK)


@pytest.fixture(scope="module")
def window_only():
    return run(preset("r2rt").with_values(carry_state=False, **SMALL), chunk=CHUNK)


# -- a run that learns -------------------------------------------------------------------


def test_learns_the_first_dependency(learned):
    final, _ = learned
    assert isinstance(final, Finished), final
    assert final.val_loss < 0.56, final.val_loss  # clearly below 'nothing' (0.6616)
    assert final.val_loss < NOTHING - 0.1
    assert 3 in final.verdict.learned
    assert final.verdict.fractions[0] >= 0.9
    assert final.stopped is False


def test_carried_state_reaches_the_t3_floor(learned):
    """num_steps 5 with the state carried across batches: the model sees X[t-3] at every
    position, so it reaches the t-3 floor (0.5192), below the window-only 0.6046."""
    final, events = learned
    assert final.val_loss == pytest.approx(T3, abs=0.02)
    last = of(events, EpochEnd)[-1]
    assert last.train_loss == pytest.approx(T3, abs=0.03)
    assert final.val_loss < WINDOW5 - 0.05


def test_event_sequence(learned):
    final, events = learned
    assert isinstance(events[0], Started)
    assert isinstance(events[1], Compiled)
    assert events[-1] is final
    assert sum(isinstance(e, (Started, Compiled, Finished)) for e in events) == 3
    assert not of(events, Diverged) and not of(events, Failed)
    kinds = [e.kind for e in events]
    assert kinds.index("progress") > kinds.index("compiled")


def test_started_describes_the_run(learned):
    _, events = learned
    s = events[0]
    assert s.steps_per_epoch == 60_000 // 50 // 5 == 240
    assert s.total_steps == 720
    assert s.chunk == CHUNK
    assert s.window_floor == pytest.approx(0.6046, abs=1e-4)
    assert [round(f.loss, 4) for f in s.analytic] == [0.6616, 0.5192, 0.4545]
    # The chart's floors: those of the 20,000 validation steps the run is scored on.
    _, vy = val_series(s.config.data)
    assert s.floors == realised_floors(s.config, vy)
    assert all(abs(a.loss - b.loss) < 0.02 for a, b in zip(s.floors, s.analytic, strict=True))
    assert s.device
    assert s.config.data.size == 60_000
    assert events[1].seconds > 0


def test_progress_steps_increase_and_add_up(learned):
    final, events = learned
    progress = of(events, Progress)
    # 240 batches an epoch in chunks of 60; the run's first chunk cut after 15 (its first
    # loss sooner), at the same step as ever after.
    assert len(progress) == 3 * 4 + 1
    steps = [p.step for p in progress]
    assert steps[:3] == [CHUNK // 4, CHUNK, 2 * CHUNK]
    assert all(b > a for a, b in zip(steps, steps[1:], strict=False))
    done = 0
    for p in progress:
        assert len(p.losses) == (p.step - done)
        done += len(p.losses)
        assert p.step == done
        assert all(math.isfinite(x) and x > 0 for x in p.losses)
        assert math.isfinite(p.grad_norm) and p.grad_norm > 0
        assert p.steps_per_sec > 0
        assert p.samples_per_sec == pytest.approx(p.steps_per_sec * 50)
        assert p.eta_s >= 0
        assert p.learning_rate == pytest.approx(0.1, rel=1e-6)
    assert steps[-1] == final.step == 720
    assert [p.epoch for p in progress] == [0] * 5 + [1] * 4 + [2] * 4
    assert progress[-1].eta_s == 0


def test_losses_fall_during_training(learned):
    _, events = learned
    progress = of(events, Progress)
    first = np.mean(progress[0].losses[:10])
    last = np.mean(progress[-1].losses)
    assert first > 0.62  # starts near log 2
    assert last < first - 0.08


def test_epoch_ends(learned):
    final, events = learned
    ends = of(events, EpochEnd)
    assert [e.epoch for e in ends] == [0, 1, 2]
    assert [e.step for e in ends] == [240, 480, 720]
    assert final.epochs == 3
    assert ends[-1].val_loss == final.val_loss
    assert ends[-1].train_loss == final.train_loss
    epoch2 = [x for p in of(events, Progress) if p.epoch == 2 for x in p.losses]
    assert final.train_loss == pytest.approx(np.mean(epoch2), rel=1e-5)
    for e in ends:
        assert e.verdict.lags == (3, 8)
        assert 0.0 <= e.verdict.loss_fraction <= 1.0
    last = ends[-1].verdict  # the last epoch end is always measured
    assert all(math.isfinite(f) for f in last.fractions) and last.step == 720
    assert all(0 < se < 0.2 for se in last.fractions_se)
    assert last.learned == (3,) and final.verdict.learned == (3,)


def test_an_epoch_is_validated_on_its_own_weights_while_the_next_trains(learned):
    """The validation runs beside the next epoch's chunks (Steps.validate) on the weights
    of its epoch's end: a one-epoch run's validation loss is the three-epoch run's first."""
    _, events = learned
    one, _ = run(DETERMINISTIC.with_values(epochs=1), chunk=CHUNK)
    assert one.val_loss == of(events, EpochEnd)[0].val_loss
    kinds = [(e.kind, getattr(e, "epoch", None)) for e in events]
    ends = [i for i, k in enumerate(kinds) if k[0] == "epoch_end"]
    assert [kinds[i][1] for i in ends] == [0, 1, 2]  # in order, each after its epoch
    for i, epoch in zip(ends, (0, 1, 2), strict=True):
        assert max(j for j, k in enumerate(kinds) if k == ("progress", epoch)) < i
    # Its checkpoint, Predictions and Insight follow it, steps in order.
    steps = [e.step for e in events if e.kind in ("epoch_end", "predictions")]
    assert steps == sorted(steps)
    assert [e.kind for e in events[-4:]] == ["epoch_end", "predictions", "insight", "finished"]


def test_shadow_jobs_past_the_limit_land_at_once_in_order(monkeypatch):
    """With no room for jobs out (MAX_OUT 0), each lands as it is sent: every epoch end and
    look still comes, in step order, and the run finishes."""
    import rnntui.engine.shadow as landing
    import rnntui.engine.trainer as train

    monkeypatch.setattr(landing, "MAX_OUT", 0)
    monkeypatch.setattr(landing, "LOOK_BUDGET", math.inf)  # a look after every chunk
    monkeypatch.setattr(train, "PREDICT_EVERY_S", 0.0)
    final, events = run(preset("r2rt").with_values(**SMALL), chunk=CHUNK)
    assert isinstance(final, Finished)
    assert [e.epoch for e in of(events, EpochEnd)] == [0, 1, 2]
    steps = [e.step for e in events if e.kind in ("epoch_end", "predictions")]
    # A look after each of 13 calls (the first chunk cut in two), and 3 epoch ends.
    assert steps == sorted(steps) and len(of(events, Predictions)) == 3 * 4 + 1 + 3


def test_predictions_show_what_was_learned(learned):
    _, events = learned
    preds = of(events, Predictions)
    assert len(preds) >= 3  # at least one after each epoch
    last = preds[-1]
    assert len(last.x) == len(last.y) == len(last.p) == 120
    assert set(last.x) <= {0, 1} and set(last.y) <= {0, 1}
    assert all(0.0 <= p <= 1.0 for p in last.p)
    table = {bits: (pred, true) for bits, pred, true in last.combos}
    assert set(table) == {(0, 0), (1, 0), (0, 1), (1, 1)}
    assert table[(0, 0)][1] == 0.5 and table[(1, 0)][1] == 1.0
    assert table[(0, 1)][1] == 0.25 and table[(1, 1)][1] == 0.75
    # Having learned t-3 but not t-8, the model predicts about 0.875 when X[t-3]=1 and
    # about 0.375 when it is 0.
    for bits, (pred, _) in table.items():
        expected = 0.875 if bits[0] == 1 else 0.375
        assert pred == pytest.approx(expected, abs=0.1), (bits, pred)


def test_mid_epoch_predictions_read_only_the_first_validation_windows(monkeypatch):
    """A big validation series is evaluated whole at epoch ends only: between them, the
    predictions come from its first PREDICTION_STEPS steps (here 2 windows of 5)."""
    import rnntui.engine.plan as runplan
    import rnntui.engine.shadow as landing
    import rnntui.engine.trainer as train

    monkeypatch.setattr(runplan, "PREDICTION_STEPS", 2 * 50 * 5)
    monkeypatch.setattr(landing, "LOOK_BUDGET", math.inf)  # a look after every chunk
    monkeypatch.setattr(train, "PREDICT_EVERY_S", 0.0)
    _, events = run(preset("r2rt").with_values(**{**SMALL, "epochs": 1}), chunk=CHUNK)
    preds = of(events, Predictions)
    mid, end = preds[:-1], preds[-1]
    # One after each of the epoch's 5 calls (its 4 chunks, the first cut in two: see
    # test_progress_steps_increase_and_add_up), then the epoch end's.
    assert len(mid) == 5
    # 2 windows x num_steps 5 of row 0, the same stretch in x, y and p
    assert all(len(p.x) == len(p.y) == len(p.p) == 10 for p in mid)
    assert len(end.x) == 120
    assert all(0 <= p <= 1 for e in mid for p in e.p)


def test_same_seed_and_config_give_identical_losses(learned, learned_again):
    """With `deterministic` on (recorded in the run's config), as runs.config_string says."""
    (a, ea), (b, eb) = learned, learned_again
    assert of(ea, Started)[0].config.train.deterministic is True
    la = [p.losses for p in of(ea, Progress)]
    lb = [p.losses for p in of(eb, Progress)]
    assert la == lb
    assert a.val_loss == b.val_loss
    assert a.train_loss == b.train_loss
    assert [e.val_loss for e in of(ea, EpochEnd)] == [e.val_loss for e in of(eb, EpochEnd)]


def test_every_evaluation_runs_in_parts_of_a_looks_windows(monkeypatch):
    """From a run's first evaluation on, though a busy helper compiles the evaluation late:
    evaluated whole before that compile, a same-seed run's first epoch's validation loss
    once differed in the 8th digit from another's, evaluated in parts."""
    import rnntui.engine.plan as runplan
    import rnntui.engine.steps as steps
    import rnntui.engine.trainer as trainer

    monkeypatch.setattr(runplan, "PREDICTION_STEPS", 3 * 50 * 5)  # a look: 3 windows
    parts, evaluate, send = [], steps.Steps.shadow_evaluate_top, trainer.Trainer._send_compiles

    def recorded(self, xs, ys):
        parts.append((self.eval_windows, len(xs)))
        return evaluate(self, xs, ys)

    def busy_first(self, r):  # the helper busy for a second as the compiles are sent
        if not r.compiles_sent:
            r.shadow.submit(None, time.sleep, 1.0)
        send(self, r)

    monkeypatch.setattr(steps.Steps, "shadow_evaluate_top", recorded)
    monkeypatch.setattr(trainer.Trainer, "_send_compiles", busy_first)
    final, _ = run(DETERMINISTIC.with_values(epochs=1), chunk=CHUNK)
    assert isinstance(final, Finished)
    assert {size for size, _ in parts} == {3}
    assert max(n for _, n in parts) == 20_000 // 50 // 5  # the whole validation, in parts


# -- the state reset every batch ---------------------------------------------------------


def test_window_only_lands_on_the_window_floor(window_only, learned):
    """carry_state off, num_steps 5: only positions 3 and 4 of a window can see X[t-3],
    so the best possible loss is 0.6 * 0.6616 + 0.4 * 0.5192 = 0.6046. The verdict scores
    t-3 against what the window lets a model reach (learned), and leaves t-8, beyond every
    window, unscored."""
    final, events = window_only
    assert isinstance(final, Finished)
    assert events[0].window_floor == pytest.approx(WINDOW5)
    assert final.val_loss == pytest.approx(WINDOW5, abs=0.02)
    assert of(events, EpochEnd)[-1].train_loss == pytest.approx(WINDOW5, abs=0.02)
    assert final.verdict.learned == (3,)
    assert final.verdict.state(1) == "beyond reach"  # t-8
    # The same data with the state carried does much better.
    assert final.val_loss > learned[0].val_loss + 0.05


# -- pause, resume, stop -----------------------------------------------------------------


def test_pause_resume_and_stop_from_another_thread():
    cfg = preset("r2rt").with_values(size=200_000, val_size=10_000, batch_size=50, epochs=2)
    chunk = 10
    control = Control()
    events: list = []
    stamps: list[float] = []
    reached = [threading.Event(), threading.Event()]
    go = [threading.Event(), threading.Event()]

    def callback(event):
        events.append(event)
        if isinstance(event, Progress):
            stamps.append(time.monotonic())
            n = len(stamps)
            if n <= 2:  # hold the trainer until the test thread has acted
                reached[n - 1].set()
                assert go[n - 1].wait(60)

    engine = engines.get()
    done = engine.submit("train", Trainer(cfg, engine, callback, control, chunk=chunk).run)

    assert reached[0].wait(120), "no first Progress"
    control.pause()
    assert control.paused
    go[0].set()
    time.sleep(0.6)
    assert len(stamps) == 1, "a Progress arrived while paused"
    assert not done.done()

    paused_at = time.monotonic()
    control.resume()
    assert not control.paused
    assert reached[1].wait(60), "no Progress after resume"
    assert stamps[1] >= paused_at
    assert stamps[1] - stamps[0] >= 0.5

    # Pause again and stop while paused: stop must wake the trainer.
    control.pause()
    go[1].set()
    time.sleep(0.3)
    assert len(stamps) == 2
    control.stop()
    final = done.result(60)
    assert isinstance(final, Finished), final
    assert events[-1] is final
    assert final.stopped is True
    assert final.step == chunk  # two calls: the run's first chunk is cut in two
    assert final.step < events[0].total_steps
    assert final.epochs == 0
    assert not of(events, EpochEnd)
    assert math.isfinite(final.val_loss)  # a partial epoch still reports validation
    assert control.stopped


# -- divergence and failure --------------------------------------------------------------

TINY = dict(size=10_000, val_size=2_000, batch_size=50, epochs=2, optimizer="sgd")


def test_divergence_is_reported_not_raised():
    """The largest learning rate the config allows (1e6, plain SGD) blows the loss up to about
    a million nats: the run ends with a Diverged event, returned by run(), and no Finished."""
    final, events = run(Config().with_values(learning_rate=1e6, **TINY), chunk=10)
    assert isinstance(final, Diverged), (
        f"ended {final.kind} with val loss {getattr(final, 'val_loss', None)}")
    assert events[-1] is final
    assert not math.isfinite(final.loss) or final.loss > DIVERGED_LOSS
    assert 1 <= final.step <= 20
    assert not of(events, Finished) and not of(events, Failed)
    assert final.to_json()["event"] == "diverged"


def test_live_learning_rate_is_checked():
    control = Control()
    for bad in (math.inf, math.nan, 0.0, -1.0):
        with pytest.raises(ConfigError, match="^learning_rate: "):
            control.set_learning_rate(bad)
    control.set_learning_rate(0.5)
    assert control.take_learning_rate() == 0.5 and control.take_learning_rate() is None


def test_a_failure_inside_the_run_is_a_failed_event():
    seen = []

    def callback(event):
        seen.append(event)
        if isinstance(event, Started):
            raise RuntimeError("listener broke")

    final = train(Config().with_values(**TINY), callback)
    assert isinstance(final, Failed)
    assert final.message == "RuntimeError: listener broke"
    assert "Traceback" in final.detail and "listener broke" in final.detail
    assert [e.kind for e in seen] == ["started", "failed"]
    assert seen[-1] is final


def test_invalid_config_rejected_before_training():
    with pytest.raises(ConfigError) as info:
        Trainer(Config().with_values(size=100), engines.get())
    assert info.value.field == "size"
