"""Across precisions: a mixed run's checkpoint resumes in float32 and the reverse, old
checkpoints still load, and the gradient norm reported is that of applied steps only.

Both optimizers are built directly and trained for real on the CPU (mixed precision runs
there too, slowly), in graph mode without XLA so that each takes a second or two.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rnntui.config import Config
from rnntui.core.files import BadFile
from rnntui.engine.checkpoint import Checkpoint, load, save
from rnntui.engine.steps import applied_norm

CFG = Config().with_values(cell="lstm", state_size=4, num_steps=5, batch_size=10,
                           optimizer="adam", learning_rate=0.05, device="cpu")
BATCHES = 3


def trained(tf, mixed: bool, batches: int = BATCHES):
    """(model, optimizer) after `batches` real training steps on the CPU."""
    from rnntui.data.generator import generate, windows
    from rnntui.engine.model import build_model, build_optimizer
    from rnntui.engine.steps import Steps

    x, y = generate(10 * 5 * BATCHES, 1)
    xw, yw = windows(x, 10, 5), windows(y, 10, 5)
    with tf.device("/CPU:0"):
        model = build_model(CFG, seed=0, mixed=mixed)
        optimizer = build_optimizer(CFG, mixed)
        steps = Steps(tf, model, optimizer, CFG, BATCHES, jit=False, mixed=mixed)
        if batches:
            losses, _, _ = steps.train(xw[:batches], yw[:batches], steps.zero_state())
            assert np.isfinite(losses).all()
    return model, optimizer


def slots(optimizer) -> list[np.ndarray]:
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    return [v.numpy() for v in inner.variables]


@pytest.fixture(scope="module")
def tf():
    from rnntui.engine.tfload import quiet_tensorflow

    return quiet_tensorflow()


@pytest.mark.parametrize("saved_mixed, resumed_mixed", [(True, False), (False, True),
                                                        (True, True)])
def test_a_checkpoint_resumes_across_precisions(tf, tmp_path, saved_mixed, resumed_mixed):
    model, optimizer = trained(tf, saved_mixed)
    if saved_mixed:
        optimizer.dynamic_scale.assign(512.0)  # a scale the scaler has learned
    save(tmp_path / "c.npz", Checkpoint.capture(0, BATCHES, BATCHES, model, optimizer, []))
    ckpt = load(tmp_path / "c.npz")
    # Adam's slots (iteration, learning rate, two per weight) whatever the precision.
    assert len(ckpt.optimizer) == 2 + 2 * len(model.trainable_variables)
    assert len(ckpt.loss_scale) == (2 if saved_mixed else 0)

    fresh, fresh_optimizer = trained(tf, resumed_mixed, batches=0)
    ckpt.restore(tmp_path / "c.npz", fresh, fresh_optimizer)
    for a, b in zip(slots(fresh_optimizer), slots(optimizer), strict=True):
        np.testing.assert_array_equal(a, b)
    assert int(slots(fresh_optimizer)[0]) == BATCHES  # the step count carried over
    for a, b in zip(fresh.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    if resumed_mixed:  # the learned scale when there was one, a fresh one when not
        want = 512.0 if saved_mixed else 2.0 ** 15
        assert float(fresh_optimizer.dynamic_scale.numpy()) == want


def write_legacy(path, ckpt: Checkpoint) -> None:
    """A checkpoint as rnntui wrote it before the split: no loss_scale in its meta."""
    meta = {"format": "rnntui-checkpoint-1", "epoch": ckpt.epoch, "batch": ckpt.batch,
            "step": ckpt.step, "learning_rate": 0.05, "weights": len(ckpt.weights),
            "optimizer": len(ckpt.optimizer), "state": 0}
    arrays = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    arrays.update({f"w{i}": a for i, a in enumerate(ckpt.weights)})
    arrays.update({f"o{i}": a for i, a in enumerate(ckpt.optimizer)})
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_old_checkpoints_still_load_in_either_precision(tf, tmp_path):
    """A mixed run's old checkpoint held the LossScaleOptimizer's whole variable list;
    it loads into float32 (the scaler's part dropped) and into mixed (the scale kept)."""
    model, optimizer = trained(tf, True)
    optimizer.dynamic_scale.assign(256.0)
    whole = [v.numpy() for v in optimizer.variables]
    write_legacy(tmp_path / "old.npz", Checkpoint(0, 3, 3, model.get_weights(), whole))
    old = load(tmp_path / "old.npz")
    assert old.legacy and not old.loss_scale
    for mixed in (False, True):
        fresh, fresh_optimizer = trained(tf, mixed, batches=0)
        old.restore(tmp_path / "old.npz", fresh, fresh_optimizer)
        for a, b in zip(slots(fresh_optimizer), slots(optimizer), strict=True):
            np.testing.assert_array_equal(a, b)
        if mixed:
            assert float(fresh_optimizer.dynamic_scale.numpy()) == 256.0


def test_a_checkpoint_of_another_optimizer_is_one_clear_line(tf, tmp_path):
    model, optimizer = trained(tf, False, batches=0)
    bad = Checkpoint(0, 0, 0, model.get_weights(), [np.zeros(3, np.float32)])
    with pytest.raises(BadFile) as info:
        bad.restore(tmp_path / "c.npz", model, optimizer)
    assert str(info.value) == (f"{tmp_path / 'c.npz'}: its optimizer state does not fit this"
                               " optimizer")


def test_the_reported_norm_is_that_of_applied_steps():
    """A step the loss scaler skips has an inf norm; it stays out of the mean (and so out
    of the sparkline and the JSON). In float32 every step is applied and an inf shows."""
    norms = np.array([np.inf, np.inf, 2.0, 4.0], np.float32)
    assert applied_norm(norms, mixed=True) == 3.0
    assert math.isnan(applied_norm(np.array([np.inf], np.float32), mixed=True))
    assert applied_norm(norms, mixed=False) == np.inf


def test_mixed_precision_over_two_replicas_matches_one_device(tf):
    """The mixed path under a strategy (a GPU box's; here over 2 CPU devices): the loss
    scaler wrapping an optimizer that applies the once-summed gradient as given, against
    one device's mixed run from the same weights."""
    from rnntui.data.generator import generate, windows
    from rnntui.engine.distribute import DistSteps, make_strategy
    from rnntui.engine.model import build_model, build_optimizer
    from rnntui.engine.steps import Steps

    cfg = CFG.with_values(strategy="mirrored", replicas=2, clip_norm=1.0)
    x, y = generate(10 * 5 * 6, 2)
    xw, yw = windows(x, 10, 5), windows(y, 10, 5)
    with tf.device("/CPU:0"):
        optimizer = build_optimizer(cfg, mixed=True)
        one = Steps(tf, build_model(cfg, seed=0, mixed=True), optimizer, cfg, 6, jit=False,
                    mixed=True)
        a, norm_a, _ = one.train(xw, yw, one.zero_state())
    strategy = make_strategy(tf, cfg)[0]
    with strategy.scope():
        summed = build_optimizer(cfg, mixed=True, summed=True)
        two = DistSteps(tf, strategy, build_model(cfg, seed=0, mixed=True), summed, cfg, 6,
                        mixed=True)
        b, norm_b, _ = two.train(xw, yw, two.zero_state())
    np.testing.assert_allclose(b, a, atol=1e-3)
    assert abs(norm_b - norm_a) < 1e-2 * norm_a
    assert float(summed.dynamic_scale.numpy()) == float(optimizer.dynamic_scale.numpy())
    assert a[-2:].mean() < a[:2].mean()  # it trained
