"""XLA or cuDNN, float32 or mixed, and the sizes a big run may take: the rules, the graph
check behind 'is the fused kernel in use', and real training where a CPU can do it."""

from __future__ import annotations

import numpy as np
import pytest

from rnntui.config import Config, preset
from rnntui.core.events import Compiled, Finished, Started
from rnntui.engine import train
from rnntui.engine.accel import (
    CUDNN_MIN_WORK,
    choose_kernel,
    choose_precision,
    describe,
    graph_uses_cudnn,
)

TINY = dict(size=2_000, val_size=1_000, batch_size=10, epochs=1)
BIG_LSTM = Config().with_values(cell="lstm", state_size=512, num_steps=50, batch_size=1024)


@pytest.mark.parametrize("config, on_gpu, kernel", [
    (preset("r2rt"), False, "xla"),
    (BIG_LSTM, False, "window"),  # no GPU, no cuDNN: XLA on the whole-window kernels
    (preset("r2rt"), True, "xla"),  # the seed's cell has no cuDNN kernel
    (preset("fast"), True, "xla"),  # SimpleRNN has none either
    (BIG_LSTM, True, "cudnn"),
    (BIG_LSTM.with_values(cell="gru"), True, "cudnn"),
    (BIG_LSTM.with_values(cudnn="off"), True, "window"),
    (preset("r2rt").with_values(cell="lstm"), True, "xla"),  # too small to fill a GPU
    (preset("r2rt").with_values(cell="lstm", cudnn="on"), True, "cudnn"),
])
def test_kernel_choice_per_cell(config, on_gpu, kernel):
    assert choose_kernel(config, on_gpu) == (kernel, "")


@pytest.mark.parametrize("cell, kernel", [("lstm", "cudnn"), ("gru", "cudnn"), ("rnn", "xla")])
def test_a_strategy_takes_cudnn_for_small_lstm_and_gru(cell, kernel):
    """Mirrored runs have no XLA, so a small LSTM/GRU there takes cuDNN, not neither."""
    small = preset("r2rt").with_values(cell=cell)
    assert choose_kernel(small, True, distributed=True) == (kernel, "")
    assert choose_kernel(small, True) == ("xla", "")
    assert choose_kernel(small.with_values(cudnn="off"), True, distributed=True)[0] == "xla"
    assert choose_kernel(small, False, distributed=True)[0] == "xla"


def test_auto_switches_at_the_work_threshold():
    at = BIG_LSTM.with_values(num_steps=16, batch_size=256, state_size=256)
    assert 16 * 256 * 256 == CUDNN_MIN_WORK
    assert choose_kernel(at, True)[0] == "cudnn"
    assert choose_kernel(at.with_values(state_size=255), True)[0] == "window"


def test_asking_for_what_cannot_be_had_says_so():
    assert choose_kernel(BIG_LSTM.with_values(cudnn="on"), False) == (
        "window", "cudnn: on needs a GPU; using XLA on the CPU")
    assert choose_kernel(preset("r2rt").with_values(cudnn="on"), True) == (
        "xla", "cudnn: there is no cuDNN kernel for the basic cell; using XLA")
    mixed = preset("r2rt").with_values(precision="mixed")
    assert choose_precision(mixed, True) == (True, "")
    assert choose_precision(mixed, False) == (
        False, "precision: mixed needs a GPU; training in float32 on the CPU")
    assert choose_precision(preset("r2rt"), True) == (False, "")


def test_descriptions():
    assert describe("xla", False, True) == "XLA"
    assert describe("cudnn", True, False, mixed=True) == "cuDNN fused kernel, mixed float16"
    assert describe("cudnn", False, False) == "cuDNN allowed, not in use"
    assert describe("xla", False, False) == "graph, no XLA"


def test_the_cudnn_check_reads_the_traced_graph():
    """A cuDNN op nested in a while loop is found without running it (a CPU can trace the
    op, not run it); a program without one is not mistaken for one."""
    from rnntui.engine.tfload import quiet_tensorflow

    tf = quiet_tensorflow()

    @tf.function
    def with_cudnn(x, h, c, p):
        def body(i, acc):
            out = tf.raw_ops.CudnnRNN(input=x, input_h=h, input_c=c, params=p, rnn_mode="lstm")
            return i + 1, acc + tf.reduce_sum(out[0])

        return tf.while_loop(lambda i, _: i < 2, body, (0, 0.0))[1]

    spec = tf.TensorSpec
    traced = with_cudnn.get_concrete_function(spec([5, 2, 3]), spec([1, 2, 4]),
                                              spec([1, 2, 4]), spec([None]))
    assert graph_uses_cudnn(traced)

    @tf.function
    def plain(x):
        return tf.reduce_sum(x * 2)

    assert not graph_uses_cudnn(plain.get_concrete_function(spec([3])))


def run(cfg, insight=True, jit=None):
    events = []
    final = train(cfg, events.append, insight=insight, jit=jit)
    started = next(e for e in events if isinstance(e, Started))
    compiled = next(e for e in events if isinstance(e, Compiled))
    return final, started, compiled


def test_on_the_cpu_lstm_trains_with_xla_and_a_notice_for_cudnn_and_mixed():
    cfg = preset("r2rt").with_values(cell="lstm", cudnn="on", precision="mixed", device="cpu",
                                     **TINY)
    final, started, compiled = run(cfg, jit=True)  # (a run this short would not use XLA)
    assert isinstance(final, Finished)
    assert started.notice == ("cudnn: on needs a GPU; using XLA on the CPU; precision: mixed"
                              " needs a GPU; training in float32 on the CPU")
    assert compiled.kernel == "XLA" and compiled.fused is False


def test_the_cudnn_model_uses_keras_layers_with_the_same_weights():
    """cuDNN mode builds Keras's own LSTM/GRU, rolled, with cuDNN allowed; the weights
    have the XLA model's shapes and order, so checkpoints move between the two."""
    from rnntui.engine.model import build_model

    for cell in ("lstm", "gru"):
        cfg = Config().with_values(cell=cell, state_size=6, num_steps=5, num_layers=2)
        xla, cudnn = build_model(cfg, seed=1), build_model(cfg, seed=1, kernel="cudnn")
        layer = cudnn.get_layer(f"{cell}0")
        assert layer.use_cudnn == "auto" and layer.unroll is False
        assert xla.get_layer(f"{cell}0").unroll is True
        if cell == "lstm":
            assert xla.get_layer("lstm0").use_cudnn is False  # never inside XLA
        assert [w.shape for w in xla.weights] == [w.shape for w in cudnn.weights]
    assert build_model(cfg, kernel="xla").get_layer("gru0").cell.__class__.__name__ == "GRUCell"


def test_mixed_precision_model_trains_with_loss_scaling():
    """The mixed path, run on the CPU (slowly, but for real): float16 recurrent layers,
    float32 weights, logits and carried state, a LossScaleOptimizer, falling losses; the
    reported gradient norm is that of applied steps, never a skipped step's inf."""
    from rnntui.engine.tfload import quiet_tensorflow

    tf = quiet_tensorflow()
    cfg = preset("r2rt").with_values(cell="lstm", state_size=8, optimizer="adam",
                                     learning_rate=0.02, clip_norm=1.0, batch_size=20)
    with tf.device("/CPU:0"):
        _train_mixed(tf, cfg)


def _train_mixed(tf, cfg):
    import keras

    from rnntui.data.generator import generate, windows
    from rnntui.engine.model import build_model, build_optimizer
    from rnntui.engine.steps import Steps

    model = build_model(cfg, seed=0, mixed=True)
    optimizer = build_optimizer(cfg, mixed=True)
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    rnn = model.get_layer("lstm0")
    assert rnn.compute_dtype == "float16" and rnn.variable_dtype == "float32"
    assert model.get_layer("logits").compute_dtype == "float32"
    assert all(v.dtype == "float32" for v in model.weights)
    x, y = generate(20 * 5 * 120, 0)
    xw, yw = windows(x, 20, 5), windows(y, 20, 5)
    steps = Steps(tf, model, optimizer, cfg, 40, jit=True, mixed=True)  # as a GPU runs it
    state = steps.zero_state()
    losses = []
    for c in range(0, 120, 40):
        chunk, norm, state = steps.train(xw[c:c + 40], yw[c:c + 40], state)
        losses.append(chunk)
        assert np.isfinite(norm) and norm > 0  # the start's skipped steps left out
    assert all(s.dtype == tf.float32 for s in state)
    losses = np.concatenate(losses)
    assert np.isfinite(losses).all()
    assert losses[-20:].mean() < losses[:20].mean() - 0.03
    assert float(optimizer.dynamic_scale.numpy()) > 1  # scaling in use


@pytest.mark.parametrize("values", [
    dict(cell="basic", state_size=1024, num_steps=200, batch_size=2),
    dict(cell="lstm", state_size=1024, num_steps=10, batch_size=4),
])
def test_the_largest_state_and_window_train(values):
    cfg = Config().with_values(optimizer="adam", learning_rate=0.001, **values)
    per = values["batch_size"] * values["num_steps"]
    # Insight off: this is about the trainer at its largest (the probe's programs alone took
    # ~9 s to get ready here for basic 1024 over 200 steps).
    final, started, _ = run(cfg.with_values(size=per * 3, val_size=per, epochs=1), False)
    assert isinstance(final, Finished), final
    assert final.step == 3 and np.isfinite(final.val_loss)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_cudnn_mode_program_trains_like_xla(cell):
    """cuDNN mode: Keras's own layer, rolled, cuDNN allowed, in a graph program without XLA
    (a cuDNN op cannot sit in an XLA cluster). Without a GPU the layer falls back to
    Keras's generic loop, but the model and the program are the ones a GPU runs: from the
    same weights they must train to XLA's losses. (Keras takes cuDNN whenever a GPU is
    visible, wherever the op is placed: test_gpu has this test with the real kernel.)"""
    from rnntui.engine.tfload import quiet_tensorflow

    tf = quiet_tensorflow()
    if tf.config.list_logical_devices("GPU"):
        pytest.skip("about the CPU fallback; a visible GPU makes Keras trace cuDNN")
    runs = cudnn_and_xla_runs(tf, cell)
    (a, sa), (b, sb) = runs
    np.testing.assert_allclose(b, a, atol=1e-5)
    for s1, s2 in zip(sa, sb, strict=True):
        np.testing.assert_allclose(s2, s1, atol=1e-5)
    assert a[-10:].mean() < a[:10].mean()  # it trained


def cudnn_and_xla_runs(tf, cell):
    """(losses, final state) of 60 batches from the same weights: XLA, then cuDNN mode."""
    from rnntui.data.generator import generate, windows
    from rnntui.engine.model import build_model, build_optimizer
    from rnntui.engine.steps import Steps

    cfg = preset("r2rt").with_values(cell=cell, state_size=8, optimizer="adam",
                                     learning_rate=0.02, clip_norm=0.5, batch_size=20)
    x, y = generate(20 * 5 * 60, 3)
    xw, yw = windows(x, 20, 5), windows(y, 20, 5)
    xla_model = build_model(cfg, seed=0)
    cudnn_model = build_model(cfg, seed=0, kernel="cudnn")
    cudnn_model.set_weights(xla_model.get_weights())
    runs = []
    for model, jit in ((xla_model, True), (cudnn_model, False)):
        steps = Steps(tf, model, build_optimizer(cfg), cfg, 30, jit=jit)
        state, losses = steps.zero_state(), []
        for c in (0, 30):
            chunk, _, state = steps.train(xw[c:c + 30], yw[c:c + 30], state)
            losses.append(chunk)
        runs.append((np.concatenate(losses), [s.numpy() for s in state]))
    return runs
