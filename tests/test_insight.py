"""The insight engine for real: hand-set networks whose effects and gradients are known
exactly, the article's window share, and one tiny training read back by `rnntui inspect`."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from rnntui.cli import main
from rnntui.config import Config
from rnntui.data.baselines import verdict
from rnntui.data.source import val_series
from rnntui.insight.measures import lags_shown, reach_horizon, true_deltas, window_share
from rnntui.insight.probe import Probe
from rnntui.insight.schedule import BUDGET, affordable

C, D, W, B = 1.5, 2.0, 3.0, -0.5  # the shift register's weights (see `register`)


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def register(lag: int) -> float:
    """tanh(D * ... tanh(D * tanh(C * x))) through `lag` units, for x = 1 (0 gives 0)."""
    g = math.tanh(C)
    for _ in range(lag):
        g = math.tanh(D * g)
    return g


def tiny(**values) -> Config:
    base = dict(cell="basic", state_size=8, num_steps=5, batch_size=10, size=2_000,
                val_size=3_000, rules=((3, 0.5),))
    return Config().with_values(**{**base, **values})


@pytest.fixture(scope="module")
def tf():
    from rnntui.engine.tfload import quiet_tensorflow

    return quiet_tensorflow()


def shift_register(tf, cfg: Config, read: int):
    """A basic cell whose unit 0 is tanh(C x_t) and unit j is tanh(D * unit j-1 at t-1), and
    logits that read unit `read`: P(Y_t=1) = sigmoid(W g(X[t-read]) + B), exactly."""
    from rnntui.engine.model import build_model

    model = build_model(cfg, seed=0)
    units = cfg.model.state_size
    kernel = np.zeros((2 + units, units), np.float32)
    kernel[1, 0] = C  # the one-hot input's x=1 row
    for j in range(1, units):
        kernel[2 + j - 1, j] = D
    model.get_layer("basic0").set_weights([kernel, np.zeros(units, np.float32)])
    dense = np.zeros((units, 2), np.float32)
    dense[read, 1] = W
    model.get_layer("logits").set_weights([dense, np.array([0.0, B], np.float32)])
    return model


def probe(tf, cfg: Config, model) -> Probe:
    return Probe(tf, model, cfg, *val_series(cfg.data))


@pytest.mark.parametrize("carry, read", [(True, 3), (True, 7), (False, 3), (False, 7)])
def test_hand_set_effects_are_exact(tf, carry, read):
    """The effect is sigmoid(W g(1) + B) - sigmoid(B) at the read lag and 0 elsewhere; with
    the state reset every window only the positions whose window holds t-lag see it."""
    cfg = tiny(carry_state=carry)
    effects, se = probe(tf, cfg, shift_register(tf, cfg, read)).effects()
    full = sigmoid(W * register(read) + B) - sigmoid(B)
    share = window_share(5, lags_shown(cfg.data.rules))
    expected = np.zeros(len(effects))
    expected[read] = full * (1.0 if carry else share[read])
    assert len(effects) == len(se) == 13  # K = max(3 + 4, 12)
    np.testing.assert_allclose(effects, expected, atol=1e-6)
    # Every row flips the same way when the state carries: no spread; with resets, the
    # rows whose window cuts the lag off read 0, and the error bar says so.
    assert se[read] < 1e-6 if carry or share[read] == 0 else se[read] > 1e-3


def test_hidden_state_sits_on_the_predictions_window(tf):
    """Unit j holds g_j(X[t-j]) and P(Y=1) is the register's, at the positions asked for."""
    cfg = tiny()
    p = probe(tf, cfg, shift_register(tf, cfg, 3))
    vx, _ = val_series(cfg.data)
    start, stop = 140, 260
    h, probs, gates = p.hidden(start, stop)
    assert h.shape == (120, 8) and gates == {}
    t = np.arange(start, stop)
    for j in (0, 3, 7):
        np.testing.assert_allclose(h[:, j], vx[t - j] * register(j), atol=1e-6)
    np.testing.assert_allclose(probs, sigmoid(W * vx[t - 3] * register(3) + B), atol=1e-6)
    event = p.measure(5, (start, stop))
    assert event.units == list(range(8)) and len(event.hidden[0]) == 120
    assert event.true_deltas[3] == 0.5 and sum(event.true_deltas) == 0.5


def test_gates_of_an_lstm_lie_between_0_and_1(tf):
    from rnntui.engine.model import build_model

    cfg = tiny(cell="lstm", state_size=20)
    event = probe(tf, cfg, build_model(cfg, seed=0)).measure(0, (140, 260))
    assert set(event.gates) == {"c", "i", "f", "o"}
    assert len(event.units) == 16 and len(event.gates["f"]) == 16
    f = np.array(event.gates["f"])
    assert f.shape == (16, 120) and (f > 0).all() and (f < 1).all()


@pytest.mark.parametrize("decay", [0.5, 0.9])
def test_linear_rnn_gradient_decays_as_its_weight(tf, decay):
    """h_t = tanh(decay h_{t-1} + tiny input): tanh is the identity to 1e-8 there, so
    dLoss_t/dX[t-k] is decay^k times lag 0's, in every row."""
    from rnntui.engine.model import build_model

    cfg = tiny(state_size=1)
    model = build_model(cfg, seed=0)
    model.get_layer("basic0").set_weights([np.array([[1e-4], [-1e-4], [decay]], np.float32),
                                           np.zeros(1, np.float32)])
    model.get_layer("logits").set_weights([np.array([[0.0, 1.0]], np.float32),
                                           np.zeros(2, np.float32)])
    reach = np.array(probe(tf, cfg, model).reach())
    np.testing.assert_allclose(reach / reach[0], decay ** np.arange(len(reach)), rtol=1e-4)
    # Against the largest rule lag's (t-3): 0.5^7 < 1% < 0.5^6, so from t-10; 0.9 stays
    # above 1% for the 12 lags measured.
    assert reach_horizon(reach.tolist(), 3) == (10 if decay == 0.5 else None)


def test_window_share_is_exact_for_the_articles_windows():
    """Position j of a window of n sees lags 0..j: count them."""
    for n in (1, 2, 5, 10):
        counted = [sum(1 for j in range(n) if j >= k) / n for k in range(13)]
        assert window_share(n, 12) == counted
    assert window_share(5, 8) == [1.0, 0.8, 0.6, 0.4, 0.2, 0.0, 0.0, 0.0, 0.0]


def test_measuring_stays_within_its_budget_of_the_training_time():
    cost = 0.01
    assert not affordable(0.0, cost, cost / BUDGET - 0.01)  # too early for the first
    assert affordable(0.0, cost, cost / BUDGET)
    assert not affordable(cost, cost, 2 * cost / BUDGET - 0.01)  # the next one waits
    assert affordable(cost, cost, 2 * cost / BUDGET)


def test_lags_and_true_deltas():
    assert lags_shown(((3, 0.5), (8, -0.25))) == 12
    assert lags_shown(((20, 0.1),)) == 24 and lags_shown(((900, 0.1),)) == 64
    assert true_deltas(((3, 0.5), (8, -0.25)), 9) == [0, 0, 0, 0.5, 0, 0, 0, 0, -0.25, 0]


def test_verdict_says_the_learned_effect_against_the_delta():
    effects = [0.0] * 13
    effects[3], effects[8] = 0.49, -0.19
    v = verdict(0.47, 0.5, ((3, 0.5), (8, -0.25)), effects=effects)
    assert v.effects == (0.49, -0.19) and v.deltas == (0.5, -0.25)
    assert v.effect_text(1) == "-0.19 of -0.25"
    assert "t-8" in v.describe() and "(-0.19 of -0.25)" in v.describe()
    assert verdict(0.47, 0.5, ((3, 0.5),)).effects == ()  # unmeasured: as before


# -- a tiny training, then `rnntui inspect` on its run folder ----------------------------

RULES = ["--rule", "2:-0.3", "--rule", "4:0.3"]


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A basic cell of 4 learns rules at t-2 (down) and t-4 (up) inside a window of 5."""
    runs = tmp_path_factory.mktemp("runs")
    code, out, _ = run_cli("train", "--preset", "r2rt", *RULES, "--size", "60000",
                           "--val-size", "20000", "--batch-size", "50", "--epochs", "3",
                           "--json", "--runs-dir", str(runs))
    assert code == 0, out[-500:]
    events = [json.loads(line) for line in out.splitlines()]
    return events, Path(events[-1]["run"])


def test_training_recovers_the_rules_signs(trained):
    events, _ = trained
    effects = events[-1]["lag_effects"]
    assert list(effects) == [str(k) for k in range(1, 13)]  # K = max(4 + 4, 12)
    assert effects["2"] < -0.15 and effects["4"] > 0.15
    assert all(abs(effects[k]) < 0.1 for k in ("1", "3", "5", "6"))


def test_epoch_ends_and_insight_events_carry_the_effects(trained):
    events, _ = trained
    ends = [e for e in events if e["event"] == "epoch_end"]
    assert len(ends) == 3 and all(len(e["lag_effects"]) in (0, 12) for e in ends)
    assert ends[-1]["lag_effects"]  # always measured: the run's answer
    assert ends[-1]["lag_effects"] == events[-1]["lag_effects"]
    assert ends[-1]["verdict"]["effects"][0] == ends[-1]["lag_effects"]["2"]
    insights = [e for e in events if e["event"] == "insight"]
    assert insights  # the last epoch end at least
    last = insights[-1]
    assert len(last["effects"]) == len(last["reach"]) == len(last["window_share"]) == 13
    assert last["window_share"][:6] == [1.0, 0.8, 0.6, 0.4, 0.2, 0.0]
    assert len(last["hidden"]) == 4 and len(last["hidden"][0]) == 120


def test_inspect_reads_the_checkpoint_back(trained):
    events, run = trained
    code, out, _ = run_cli("inspect", str(run), "--json")
    assert code == 0
    got = json.loads(out)
    assert got["event"] == "inspect" and got["step"] == events[-1]["steps"]
    for k, e in events[-1]["lag_effects"].items():  # the final model: the same numbers
        assert got["lag_effects"][k] == pytest.approx(e, abs=1e-5)
    code, out, _ = run_cli("inspect", str(run))
    assert code == 0 and "<- rule" in out and "gradient reach" in out and "unit" in out


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_inspect_bad_run_folders(trained, tmp_path):
    _, run = trained
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not a run")
    corrupt = tmp_path / "corrupt"
    shutil.copytree(run, corrupt)
    (corrupt / "checkpoint.npz").write_bytes(b"PK\x03\x04 not really a zip")
    fresh = tmp_path / "fresh"
    shutil.copytree(run, fresh)
    (fresh / "checkpoint.npz").unlink()
    cases = {tmp_path / "missing": "no such directory", foreign: "no config.toml",
             corrupt: "corrupt", fresh: "no checkpoint"}
    for folder, why in cases.items():
        before = snapshot(folder) if folder.exists() else None
        code, out, err = run_cli("inspect", str(folder))
        assert code == 2 and out == "", (folder, out)
        assert err.count("\n") == 1 and err.startswith("error:") and why in err, err
        assert (snapshot(folder) if folder.exists() else None) == before
