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
    # The error is taken within each offset in the window: every row at one offset flips
    # alike here, carried or reset, so there is none (what differs between offsets, a
    # reset cutting the lag off, is the measure's, not noise).
    assert max(se) < 1e-6


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


def traced(p: Probe) -> int:
    """How often the gradient reach's graph was traced."""
    return p._grad.experimental_get_tracing_count()


def test_the_first_reach_runs_eagerly_and_one_measured_again_on_its_graph(tf):
    """The gradient reach's graph costs seconds to make: a probe's first reach runs
    eagerly, and the graph is made for the next (a long run's, or the next run's of a
    kept program), giving the same values within float32 rounding."""
    from rnntui.engine.model import build_model
    from rnntui.insight.schedule import Insights

    cfg = tiny(state_size=4)
    p = probe(tf, cfg, build_model(cfg, seed=0))
    insights = Insights(p)
    insights.prepare()
    assert traced(p) == 0 and "measure" in insights.cost
    first = insights.take(10, (0, 5)).reach
    assert traced(p) == 0 and insights.reach[0] == 10
    insights.reach_at = insights.start = insights.reach_at - 1000  # a long run, due again
    again = insights.take(20, (0, 5))
    assert traced(p) == 1 and insights.reach[0] == 20 and again.reach_step == 20
    np.testing.assert_allclose(again.reach, first, rtol=1e-5)
    # A kept program's next run (the same probe, a new schedule): its first reach is the
    # probe's second, on the graph.
    model = build_model(cfg, seed=0)
    kept = probe(tf, cfg, model)
    Insights(kept).take(10, (0, 5))
    assert traced(kept) == 0
    assert Insights(kept).take(5, (0, 5)).reach_step == 5 and traced(kept) == 1


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
    assert set(got["overshooting"]) <= set(got["fractions"])  # {lag: how far past its rule}
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


# -- the truth, measured: hand-set oracles, the realised floors, the memory readout ---------

def readout(tf, cfg: Config, weights: dict[int, float], bias: float, units: int = 12):
    """A shift register (unit j holds g_j(X[t-j])) whose logit is bias + sum w_j unit j:
    with one-hot input a unit is g_j or 0, so w_j = logit step / g_j reads X[t-j] exactly."""
    from rnntui.engine.model import build_model

    model = build_model(cfg, seed=0)
    kernel = np.zeros((2 + units, units), np.float32)
    kernel[1, 0] = C
    for j in range(1, units):
        kernel[2 + j - 1, j] = D
    model.get_layer("basic0").set_weights([kernel, np.zeros(units, np.float32)])
    dense = np.zeros((units, 2), np.float32)
    for j, w in weights.items():
        dense[j, 1] = w / register(j)
    model.get_layer("logits").set_weights([dense, np.array([0.0, bias], np.float32)])
    return model


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def verdict_of(cfg: Config, event) -> object:
    from rnntui.data.source import verdict as read

    return read(0.5, cfg, [], event)


def test_the_exact_oracle_reads_every_lag_fully_learned(tf):
    """P(Y=1) = 0.2 + 0.3 X[t-3] + 0.3 X[t-8] is logistic in the two X (logits -1.386,
    0, 0, +1.386), so a register reads it exactly: each fraction is 1, within its SE."""
    cfg = tiny(state_size=12, base=0.2, rules=((3, 0.3), (8, 0.3)))
    step = logit(0.5) - logit(0.2)
    model = readout(tf, cfg, {3: step, 8: step}, logit(0.2))
    event = probe(tf, cfg, model).measure(0, (140, 260))
    v = verdict_of(cfg, event)
    for i in range(2):
        assert abs(v.fractions[i] - 1.0) <= 2 * v.fractions_se[i] + 1e-5
    assert v.learned == (3, 8)


def test_a_t8_only_oracle_reads_t3_0_and_t8_1(tf):
    """The best model that knows only X[t-8] of the seed's rules: P = 0.75 - 0.25 X[t-8].
    Its loss, H(Y | X[t-8]) = 0.6277, the old loss-ordered verdict read as t-3 24%, t-8 0%."""
    cfg = tiny(state_size=12, rules=((3, 0.5), (8, -0.25)))
    model = readout(tf, cfg, {8: logit(0.5) - logit(0.75)}, logit(0.75))
    v = verdict_of(cfg, probe(tf, cfg, model).measure(0, (140, 260)))
    assert v.fractions[0] == pytest.approx(0.0, abs=1e-5)
    assert v.fractions[1] == pytest.approx(1.0, abs=1e-5)
    assert v.learned == (8,) and v.state(0) == "no"


def test_with_carry_off_the_windows_oracle_reads_its_share_and_is_fully_learned(tf):
    """num_steps 5, carry off: the register reads t-3 exactly where its window holds it
    (2 of 5 positions), so its effect is 0.3 x 2/5, which is all this config can reach."""
    cfg = tiny(state_size=12, base=0.2, rules=((3, 0.3),), carry_state=False)
    model = readout(tf, cfg, {3: logit(0.5) - logit(0.2)}, logit(0.2))
    event = probe(tf, cfg, model).measure(0, (140, 260))
    assert event.effects[3] == pytest.approx(0.3 * 2 / 5, abs=1e-5)
    assert event.achievable[3] == pytest.approx(0.3 * 2 / 5)
    v = verdict_of(cfg, event)
    assert abs(v.fractions[0] - 1.0) <= 2 * v.fractions_se[0] + 1e-5 and v.learned == (3,)


def test_a_shift_register_remembers_exactly_its_length_and_no_more(tf):
    """8 units hold X[t] .. X[t-7]: each read back at 100%; X[t-8] on is not in the state,
    and reads at chance (512 held-out positions of a fair coin)."""
    cfg = tiny(state_size=8)
    event = probe(tf, cfg, shift_register(tf, cfg, 3)).measure(0, (140, 260))
    assert len(event.memory) == 13
    assert all(m == 1.0 for m in event.memory[:8]), event.memory
    assert all(0.4 < m < 0.6 for m in event.memory[8:]), event.memory


def test_with_carry_off_the_gradient_is_exactly_0_beyond_the_window(tf):
    cfg = tiny(carry_state=False)  # num_steps 5
    reach = probe(tf, cfg, shift_register(tf, cfg, 3)).reach()
    assert all(g == 0.0 for g in reach[5:]) and reach[3] > 0


def test_the_realised_floors_are_the_samples_and_near_the_expected_ones():
    """The true P(Y=1) at each position the validation loss averages over, from the
    generator's own rows: its loss there is the realised all-rules floor; every realised
    floor is within 3 standard errors of its expected value."""
    from rnntui.data.baselines import floors
    from rnntui.data.generator import VAL_STREAM, Series, series_seed, windows
    from rnntui.data.source import realised_floors

    cfg = Config().with_values(val_size=20_000, batch_size=50, num_steps=5)
    d = cfg.data
    vx, vy = val_series(d)
    realised = realised_floors(cfg, vy)
    x, y = Series(series_seed(d.seed, VAL_STREAM), d.base, d.rules).rows(
        np.array([-8]), len(vy) + 8)
    assert np.array_equal(y[0, 8:], vy)  # the same series, with its history before step 0
    p = d.base + sum(delta * x[0, 8 - lag:8 - lag + len(vy)].astype(np.float64)
                     for lag, delta in d.rules)
    pos = windows(np.arange(len(vy)), 50, 5).ravel()
    losses = -np.where(vy[pos] == 1, np.log(p[pos]), np.log1p(-p[pos]))
    assert realised[-1].loss == pytest.approx(losses.mean(), abs=1e-9)
    se = losses.std() / math.sqrt(len(pos))
    for got, want in zip(realised, floors(d.base, d.rules), strict=True):
        assert abs(got.loss - want.loss) < 3 * se, (got, want, se)


def test_inspect_a_text_run_and_a_symbol_csv_run_says_what_applies(tmp_path):
    """A text file's inputs are not 0/1: one line says the lag effects do not apply, and
    the report gives its empirical windows; exit 0, never a traceback or a "+nan"."""
    text = tmp_path / "t.txt"
    text.write_text("the cat sat on the mat. " * 400, encoding="utf-8")
    csv = tmp_path / "c.csv"
    csv.write_text("s\n" + "".join(f"{'abcabd'[i % 6]}\n" for i in range(6000)))
    for path in (text, csv):
        code, out, err = run_cli("train", "--data-file", str(path), "--batch-size", "10",
                                 "--epochs", "1", "--json", "--runs-dir", str(tmp_path / "r"))
        assert code == 0, err
        run = json.loads(out.splitlines()[-1])["run"]
        code, out, err = run_cli("inspect", run)
        assert code == 0 and err == "", err
        assert "insight is off" in out and "window 0" in out
        assert "nan" not in out and "Traceback" not in out and "<- rule" not in out
        code, out, _ = run_cli("inspect", run, "--json")
        got = json.loads(out)
        assert code == 0 and got["note"].startswith("insight is off")
        assert list(got["floors"])[0] == "window 0"
