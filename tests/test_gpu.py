"""On a GPU, for real: the cuDNN kernel, mixed precision, mirrored GPUs, device choice.

Every test here carries the `gpu` marker and is skipped unless a GPU is visible (see
conftest.py); `pytest -m gpu` runs only these. TensorFlow turns TF32 on for float32
matmuls on Ampere and Hopper GPUs (inputs rounded to a 10-bit mantissa), so two float32
programs agree only to ~1e-3 there: the tests that compare programs turn TF32 off for
their duration and allow 1e-4 (cuDNN, XLA and plain graphs add in different orders).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from rnntui.config import Config
from rnntui.core.events import Compiled, Finished, Progress, Started
from rnntui.engine import train

pytestmark = pytest.mark.gpu

TINY = dict(size=64 * 10 * 8, val_size=64 * 10 * 2, batch_size=64, num_steps=10, epochs=1)
LSTM = Config().with_values(cell="lstm", state_size=32, optimizer="adam", learning_rate=0.01,
                            device="gpu", **TINY)


def run(cfg: Config):
    events = []
    final = train(cfg, events.append)
    return final, events


def first(events, kind):
    return next(e for e in events if isinstance(e, kind))


def losses(events) -> np.ndarray:
    return np.concatenate([e.losses for e in events if isinstance(e, Progress)])


@pytest.fixture
def tf():
    from rnntui.engine.tfload import quiet_tensorflow

    return quiet_tensorflow()


@pytest.fixture
def no_tf32(tf):
    was = tf.config.experimental.tensor_float_32_execution_enabled()
    tf.config.experimental.enable_tensor_float_32_execution(False)
    yield tf
    tf.config.experimental.enable_tensor_float_32_execution(was)


def gpu_count(tf) -> int:
    return len(tf.config.list_physical_devices("GPU"))


def test_the_cudnn_kernel_is_chosen_and_fused():
    final, events = run(LSTM.with_values(cudnn="on"))
    assert isinstance(final, Finished), final
    started, compiled = first(events, Started), first(events, Compiled)
    assert started.device.endswith("(gpu:0)") and started.notice == ""
    assert (compiled.kernel, compiled.fused, compiled.notice) == ("cuDNN fused kernel", True, "")


@pytest.mark.parametrize("cudnn, kernel", [("on", "cuDNN fused kernel, mixed float16"),
                                           ("off", "XLA, mixed float16")])
def test_mixed_precision_trains_and_reports_applied_steps_only(cudnn, kernel):
    final, events = run(LSTM.with_values(cudnn=cudnn, precision="mixed", epochs=2))
    assert isinstance(final, Finished), final
    assert first(events, Started).notice == ""
    assert first(events, Compiled).kernel == kernel
    # The loss scaler skips the first steps (scale 2^15 overflows float16); their inf norm
    # is left out of what is reported.
    norms = [e.grad_norm for e in events if isinstance(e, Progress)]
    assert all(math.isfinite(n) and n > 0 for n in norms), norms
    assert np.isfinite(losses(events)).all()


def test_a_small_lstm_under_mirrored_takes_cudnn():
    final, events = run(LSTM.with_values(strategy="mirrored", replicas=1))
    assert isinstance(final, Finished), final
    assert first(events, Started).device == "mirrored 1×GPU (gpu:0)"
    assert first(events, Compiled).kernel == "cuDNN fused kernel"


def test_mirrored_over_the_visible_gpus_matches_one_gpu(no_tf32):
    n = gpu_count(no_tf32)
    rows = 16 * n
    cfg = LSTM.with_values(cudnn="on", clip_norm=0.1, batch_size=rows, size=rows * 10 * 12,
                           val_size=rows * 10 * 2)
    f1, one = run(cfg)
    f2, every = run(cfg.with_values(strategy="mirrored"))  # replicas 0: every GPU
    assert isinstance(f1, Finished) and isinstance(f2, Finished), (f1, f2)
    span = "gpu:0" + (f"-{n - 1}" if n > 1 else "")
    assert first(every, Started).device == f"mirrored {n}×GPU ({span})"
    a, b = losses(one), losses(every)
    assert len(a) == len(b) == 12
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-4)
    assert abs(f1.val_loss - f2.val_loss) < 1e-4


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_cudnn_program_trains_like_xla_on_the_gpu(no_tf32, cell):
    from test_accel import cudnn_and_xla_runs

    with no_tf32.device("/GPU:0"):
        (a, sa), (b, sb) = cudnn_and_xla_runs(no_tf32, cell)
    np.testing.assert_allclose(b, a, atol=1e-4)
    for s1, s2 in zip(sa, sb, strict=True):
        np.testing.assert_allclose(s2, s1, atol=1e-4)


def test_even_truncation_trains_on_cudnn_and_layer_norm_says_it_runs_without(no_tf32):
    """The style's two part models run on the cuDNN kernel as the whole window does (the
    same loss as XLA's even); a layer-normed LSTM trains without cuDNN and says so."""
    even = LSTM.with_values(truncation="even", num_steps=5)
    f1, on = run(even.with_values(cudnn="on"))
    f2, off = run(even.with_values(cudnn="off"))
    assert isinstance(f1, Finished) and isinstance(f2, Finished), (f1, f2)
    assert first(on, Compiled).kernel == "cuDNN fused kernel"
    np.testing.assert_allclose(losses(on), losses(off), atol=1e-4)
    final, events = run(LSTM.with_values(layer_norm=True, dropout=0.2))
    assert isinstance(final, Finished), final
    assert "layer_norm: cuDNN has no layer-normed cell" in first(events, Started).notice
    assert "cuDNN" not in first(events, Compiled).kernel


def child(code: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    """A fresh process (its own TensorFlow runtime), as the command line or the app runs."""
    return subprocess.run([sys.executable, *args] if args else [sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def test_the_chosen_gpu_is_the_one_used_and_said(tf, tmp_path):
    """gpu:N alone is made visible in a fresh process (so it is TensorFlow's /GPU:0 there)
    and the run says which it is; mirrored honours gpu:N too."""
    last = gpu_count(tf) - 1
    tiny = ["--preset", "r2rt", "--size", "20000", "--val-size", "5000", "--batch-size", "50",
            "--json", "--runs-dir", str(tmp_path / "runs")]
    out = child("", tmp_path, "-m", "rnntui.cli", "train", *tiny, "--device", f"gpu:{last}")
    assert out.returncode == 0, out.stderr[-2000:]
    started = started_event(out.stdout)
    assert started["device"].endswith(f"(gpu:{last})") and started["notice"] == ""
    if last >= 1:
        out = child("", tmp_path, "-m", "rnntui.cli", "train", *tiny, "--device", "gpu:1",
                    "--strategy", "mirrored", "--replicas", "1")
        assert out.returncode == 0, out.stderr[-2000:]
        assert started_event(out.stdout)["device"] == "mirrored 1×GPU (gpu:1)"


def started_event(stdout: str) -> dict:
    lines = [json.loads(line) for line in stdout.splitlines()]
    return next(x for x in lines if x.get("event") == "started")


def test_a_later_run_wanting_a_hidden_gpu_is_one_line_on_device(tmp_path):
    """In one process (the app), the first run decides what TensorFlow sees: after a CPU
    run, a GPU run fails with one line on `device` that says to restart, not a crash."""
    code = textwrap.dedent("""
        import json
        from rnntui.config import Config
        from rnntui.engine import train
        cfg = Config().with_values(size=2000, val_size=1000, batch_size=10, device="cpu")
        first = train(cfg)
        second = train(cfg.with_values(device="gpu"))
        print(json.dumps([first.kind, second.kind, second.bad_field, second.message]))
    """)
    out = child(code, tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.splitlines()[-1]) == [
        "finished", "failed", "device", "device: gpu:0 is hidden in this process: TensorFlow"
        " started with no GPU visible (restart rnntui to use it)"]
