"""Import TensorFlow quietly, once: its C++ start-up logs would scribble over the terminal.

TF_CPP_MIN_LOG_LEVEL does not silence the lines absl prints before it is initialised
(checked with TF 2.21), so file descriptor 2 points at /dev/null while the import runs.
"""

from __future__ import annotations

import os
import sys
import threading

_lock = threading.Lock()


def quiet_tensorflow():
    with _lock:
        if "tensorflow" in sys.modules:
            return sys.modules["tensorflow"]
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        saved = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            sys.stderr.flush()
            os.dup2(null, 2)
            import absl.logging
            import keras  # noqa: F401  (its first import prints too)
            import tensorflow as tf
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(null)
        # Take GPU memory as it is needed, not all of it up front: the box is shared, and
        # the app may train several models in one process.
        for gpu in tf.config.list_physical_devices("GPU"):
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except (RuntimeError, ValueError):  # already initialised: leave it as it is
                pass
        absl.logging.set_verbosity(absl.logging.ERROR)
        tf.get_logger().setLevel("ERROR")
        return tf


def pick_device(tf, wanted: str) -> tuple[str, str, str]:
    """(TensorFlow device, name to show, notice) for a config's device field.

    auto takes the first GPU when there is one. A GPU that is not there is never a crash:
    training goes to the CPU and the notice says so.
    """
    gpus = tf.config.list_physical_devices("GPU")
    if wanted == "cpu" or (wanted == "auto" and not gpus):
        return "/CPU:0", "CPU", ""
    index = int(wanted.partition(":")[2] or 0) if wanted != "auto" else 0
    if index >= len(gpus):
        have = f"{len(gpus)} GPU{'s' if len(gpus) != 1 else ''} visible"
        return "/CPU:0", "CPU", f"device: {wanted} asked for, {have}; training on the CPU"
    details = tf.config.experimental.get_device_details(gpus[index])
    return f"/GPU:{index}", details.get("device_name", f"GPU {index}"), ""


def device_name(tf) -> str:
    """'CPU', or the name of the GPU that `auto` would take."""
    return pick_device(tf, "auto")[1]
