"""Part II's cells (issue 25 §2): dropout on the non-recurrent connections, on only while
training, and layer normalization inside the cell, against a numpy reference of Ba et
al.'s equations; both train, checkpoint, resume, export and load in plain Keras (with
rnntui's registered cell), and the insight reads a layer-normed cell's gates."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from rnntui.cli import main
from rnntui.config import Config
from rnntui.core.events import Compiled, EpochEnd, Insight, Progress
from rnntui.engine import train
from rnntui.engine.accel import choose_kernel
from rnntui.engine.checkpoint import load as load_checkpoint
from rnntui.insight import measures
from rnntui.runs.folders import open_run
from rnntui.runs.session import train_into_run


def _tf():
    from rnntui.engine.tfload import quiet_tensorflow

    return quiet_tensorflow()


def _sig(v):
    return 1 / (1 + np.exp(-v))


def _ln(v, gamma, parts):
    """Each of `parts` equal slices of the last axis to mean 0 and variance 1, times gamma."""
    out = []
    for p in np.split(v, parts, axis=-1):
        out.append((p - p.mean(-1, keepdims=True)) / np.sqrt(p.var(-1, keepdims=True) + 1e-5))
    return np.concatenate(out, axis=-1) * gamma


def _reference_step(kind, w, x, h, c):
    """Ba et al. 2016's layer-normed cells, one step, written from the paper's equations
    (GRU with the reset after the recurrent matmul, as Keras's): (h', c', gates)."""
    gates = {"basic": 1, "rnn": 1, "gru": 3, "lstm": 4}[kind]
    u = h.shape[-1]
    ax = _ln(x @ w["kernel"], w["gamma_x"], gates)
    ah = _ln(h @ w["recurrent_kernel"], w["gamma_h"], gates)
    if kind == "gru":
        ax, ah = ax + w["bias"][0], ah + w["bias"][1]
        z, r = _sig(ax[:, :u] + ah[:, :u]), _sig(ax[:, u:2 * u] + ah[:, u:2 * u])
        cand = np.tanh(ax[:, 2 * u:] + r * ah[:, 2 * u:])
        return z * h + (1 - z) * cand, None, {"z": z, "r": r}
    a = ax + ah + w["bias"]
    if kind != "lstm":
        return np.tanh(a), None, {}
    i, f, g, o = (a[:, k * u:(k + 1) * u] for k in range(4))
    i, f, g, o = _sig(i), _sig(f), np.tanh(g), _sig(o)
    c = f * c + i * g
    return o * np.tanh(_ln(c, w["gamma_c"], 1) + w["beta_c"]), c, {"i": i, "f": f, "o": o}


@pytest.mark.parametrize("kind", ["basic", "rnn", "gru", "lstm"])
def test_a_layer_normed_cell_computes_ba_et_als_equations(kind):
    from rnntui.engine.norm import EPSILON, LayerNormCell

    _tf()
    assert EPSILON == measures.NORM_EPSILON
    rng = np.random.default_rng(0)
    cell = LayerNormCell(kind, 5)
    cell.build((3, 4))
    for v in cell.weights:  # away from the initial ones and zeros: every term counts
        v.assign(v.numpy() + rng.normal(0, 0.5, v.shape).astype("float32"))
    w = {v.name: v.numpy().astype(np.float64) for v in cell.weights}
    x, h, c = (rng.normal(0, 1, (3, n)) for n in (4, 5, 5))
    states = [h, c] if kind == "lstm" else [h]
    got, got_states = cell(x.astype("float32"), [s.astype("float32") for s in states])
    want, want_c, want_gates = _reference_step(kind, w, x, h, c)
    np.testing.assert_allclose(np.asarray(got), want, atol=1e-5)
    if kind == "lstm":
        np.testing.assert_allclose(np.asarray(got_states[1]), want_c, atol=1e-5)
    # The insight's gates (numpy, from the weights by name) are the cell's.
    gates = measures.gates(kind, w, x[:, None], want[:, None], h[:, None])
    for name, value in want_gates.items():
        np.testing.assert_allclose(gates[name][:, 0], value, atol=1e-6)


def test_a_layer_normed_cell_takes_neither_the_window_kernels_nor_cudnn():
    from rnntui.engine.model import unrolled

    char = Config().with_values(cell="lstm", num_layers=2, state_size=128, num_steps=50,
                                batch_size=50, layer_norm=True)
    assert choose_kernel(char, on_gpu=False) == ("xla", "")
    kernel, why = choose_kernel(char, on_gpu=True)
    assert kernel == "xla" and why.startswith("layer_norm: cuDNN has no layer-normed cell")
    assert choose_kernel(char.with_values(cudnn="off"), on_gpu=True) == ("xla", "")
    # A layer-normed loop is rolled (unrolled, its graph took 9.4 s to build); the seed
    # task's short windows stay unrolled without it.
    assert not unrolled(char) and not unrolled(Config().with_values(layer_norm=True))
    assert unrolled(Config())
    assert choose_kernel(char.with_values(layer_norm=False), on_gpu=False) == ("window", "")


def _steps(tf, config, seed):
    from rnntui.engine.model import build_model, build_optimizer
    from rnntui.engine.steps import Steps

    model = build_model(config.with_values(seed=seed), seed=0)
    return Steps(tf, model, build_optimizer(config), config, chunk=2, jit=False)


def test_dropout_is_off_in_evaluation_and_on_in_training():
    tf = _tf()
    config = Config().with_values(cell="gru", num_layers=2, state_size=8, num_steps=6,
                                  batch_size=4, dropout=0.5, optimizer="adam")
    rng = np.random.default_rng(3)
    xs = rng.integers(0, 2, (2, 4, 6)).astype(np.uint8)
    ys = rng.integers(0, 2, (2, 4, 6)).astype(np.uint8)
    a, b = _steps(tf, config, seed=1), _steps(tf, config, seed=2)
    plain = _steps(tf, config.with_values(dropout=0.0), seed=1)
    weights = a.model.get_weights()
    for s in (b, plain):
        s.model.set_weights(weights)  # the same weights: dropout is all that differs
    # Validation: the same numbers twice, and those of the same net without dropout.
    first, again, none = (s.evaluate(xs, ys) for s in (a, a, plain))
    assert first[0] == again[0] and np.array_equal(first[1], again[1])
    np.testing.assert_allclose(first[0], none[0], rtol=1e-6)
    # Training: the masks depend on the seed, and a rerun of a seed draws its masks again.
    loss_a, _, _ = a.train(xs, ys, a.zero_state())
    loss_b, _, _ = b.train(xs, ys, b.zero_state())
    again = _steps(tf, config, seed=1)
    again.model.set_weights(weights)
    loss_again, _, _ = again.train(xs, ys, again.zero_state())
    assert loss_a[0] != loss_b[0]
    np.testing.assert_array_equal(loss_a, loss_again)
    assert len([layer for layer in a.model.layers if "dropout" in layer.name]) == 2


def _losses(events, epoch):
    return [x for e in events if isinstance(e, Progress) and e.epoch == epoch for x in e.losses]


def test_a_dropout_run_resumes_to_the_masks_the_whole_run_draws(tmp_path):
    config = Config().with_values(cell="rnn", state_size=8, size=4000, val_size=1000,
                                  batch_size=20, num_steps=5, dropout=0.3, epochs=2,
                                  optimizer="adam", learning_rate=0.01)
    whole, part, rest = [], [], []
    assert type(train(config, whole.append)).__name__ == "Finished"
    ckpt = tmp_path / "one.npz"
    end = train(config.with_values(epochs=1), part.append, checkpoint_path=ckpt)
    assert type(end).__name__ == "Finished", end
    saved = load_checkpoint(ckpt)
    assert len(saved.random) == 1 and saved.random[0][1] > 0  # masks were drawn
    end = train(config, rest.append, checkpoint_path=tmp_path / "two.npz", resume=saved)
    assert type(end).__name__ == "Finished", end
    assert _losses(part, 0) == _losses(whole, 0)
    assert _losses(rest, 1) and _losses(rest, 0) == []
    np.testing.assert_array_equal(_losses(rest, 1), _losses(whole, 1))


@pytest.fixture(scope="module")
def normed_run(tmp_path_factory):
    """A layer-normed LSTM, 2 layers with dropout between, on the seed's task."""
    folder = tmp_path_factory.mktemp("normed")
    config = Config().with_values(cell="lstm", num_layers=2, state_size=16, num_steps=10,
                                  batch_size=50, size=40_000, val_size=20_000, epochs=1,
                                  layer_norm=True, dropout=0.1, optimizer="adam",
                                  learning_rate=0.01)
    events, opened = [], []
    end = train_into_run(config, events.append, runs_dir=folder / "runs",
                         opened=opened.append)
    assert type(end).__name__ == "Finished", end
    return opened[0], events


def test_a_layer_normed_run_learns_and_the_insight_reads_its_gates(normed_run):
    _, events = normed_run
    assert next(e for e in events if isinstance(e, Compiled))
    val = [e.val_loss for e in events if isinstance(e, EpochEnd)]
    assert val[-1] < 0.6616 - 0.05  # below the learned-nothing floor
    gates = [e.gates for e in events if isinstance(e, Insight) and e.gates]
    assert gates and set(gates[-1]) == {"i", "f", "o", "c"}


def test_a_layer_normed_run_exports_and_loads_with_rnntuis_cells(normed_run, tmp_path):
    from rnntui.engine.model import build_model

    run_path, _ = normed_run
    out = tmp_path / "model.keras"
    assert main(["export", str(run_path), "--keras", str(out)]) == 0
    run = open_run(run_path)
    x = np.random.default_rng(0).integers(0, 2, (3, 25))
    np.save(tmp_path / "x.npy", x)
    code = (f"import numpy as np, keras, rnntui.engine.norm; m = keras.saving.load_model("
            f"{str(out)!r}, safe_mode=True); x = np.eye(2, dtype='float32')[np.load("
            f"{str(tmp_path)!r} + '/x.npy')]; s = [np.zeros((3, 16), 'float32')] * 4; "
            f"np.save({str(tmp_path)!r} + '/p.npy', np.asarray(m([x, *s])[0]))")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    ours = build_model(run.config.with_values(num_steps=25))
    ours.set_weights(run.checkpoint.weights)
    onehot = np.eye(2, dtype="float32")[x]
    want = np.asarray(ours([onehot, *[np.zeros((3, 16), "float32")] * 4], training=False)[0])
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), want, atol=1e-5)


@pytest.mark.parametrize("argv, says", [
    (["--dropout", "0.95"], "dropout: 0.95 is out of range: a number from 0 to 0.9"),
    (["--dropout", "-0.1"], "dropout: -0.1 is out of range"),
    (["--dropout", "half"], "dropout: 'half' is not a number"),
    (["--config-string", "layer_norm=maybe"], "layer_norm: 'maybe' is not true or false"),
])
def test_bad_dropout_and_layer_norm_are_one_line(capsys, argv, says):
    assert main(["train", *argv]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and says in err, err


def test_inspect_names_the_cells_dropout_and_layer_norm(normed_run, capsys):
    run_path, _ = normed_run
    assert main(["inspect", str(run_path)]) == 0
    head = capsys.readouterr().out.splitlines()[0]
    assert "lstm 16, dropout 0.1, layer-normed, num_steps 10" in head, head


def test_dropout_and_layer_norm_train_mirrored_over_two_cpu_devices():
    config = Config().with_values(cell="gru", num_layers=2, state_size=6, size=1200,
                                  val_size=600, batch_size=10, num_steps=4, epochs=1,
                                  device="cpu", dropout=0.3, layer_norm=True,
                                  strategy="mirrored", replicas=2)
    events = []
    end = train(config, events.append)
    assert type(end).__name__ == "Finished", end
    losses = [x for e in events if isinstance(e, Progress) for x in e.losses]
    assert len(losses) == 30 and all(np.isfinite(losses))
