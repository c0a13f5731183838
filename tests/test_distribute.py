"""tf.distribute for real: mirrored over 2 logical CPU devices (the import splits the CPU,
see tfload.split_cpu) against one device, and multiworker over two local processes.

All of it is about the CPU, and says so (device cpu; CUDA_VISIBLE_DEVICES empty for the
workers), so it holds on a GPU box too; test_gpu has the GPU side."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from rnntui.cli import main
from rnntui.config import Config, ConfigError, validate
from rnntui.core.events import Compiled, Failed, Finished, Progress, Started
from rnntui.engine import train
from rnntui.engine.checkpoint import load as load_checkpoint
from rnntui.engine.distribute import is_chief
from rnntui.engine.plan import chunk_for

# An LSTM with Adam and clipping that bites, carrying its state: every part that differs
# between one device and two replicas is in play. 60 batches an epoch, 2 epochs.
CFG = Config().with_values(device="cpu", cell="lstm", state_size=8, num_steps=5, batch_size=20,
                           size=6_000, val_size=2_000, optimizer="adam", learning_rate=0.02,
                           clip_norm=0.1, epochs=2)


def run(cfg: Config, tmp, name: str):
    events = []
    final = train(cfg, events.append, checkpoint_path=tmp / name)
    return final, events


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dist")
    one = run(CFG, tmp, "one")
    two = run(CFG.with_values(strategy="mirrored", replicas=2), tmp, "two")
    return one, two, tmp


def losses(events):
    return np.concatenate([e.losses for e in events if isinstance(e, Progress)])


def norms(events):
    return [e.grad_norm for e in events if isinstance(e, Progress)]


def test_mirrored_over_two_cpu_devices_matches_one_device(pair):
    (f1, e1), (f2, e2), _ = pair
    assert isinstance(f1, Finished) and isinstance(f2, Finished), (f1, f2)
    a, b = losses(e1), losses(e2)
    assert len(a) == len(b) == 120
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-5)
    assert abs(f1.val_loss - f2.val_loss) < 1e-5
    assert abs(f1.train_loss - f2.train_loss) < 1e-5
    # The clipping was at work, on the whole batch's gradient norm in both.
    assert max(norms(e1)) > CFG.train.clip_norm
    # It learned something: the run is not trivially equal.
    assert a[-20:].mean() < a[:20].mean() - 0.05


def test_the_trained_weights_match(pair):
    *_, tmp = pair
    one, two = load_checkpoint(tmp / "one"), load_checkpoint(tmp / "two")
    assert one.step == two.step == 120
    for w1, w2 in zip(one.weights, two.weights, strict=True):
        np.testing.assert_allclose(w2, w1, atol=1e-5)


def stopped(cfg: Config, path, chunk=None):
    """Train until the first chunk is done (two calls: the first is cut short), then stop:
    the checkpoint holds the state."""
    from rnntui.core.control import Control

    control = Control()
    seen = []

    def on(event):
        if isinstance(event, Progress):
            seen.append(event)
            if len(seen) == 2:
                control.stop()

    train(cfg, on, control, chunk=chunk, checkpoint_path=path)
    return load_checkpoint(path)


def test_each_replica_carries_the_state_of_its_own_rows(tmp_path):
    """Mid-epoch, the carried state gathered from the replicas in row order equals one
    device's, row for row: mixed-up rows would differ by far more than 1e-5."""
    cfg = CFG.with_values(epochs=1)
    one = stopped(cfg, tmp_path / "one", chunk=20)
    two = stopped(cfg.with_values(strategy="mirrored", replicas=2), tmp_path / "two")
    assert one.batch == two.batch == 20
    assert len(two.state) == 2 and two.state[0].shape == (20, 8)  # LSTM: h and c
    for s1, s2 in zip(one.state, two.state, strict=True):
        assert np.abs(s1).max() > 0.05  # a real state, not zeros
        np.testing.assert_allclose(s2, s1, atol=1e-5)
    # ...and that state resumes to one uninterrupted device's losses.
    rest, whole = [], []
    train(cfg.with_values(strategy="mirrored", replicas=2), rest.append,
            checkpoint_path=tmp_path / "two", resume=two)
    train(cfg, whole.append, chunk=20)
    np.testing.assert_allclose(losses(rest), losses(whole)[20:], atol=1e-5)


def test_the_run_says_how_it_is_distributed(pair):
    (_, e1), (_, e2), _ = pair
    s2 = next(e for e in e2 if isinstance(e, Started))
    assert s2.device == "mirrored 2×CPU"
    # One device: a plain graph too, for a run this short (runplan.use_xla).
    assert next(e for e in e1 if isinstance(e, Compiled)).kernel == "graph, no XLA"
    assert next(e for e in e2 if isinstance(e, Compiled)).kernel == "graph, no XLA"
    # 60 batches an epoch, at most 25 a chunk: 3 chunks of 20.
    assert s2.chunk == 20


def test_a_gpu_asked_for_and_not_there_is_a_notice(tmp_path):
    from rnntui.engine.tfload import quiet_tensorflow

    if quiet_tensorflow().config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    cfg = CFG.with_values(strategy="mirrored", replicas=2, device="gpu", epochs=1, size=2000)
    final, events = run(cfg, tmp_path, "gpu")
    assert isinstance(final, Finished)
    started = next(e for e in events if isinstance(e, Started))
    assert started.device == "mirrored 2×CPU"
    assert started.notice == "device: gpu asked for, no GPU visible; mirrored over CPU devices"


def test_replicas_this_process_lacks_are_a_failed_event_naming_the_field():
    """Once TensorFlow's runtime has started (listing devices starts it), the CPU cannot be
    split further: more replicas than it has is a one-line failure on the field."""
    from rnntui.engine.tfload import quiet_tensorflow

    want = len(quiet_tensorflow().config.list_logical_devices("CPU")) + 1
    cfg = CFG.with_values(strategy="mirrored", replicas=want, batch_size=10 * want, epochs=1)
    final = train(cfg)
    assert isinstance(final, Failed)
    assert final.bad_field == "replicas"
    assert final.message.startswith(f"replicas: {want} CPU devices asked for")
    assert "\n" not in final.message


def test_the_optimizer_sums_over_replicas_once_and_evaluation_has_a_device():
    """Under a strategy the trainer sums the gradients itself (it needs the whole batch's
    norm), so its optimizer applies what it is given: two replicas each handing SGD(1) a
    gradient of 1 move the weight by 1, where Keras's own optimizer would sum them to 2.
    Evaluation runs on the first replica's device, not wherever TensorFlow would put it."""
    import keras

    from rnntui.engine.distribute import DistSteps, make_strategy
    from rnntui.engine.model import build_model, build_optimizer
    from rnntui.engine.tfload import quiet_tensorflow

    tf = quiet_tensorflow()
    cfg = CFG.with_values(strategy="mirrored", replicas=2, optimizer="sgd", learning_rate=1.0)
    strategy, name, on_gpu, _ = make_strategy(tf, cfg)
    assert (name, on_gpu) == ("mirrored 2×CPU", False)
    moved = {}
    for summed in (True, False):
        with strategy.scope():
            w = keras.Variable(np.zeros(2, np.float32))
            optimizer = build_optimizer(cfg, summed=summed)
            optimizer.build([w])
        step = lambda o=optimizer, v=w: o.apply([tf.ones(2)], [v])  # noqa: E731
        tf.function(lambda s=step: strategy.run(s))()
        moved[summed] = float(-w.numpy()[0])
    assert moved == {True: 1.0, False: 2.0}
    with strategy.scope():
        model = build_model(cfg, seed=0)
        steps = DistSteps(tf, strategy, model, build_optimizer(cfg, summed=True), cfg, 5)
    assert steps.eval_device.endswith("/device:CPU:0")


def test_uneven_split_and_replicas_without_a_strategy_are_rejected():
    with pytest.raises(ConfigError, match="replicas: 3 does not divide batch_size 20; each"):
        validate(CFG.with_values(strategy="mirrored", replicas=3))
    from rnntui.config import cross_errors

    errors = cross_errors({"batch_size": 20, "replicas": 3, "strategy": "mirrored"})
    assert errors["batch_size"].startswith("batch_size: 20 does not split evenly over 3")
    with pytest.raises(ConfigError, match="replicas: 2 needs strategy mirrored"):
        validate(CFG.with_values(replicas=2))


@pytest.mark.parametrize("args, message", [
    (["--strategy", "mirrored", "--replicas", "3", "--batch-size", "10"],
     "error: replicas: 3 does not divide batch_size 10"),
    (["--replicas", "3"], "error: replicas: 3 needs strategy mirrored"),
    (["--strategy", "multiworker"], "error: strategy: multiworker needs TF_CONFIG"),
    (["--strategy", "sideways"], "error: strategy: 'sideways' is not one of none, mirrored"),
    (["--replicas", "-1"], "error: replicas: -1 is out of range"),
])
def test_cli_bad_distribution_settings_exit_2_with_one_line(args, message, capsys, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    code = main(["train", "--size", "1000", "--val-size", "500", "--batch-size", "10", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(message) and err.count("\n") == 1, err
    assert not os.path.exists("runs") or not os.listdir("runs")  # no run folder was made


def test_chunks_are_even_and_at_most_dist_chunk():
    assert chunk_for(1000, 60) == 20
    assert chunk_for(1000, 55) == 19  # 19 + 19 + 17, not 25 + 25 + 5
    assert chunk_for(3, 40) == 3
    assert chunk_for(1000, 7) == 7


@pytest.mark.parametrize("tf_config, chief", [
    ("", True),
    ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}', True),
    ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}', False),
    ('{"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "worker", '
     '"index": 0}}', False),
    ('{"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "chief"}}', True),
])
def test_the_chief_is_the_one_that_records(tf_config, chief, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    assert is_chief() is chief


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_multiworker_over_two_local_processes_matches_one_device(tmp_path):
    """Two `rnntui train --strategy multiworker` processes on this host, one replica each:
    both finish with one device's validation loss; only the chief makes a run folder."""
    cfg = CFG.with_values(epochs=1)
    one = train(cfg)
    hosts = [f"localhost:{p}" for p in _free_ports(2)]
    args = ["train", "--strategy", "multiworker", "--json", "--runs-dir", str(tmp_path / "runs"),
            "--cell", "lstm", "--state-size", "8", "--num-steps", "5", "--batch-size", "20",
            "--size", "6000", "--val-size", "2000", "--optimizer", "adam",
            "--learning-rate", "0.02", "--clip-norm", "0.1", "--epochs", "1"]
    procs = []
    for i in range(2):
        tf_config = {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": i}}
        # Two workers on one host must not share its GPUs: these are CPU workers.
        env = {**os.environ, "TF_CONFIG": json.dumps(tf_config), "CUDA_VISIBLE_DEVICES": ""}
        procs.append(subprocess.Popen([sys.executable, "-m", "rnntui.cli", *args], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, cwd=tmp_path))
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
    summaries = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    for s in summaries:
        assert s["status"] == "finished"
        assert s["device"] == "multiworker 2 replicas (CPU per worker)"
        assert abs(s["val_loss"] - one.val_loss) < 1e-5
    assert len(os.listdir(tmp_path / "runs")) == 1
    assert summaries[1]["run"] == "(not recorded: not the chief)"
