"""Device choice: auto, cpu, gpu, gpu:N; a GPU that is not there is a notice, never a crash."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from rnntui.cli import main
from rnntui.config import ConfigError, parse_value
from rnntui.engine.tfload import pick_device, quiet_tensorflow

TINY = ["--preset", "r2rt", "--size", "20000", "--val-size", "5000", "--batch-size", "50"]


@pytest.mark.parametrize("text,value", [("auto", "auto"), ("cpu", "cpu"), ("gpu", "gpu"),
                                        ("GPU:1 ", "gpu:1"), ("gpu:0", "gpu:0")])
def test_device_values(text, value):
    assert parse_value("device", text) == value


@pytest.mark.parametrize("text", ["tpu", "gpu:", "gpu:x", "gpu:100", "", "cpu:0"])
def test_bad_device_names_the_field(text):
    with pytest.raises(ConfigError, match=r"^device: .* is not auto, cpu, gpu or gpu:N$"):
        parse_value("device", text)


def test_pick_device_falls_back_to_the_cpu_with_a_notice():
    tf = quiet_tensorflow()
    gpus = len(tf.config.list_physical_devices("GPU"))
    assert pick_device(tf, "cpu") == ("/CPU:0", "CPU", "")
    device, name, notice = pick_device(tf, f"gpu:{gpus}")  # one past the last GPU
    assert (device, name) == ("/CPU:0", "CPU")
    assert notice == (f"device: gpu:{gpus} asked for, {gpus} GPU{'s' if gpus != 1 else ''}"
                      " visible; training on the CPU")
    if gpus == 0:
        assert pick_device(tf, "auto") == ("/CPU:0", "CPU", "")


@pytest.mark.parametrize("device, strategy, replicas, count, wanted", [
    ("cpu", "none", 0, 4, []),
    ("auto", "none", 0, 4, [0]),
    ("gpu", "none", 0, 4, [0]),
    ("gpu:2", "none", 0, 4, [2]),
    ("gpu:7", "none", 0, 4, []),  # not there: the CPU, with a notice
    ("auto", "none", 0, 0, []),
    ("auto", "mirrored", 0, 4, [0, 1, 2, 3]),
    ("gpu:1", "mirrored", 2, 4, [1, 2]),
    ("gpu:2", "mirrored", 0, 4, [2, 3]),
    ("cpu", "mirrored", 2, 4, []),
    ("auto", "multiworker", 0, 4, []),  # each worker's CUDA_VISIBLE_DEVICES decides
])
def test_a_run_claims_only_the_gpus_it_trains_on(device, strategy, replicas, count, wanted):
    from rnntui.config import Config
    from rnntui.engine.tfload import wanted_gpus

    cfg = Config().with_values(device=device, strategy=strategy, replicas=replicas)
    assert wanted_gpus(cfg, count) == wanted


def test_the_cpu_is_split_whatever_gpus_there_are():
    """So --device cpu --strategy mirrored works after any earlier run has started the
    runtime, on a GPU box too."""
    tf = quiet_tensorflow()
    assert len(tf.config.list_logical_devices("CPU")) >= 2


def test_train_on_a_missing_gpu_trains_on_the_cpu(capsys):
    assert main(["train", *TINY, "--device", "gpu:63", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    started = next(x for x in lines if x["event"] == "started")
    assert started["device"] == "CPU" and "training on the CPU" in started["notice"]
    assert started["config"]["device"] == "gpu:63"
    assert lines[-1]["status"] == "finished" and lines[-1]["device"] == "CPU"
    assert main(["train", *TINY, "--device", "tpu"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: device: 'tpu' is not auto, cpu, gpu or gpu:N")


def test_a_closed_pipe_is_no_traceback():
    child = subprocess.Popen([sys.executable, "-m", "rnntui.cli", "train", *TINY],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    child.stdout.readline()
    child.stdout.close()  # as `| head -1` does
    err = child.stderr.read()
    assert child.wait(120) == 1
    assert "Traceback" not in err
