"""The whole-window kernels (engine/kernels.py, engine/window.py) compute what Keras's own
layers compute, loss and every gradient, for every cell, 1 and 2 layers, the state carried
or not; under XLA too. A run trained with them exports to plain Keras and predicts the
same; a checkpoint written before them resumes to the losses the old code trained, and
draws the sample it drew."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnntui.cli import main
from rnntui.config import Config
from rnntui.core.events import Compiled, Progress
from rnntui.engine import train
from rnntui.engine.accel import batch_macs, choose_kernel, describe
from rnntui.engine.checkpoint import load as load_checkpoint
from rnntui.engine.plan import choose_chunk, jit_for
from rnntui.engine.tfload import pooled_host_memory
from rnntui.runs.folders import open_run
from rnntui.runs.session import train_into_run

FIXTURES = Path(__file__).parent / "fixtures"
TEXT = ("the cat sat on the mat.\nthe dog sat on the log.\n\tthe end.\n" * 400)
# A char model big enough a batch (plan.batch_macs >= 8M) for the window kernels.
CHAR = dict(cell="gru", state_size=64, num_steps=40, batch_size=32, learning_rate=0.01)


def _tf():
    from rnntui.engine.tfload import quiet_tensorflow

    return quiet_tensorflow()


def _pair(config: Config):
    """The config's network with Keras's layers and with the window kernels, the same
    weights in both."""
    from rnntui.engine.model import build_model

    keras_model = build_model(config, seed=3, kernel="xla")
    window = build_model(config, kernel="window")
    rng = np.random.default_rng(0)
    weights = [w + rng.normal(0, 0.3, w.shape).astype(np.float32)
               for w in keras_model.get_weights()]
    keras_model.set_weights(weights)
    window.set_weights(weights)  # the same layout, shape for shape
    return keras_model, window


def _two_windows(tf, model, config: Config, carry: bool):
    """Loss of a window, then the loss of the next from the state it leaves (reset to
    zeros with carry off) and its gradients, from a state that is not zeros."""
    from rnntui.engine.forward import make_forward

    t, m = config.train, config.model
    rng = np.random.default_rng(1)
    x = rng.integers(0, 2, (2, t.batch_size, t.num_steps)).astype(np.uint8)
    y = rng.integers(0, 2, (2, t.batch_size, t.num_steps)).astype(np.uint8)
    n_states = len(model.inputs) - 1
    state = [tf.constant(rng.normal(0, 0.5, (t.batch_size, m.state_size)), tf.float32)
             for _ in range(n_states)]
    forward = make_forward(tf, model, carry)
    first, _, state = forward(x[0], y[0], state, True)
    with tf.GradientTape() as tape:
        second, _, state = forward(x[1], y[1], state, True)
    grads = tape.gradient(second, model.trainable_variables)
    return [first.numpy(), second.numpy(), *(s.numpy() for s in state),
            *(g.numpy() for g in grads)]


@pytest.mark.parametrize("cell", ["basic", "rnn", "gru", "lstm"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("carry", [True, False])
def test_the_window_kernels_compute_what_keras_layers_compute(cell, layers, carry):
    tf = _tf()
    config = Config().with_values(cell=cell, num_layers=layers, state_size=6, num_steps=7,
                                  batch_size=5, carry_state=carry)
    keras_model, window = _pair(config)
    want = _two_windows(tf, keras_model, config, carry)
    got = _two_windows(tf, window, config, carry)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, atol=1e-5, rtol=1e-5)
    assert np.abs(want[-1]).max() > 1e-3  # a real gradient, not zeros


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_the_window_program_under_xla_trains_as_keras_layers_do(cell):
    """A compiled chunk of three updates (adam, clipping, the state carried) on each."""
    from rnntui.engine.model import build_optimizer
    from rnntui.engine.steps import Steps

    tf = _tf()
    config = Config().with_values(cell=cell, num_layers=2, state_size=8, num_steps=6,
                                  batch_size=4, optimizer="adam", learning_rate=0.01)
    models = _pair(config)
    rng = np.random.default_rng(2)
    xs = rng.integers(0, 2, (3, 4, 6)).astype(np.uint8)
    ys = rng.integers(0, 2, (3, 4, 6)).astype(np.uint8)
    out = []
    for model in models:
        steps = Steps(tf, model, build_optimizer(config), config, chunk=3, jit=True)
        losses, norm, state = steps.train(xs, ys, steps.zero_state())
        out.append((losses, norm, [s.numpy() for s in state], model.get_weights()))
    (l1, n1, s1, w1), (l2, n2, s2, w2) = out
    np.testing.assert_allclose(l2, l1, atol=1e-5)
    np.testing.assert_allclose(n2, n1, rtol=1e-5)
    for a, b in zip(s2 + w2, s1 + w1, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_a_char_model_takes_the_window_kernels_and_the_seed_task_keras_layers():
    char = Config().with_values(cell="lstm", num_layers=2, state_size=128, num_steps=50,
                                batch_size=50)
    r2rt = Config().with_values(cell="basic", state_size=16, num_steps=10, batch_size=200)
    assert batch_macs(char) > 100 * batch_macs(r2rt)
    assert choose_kernel(char, on_gpu=False) == ("window", "")
    assert choose_kernel(r2rt, on_gpu=False) == ("xla", "")
    # Under tf.distribute there is no XLA: Keras's layers.
    assert choose_kernel(char, on_gpu=False, distributed=True) == ("xla", "")
    # XLA compiles the window kernels in seconds: even a short run gets it.
    assert jit_for(char, "window", distributed=False)
    assert not jit_for(char, "window", distributed=True)
    assert describe("window", False, True) == "XLA, whole-window kernels"
    assert describe("window", False, False) == "graph, whole-window kernels"
    # A chunk of a char model's batches stays within stop's 200 ms (about 0.2 ns a MAC).
    assert choose_chunk(char, 400) * batch_macs(char) * 2e-10 <= 0.2
    # TensorFlow's pooling allocator for a first config on the window kernels only.
    assert pooled_host_memory(char) and not pooled_host_memory(r2rt)
    assert not pooled_host_memory(None)


@pytest.fixture(scope="module")
def window_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("window")
    text = folder / "text.txt"
    text.write_text(TEXT, encoding="utf-8")
    events, opened = [], []
    config = Config().with_values(data_file=str(text), epochs=1, **CHAR).with_values(
        optimizer="adam")
    end = train_into_run(config, events.append, runs_dir=folder / "runs",
                         opened=opened.append)
    assert type(end).__name__ == "Finished", end
    return opened[0], events


def test_a_run_on_the_window_kernels_learns_and_says_so(window_run):
    _, events = window_run
    assert next(e for e in events if isinstance(e, Compiled)).kernel == (
        "XLA, whole-window kernels")
    losses = [x for e in events if isinstance(e, Progress) for x in e.losses]
    assert losses[-1] < losses[0] - 0.3


def test_a_window_run_exports_to_plain_keras_and_predicts_the_same(window_run, tmp_path):
    from rnntui.engine.model import build_model

    run_path, _ = window_run
    out = tmp_path / "model.keras"
    assert main(["export", str(run_path), "--keras", str(out)]) == 0
    run = open_run(run_path)
    width = build_model(run.config).inputs[0].shape[-1]
    x = np.random.default_rng(0).integers(0, width, (3, CHAR["num_steps"]))
    np.save(tmp_path / "x.npy", x)
    code = (f"import sys, numpy as np, keras; m = keras.saving.load_model({str(out)!r}, "
            f"safe_mode=True); x = np.eye({width}, dtype='float32')[np.load("
            f"{str(tmp_path)!r} + '/x.npy')]; s = np.zeros((3, 64), 'float32'); "
            f"np.save({str(tmp_path)!r} + '/p.npy', np.asarray(m([x, s])[0])); "
            f"assert 'rnntui' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    ours = build_model(run.config, kernel="window")
    ours.set_weights(run.checkpoint.weights)
    onehot = np.eye(width, dtype="float32")[x]
    want = np.asarray(ours([onehot, np.zeros((3, 64), "float32")])[0])
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), want, atol=1e-5)


def test_a_checkpoint_from_before_the_window_kernels_resumes_to_the_same_losses(tmp_path):
    """tests/fixtures/make_old_checkpoint.py wrote it with Keras's GRU (commit 82227f3), and
    the losses that code trained on from it; today's code takes the window kernels."""
    old = json.loads((FIXTURES / "old_checkpoint.json").read_text())
    assert old["config"] == CHAR
    text = tmp_path / "old_text.txt"
    text.write_text(TEXT, encoding="utf-8")
    config = Config().with_values(data_file=str(text), epochs=2, **CHAR)
    events = []
    end = train(config, events.append, checkpoint_path=tmp_path / "resumed.npz",
                resume=load_checkpoint(FIXTURES / "old_checkpoint.npz"))
    assert type(end).__name__ == "Finished", end
    assert next(e for e in events if isinstance(e, Compiled)).kernel == (
        "XLA, whole-window kernels")
    losses = [x for e in events if isinstance(e, Progress) for x in e.losses]
    np.testing.assert_allclose(losses, old["resumed_losses"], atol=1e-4)


def test_the_same_seed_draws_the_sample_it_drew_before_the_window_kernels(tmp_path):
    """`rnntui sample`'s sampler, on the old checkpoint's weights in today's network."""
    from rnntui.data.source import resolve
    from rnntui.engine.model import build_model
    from rnntui.engine.sampling import Sampler

    old = json.loads((FIXTURES / "old_checkpoint.json").read_text())
    text = tmp_path / "old_text.txt"
    text.write_text(TEXT, encoding="utf-8")
    config = resolve(Config().with_values(data_file=str(text), **CHAR))
    model = build_model(config, kernel="window")
    model.set_weights(load_checkpoint(FIXTURES / "old_checkpoint.npz").weights)
    assert Sampler(_tf(), config, model).draw([3, 4, 5], (0.5, 1.0), 40, 7) == old["sample"]


def test_the_insight_reads_a_window_models_gates():
    """The seed's task with a model big enough for the window kernels: its hidden-state
    panel reads the layer's weights by name, as it reads Keras's cells."""
    from rnntui.config import preset
    from rnntui.core.events import Insight

    config = preset("r2rt").with_values(cell="lstm", state_size=64, batch_size=200,
                                        num_steps=10, size=40_000, val_size=20_000, epochs=1)
    events = []
    end = train(config, events.append)
    assert type(end).__name__ == "Finished", end
    assert next(e for e in events if isinstance(e, Compiled)).kernel == (
        "XLA, whole-window kernels")
    gates = [e.gates for e in events if isinstance(e, Insight) and e.gates]
    assert gates and set(gates[-1]) == {"i", "f", "o", "c"}


@pytest.mark.parametrize("cell", ["basic", "gru", "lstm"])
def test_training_from_the_symbols_computes_what_the_model_call_computes(cell):
    """make_forward runs a window model from the symbols (window.from_symbols: the first
    layer's projection a row gather); the model itself takes one-hot inputs (the probe and
    the truncation styles' parts call it). Loss, state and every gradient agree."""
    from rnntui.engine.forward import forward_onehot, make_forward
    from rnntui.engine.window import from_symbols

    tf = _tf()
    config = Config().with_values(cell=cell, num_layers=2, state_size=6, num_steps=7,
                                  batch_size=5)
    _, window = _pair(config)
    assert from_symbols(window) is not None
    rng = np.random.default_rng(4)
    x = rng.integers(0, 2, (5, 7)).astype(np.uint8)
    y = rng.integers(0, 2, (5, 7)).astype(np.uint8)
    state = [tf.constant(rng.normal(0, 0.5, (5, 6)), tf.float32)
             for _ in range(len(window.inputs) - 1)]
    out = []
    for forward in (make_forward(tf, window, True),
                    lambda x, *a: forward_onehot(tf, window, True)(tf.one_hot(x, 2), *a)):
        with tf.GradientTape() as tape:
            loss, _, new = forward(tf.constant(x.astype(np.int32)), y, state, True)
        grads = tape.gradient(loss, window.trainable_variables)
        out.append([loss.numpy(), *(s.numpy() for s in new), *(g.numpy() for g in grads)])
    for a, b in zip(*out, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)
