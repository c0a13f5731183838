"""Truncation styles (issue 25 §1): the seed's windows, even, and TBPTT(stride, num_steps).

The styles agree where they must; a hand-computed gradient on a 2-unit basic cell shows
which positions' errors reach which inputs under each; the feed's windows overlap by
num_steps - stride; the floors, the shares and the ruler follow the style; bad values are
one line; a style runs under XLA and mirrored."""

from __future__ import annotations

import numpy as np
import pytest

from rnntui.cli import main
from rnntui.config import (
    Config,
    ConfigError,
    effective_stride,
    positions_trained,
    truncation_text,
    validate,
    windows_per_row,
)
from rnntui.core.events import Finished, Progress, Started
from rnntui.data import baselines
from rnntui.data.feed import EpochFeed
from rnntui.engine import train
from rnntui.insight.measures import window_share

TINY = Config().with_values(cell="rnn", state_size=6, size=3000, val_size=1000, batch_size=10,
                            num_steps=6, epochs=1, optimizer="adam", learning_rate=0.01)


def _tf():
    from rnntui.engine.tfload import quiet_tensorflow

    return quiet_tensorflow()


def _losses(events):
    return [x for e in events if isinstance(e, Progress) for x in e.losses]


def test_the_stride_follows_the_style_and_counts_what_it_trains():
    t = TINY.train
    assert effective_stride(t) == 6 and truncation_text(t) == ""
    even = TINY.with_values(truncation="even").train
    assert effective_stride(even) == 1
    assert truncation_text(even) == "even: every error back 6 steps, 6x the work a position"
    tbptt = TINY.with_values(stride=2).train
    assert truncation_text(tbptt) == ("TBPTT(2, 6): every error back 5-6 steps, 3x the work a"
                                      " position")
    # A row of 300 steps: 50 windows side by side, 295 even, 148 at stride 2.
    assert [windows_per_row(300, 6, s) for s in (6, 1, 2)] == [50, 295, 148]
    # Positions trained: every batch trains stride positions of each row.
    assert positions_trained(t, 50) == positions_trained(even, 300) == 3000


def test_the_feed_windows_overlap_by_num_steps_less_the_stride():
    config = TINY.with_values(stride=2)
    feed = EpochFeed(config, chunk=4)
    try:
        assert feed.batches == windows_per_row(300, 6, 2)
        _, xs, ys = next(feed.chunks(0))
        assert xs.shape == (4, 10, 6)
        for j in range(3):
            np.testing.assert_array_equal(xs[j + 1][:, :4], xs[j][:, 2:])
            np.testing.assert_array_equal(ys[j + 1][:, :4], ys[j][:, 2:])
    finally:
        feed.close()
    plain = EpochFeed(TINY, chunk=4)
    try:
        _, xw, _ = next(plain.chunks(0))
        np.testing.assert_array_equal(xw[1][:, :2], xs[3][:, :2])  # the same series
    finally:
        plain.close()


def test_the_styles_agree_where_they_must():
    # stride = num_steps is the seed's windows; even with num_steps 1 is the one-step model.
    runs = {}
    for name, values in {"windows": {}, "stride=n": {"stride": 6},
                         "one": {"num_steps": 1}, "even1": {"num_steps": 1,
                                                            "truncation": "even"}}.items():
        events = []
        assert isinstance(train(TINY.with_values(**values), events.append), Finished)
        runs[name] = _losses(events)
    assert runs["windows"] == runs["stride=n"]
    assert runs["one"] == runs["even1"] and len(runs["one"]) == 300


def _strided_and_whole(tf, config, x, y, state):
    """The strided training forward of a window, and the whole window through the model
    with the loss on its last `stride` positions and the state after `stride` steps."""
    from rnntui.engine.forward import forward_onehot, stride_parts
    from rnntui.engine.model import build_model, part_model

    model = build_model(config, seed=1)
    onehot = tf.one_hot(x, 2)
    s, n = effective_stride(config.train), config.train.num_steps
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(onehot)
        loss, _, carry = forward_onehot(tf, model, True, stride_parts(model, config))(
            onehot, y, state, True)
        logits, *_ = model([onehot, *state])
        whole = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            y[:, n - s:], logits[:, n - s:]))
    _, *after = part_model(model, config, s)([onehot[:, :s], *state])
    grads = [tape.gradient(v, [onehot, *model.trainable_variables]) for v in (loss, whole)]
    return (loss, carry, grads[0]), (whole, after, grads[1])


@pytest.mark.parametrize("values", [{"truncation": "even"}, {"stride": 2}, {"stride": 4}])
def test_a_strided_window_is_the_whole_windows_loss_on_its_last_positions(values):
    tf = _tf()
    config = Config().with_values(cell="lstm", num_layers=2, state_size=5, num_steps=6,
                                  batch_size=3, **values)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.integers(0, 2, (3, 6)), tf.int32)
    y = tf.constant(rng.integers(0, 2, (3, 6)), tf.int32)
    state = [tf.constant(rng.normal(0, 0.5, (3, 5)), tf.float32) for _ in range(4)]
    (loss, carry, grads), (whole, after, want) = _strided_and_whole(tf, config, x, y, state)
    np.testing.assert_allclose(loss, whole, atol=1e-6)
    for a, b in zip(carry, after, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    for a, b in zip(grads, want, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def _hand_grads(w_x, w_s, b, v, c, x, y, h0, loss_positions):
    """d(mean cross-entropy over loss_positions)/d x_t for a basic cell h_t = tanh(x_t W_x
    + h_{t-1} W_s + b), logits_t = h_t V + c, written out by hand: one row per input."""
    hs, h = [], h0
    for t in range(len(x)):
        h = np.tanh(x[t] @ w_x + h @ w_s + b)
        hs.append(h)
    dx = np.zeros_like(x)
    dh_next = np.zeros_like(h0)
    for t in reversed(range(len(x))):
        dlogits = np.zeros(v.shape[1])
        if t in loss_positions:
            z = hs[t] @ v + c
            p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
            dlogits = (p - np.eye(len(p))[y[t]]) / len(loss_positions)
        da = (dlogits @ v.T + dh_next) * (1 - hs[t] ** 2)
        dx[t] = da @ w_x.T
        dh_next = da @ w_s.T
    return dx


@pytest.mark.parametrize("style, trained", [("windows", [0, 1, 2]), ("even", [2])])
def test_a_hand_computed_gradient_shows_which_errors_reach_which_inputs(style, trained):
    """A 2-unit basic cell over a 3-step series, one window: under windows every
    position's error is trained and x_0 gets the errors of positions 0, 1 and 2; under
    even only position 2's, backpropagated all 3 steps (and the state carried on is the
    one after step 0, where the next window starts)."""
    from rnntui.engine.forward import forward_onehot, stride_parts
    from rnntui.engine.model import build_model

    tf = _tf()
    config = Config().with_values(cell="basic", state_size=2, num_steps=3, batch_size=1,
                                  truncation=style)
    model = build_model(config, seed=2)
    kernel, bias = (w.astype(np.float64) for w in model.get_layer("basic0").get_weights())
    v, c = (w.astype(np.float64) for w in model.get_layer("logits").get_weights())
    x, y, h0 = np.array([1, 0, 1]), np.array([1, 1, 0]), np.array([0.3, -0.2])
    onehot = tf.constant(np.eye(2, dtype="float32")[x][None])
    forward = forward_onehot(tf, model, True, stride_parts(model, config))
    with tf.GradientTape() as tape:
        tape.watch(onehot)
        loss, _, carry = forward(onehot, tf.constant(y[None]),
                                 [tf.constant(h0[None], tf.float32)], True)
    got = tape.gradient(loss, onehot).numpy()[0]
    want = _hand_grads(kernel[:2], kernel[2:], bias, v, c, np.eye(2)[x], y, h0, trained)
    np.testing.assert_allclose(got, want, atol=1e-5)
    # Each trained error reaches every input at or before it, and no later one.
    per_error = [_hand_grads(kernel[:2], kernel[2:], bias, v, c, np.eye(2)[x], y, h0, [p])
                 for p in range(3)]
    for p in range(3):
        assert np.abs(per_error[p][: p + 1]).min() > 0 and not per_error[p][p + 1:].any()
    h_after0 = np.tanh(np.eye(2)[x][0] @ kernel[:2] + h0 @ kernel[2:] + bias)
    expect_carry = h_after0 if style == "even" else None
    if expect_carry is not None:
        np.testing.assert_allclose(carry[0].numpy()[0], expect_carry, atol=1e-6)


def test_the_floors_and_the_shares_follow_the_style():
    rules = ((3, 0.5), (8, -0.25))
    # windows of 5: positions 0-2 know nothing, 3-4 know t-3 (the seed's 0.605).
    assert baselines.window_floor(0.5, rules, 5) == pytest.approx(0.6 * 0.6616 + 0.4 * 0.5192,
                                                                  abs=1e-4)
    assert baselines.window_floor(0.5, rules, 5, 5) == baselines.window_floor(0.5, rules, 5)
    # even: only position 4 trains, and it knows t-3.
    assert baselines.window_floor(0.5, rules, 5, 1) == pytest.approx(0.5192, abs=1e-4)
    assert baselines.window_floor(0.5, rules, 10, 1) == pytest.approx(0.4545, abs=1e-4)
    assert window_share(5, 6) == [1, 0.8, 0.6, 0.4, 0.2, 0, 0]
    assert window_share(5, 6, 1) == [1, 1, 1, 1, 1, 0, 0]
    assert window_share(5, 6, 2) == [1, 1, 1, 1, 0.5, 0, 0]


def test_baselines_prints_the_styles_window_floor(capsys):
    assert main(["baselines", "--num-steps", "5", "--truncation", "even", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"window_floor": 0.519' in out


@pytest.mark.parametrize("argv, says", [
    (["--num-steps", "10", "--stride", "11"],
     "stride: 11 is out of range: 0 (the style's own) or 1 to num_steps (10)"),
    (["--stride", "-1"], "stride: -1 is out of range"),
    (["--truncation", "odd"], "truncation: 'odd' is not one of windows, even"),
    (["--truncation", "even", "--stride", "3"], "stride: 3 is not even truncation's (1)"),
])
def test_bad_truncation_values_are_one_line(capsys, argv, says):
    assert main(["train", *argv]) == 2
    _, err = capsys.readouterr()
    assert err.count("\n") == 1 and says in err, err


def test_a_resume_that_changes_the_style_is_refused(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path), "--truncation", "even"]) == 2
    assert "--resume: the run keeps its own config" in capsys.readouterr().err


def test_validate_checks_the_stride_against_num_steps():
    with pytest.raises(ConfigError, match="^stride: 7 is out of range"):
        validate(TINY.with_values(stride=7))
    assert validate(TINY.with_values(stride=6, truncation="windows")).train.stride == 6


def test_a_strided_run_under_xla_trains_as_the_graph_does_and_says_its_style(tmp_path):
    config = TINY.with_values(stride=2, epochs=1)
    runs = []
    for jit in (False, True):
        events = []
        assert isinstance(train(config, events.append, jit=jit), Finished)
        runs.append(events)
    np.testing.assert_allclose(_losses(runs[1]), _losses(runs[0]), atol=1e-5)
    started = next(e for e in runs[0] if isinstance(e, Started))
    assert started.steps_per_epoch == windows_per_row(300, 6, 2)
    assert started.window_floor == pytest.approx(
        baselines.window_floor(0.5, ((3, 0.5), (8, -0.25)), 6, 2), abs=0.02)


def test_even_runs_mirrored_over_two_cpu_devices_as_on_one():
    config = TINY.with_values(truncation="even", device="cpu", size=1200, num_steps=4)
    runs = []
    for values in ({}, {"strategy": "mirrored", "replicas": 2}):
        events = []
        end = train(config.with_values(**values), events.append)
        assert isinstance(end, Finished), end
        runs.append(_losses(events))
    np.testing.assert_allclose(runs[1], runs[0], atol=1e-5)


async def test_the_form_takes_the_new_fields_says_their_errors_inline_and_rules_even():
    from appsupport import type_into
    from textual.widgets import Static

    from rnntui.tui.app import make_app
    from rnntui.tui.widgets.ruler import WindowRuler

    app = make_app(preload_tf=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_into(pilot, "num_steps", "10")
        await type_into(pilot, "stride", "12")
        error = app.query_one("#error-stride", Static)
        assert error.display and str(error.render()).startswith(
            "stride: 12 is out of range: 0 (the style's own) or 1 to num_steps (10)")
        assert app.form.config is None
        await type_into(pilot, "stride", "0")
        await type_into(pilot, "dropout", "0.95")
        assert str(app.query_one("#error-dropout", Static).render()).startswith(
            "dropout: 0.95 is out of range: a number from 0 to 0.9")
        await type_into(pilot, "dropout", "0.2")
        app.query_one("#field-truncation").focus()
        await pilot.pause()
        await pilot.press("enter", "down", "enter")  # windows -> even
        await pilot.pause()
        config = app.form.config
        assert config is not None, app.form.errors
        assert config.train.truncation == "even" and config.model.dropout == 0.2
        ruler = app.query_one(WindowRuler)
        assert ruler.stride == 1
        text = ruler_plain(ruler)
        assert "even: each error back 10 steps" in text
        assert "t-3 in window, every error" in text and "t-8 in window, every error" in text
        app.query_one("#field-layer_norm").focus()
        await pilot.press("space")
        await pilot.pause()
        assert app.form.config.model.layer_norm


def ruler_plain(ruler) -> str:
    from rnntui.tui.widgets.ruler import ruler_text

    return ruler_text(200, ruler.num_steps, ruler.rules, ruler.carry, ruler.stride).plain


def test_the_ruler_says_how_far_each_style_backpropagates():
    from rnntui.tui.widgets.ruler import ruler_text

    rules = ((3, 0.5), (8, -0.25))
    windows = ruler_text(200, 5, rules, True).plain
    assert "windows: each error back 1-5 steps" in windows
    assert "t-3 in window, 40% of errors" in windows and "t-8 via carried state only" in windows
    tbptt = ruler_text(200, 10, rules, False, 4).plain
    assert "TBPTT(4, 10): each error back 7-10 steps" in tbptt
    assert "t-8 in window, 50% of errors" in tbptt


def test_a_sweep_over_styles_prints_and_draws_them(tmp_path, capsys):
    svg = tmp_path / "styles.svg"
    assert main(["sweep", "--preset", "fast", "--rule", "4:0.5", "--base", "0.25",
                 "--grid", "truncation=windows,even", "--grid", "num_steps=3,6",
                 "--size", "3000", "--val-size", "1000", "--epochs", "1",
                 "--runs-dir", str(tmp_path / "runs"), "--svg", str(svg)]) == 0
    out = capsys.readouterr().out
    table = out[out.index("truncation "):]
    assert "windows" in table and "even" in table
    assert "every cell the same positions trained" in table
    drawn = svg.read_text()
    assert drawn.startswith("<svg") and "truncation" in drawn and "even" in drawn
