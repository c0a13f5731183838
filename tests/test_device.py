"""Device choice: auto, cpu, gpu, gpu:N; a GPU that is not there is a notice, never a crash."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rnntui.cli import main
from rnntui.config import ConfigError, parse_value
from rnntui.tfload import pick_device, quiet_tensorflow

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
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    child.stdout.readline()
    child.stdout.close()  # as `| head -1` does
    err = child.stderr.read()
    assert child.wait(120) == 1
    assert "Traceback" not in err
