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
        absl.logging.set_verbosity(absl.logging.ERROR)
        tf.get_logger().setLevel("ERROR")
        return tf


def device_name(tf) -> str:
    """'CPU', or the first GPU's name."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    details = tf.config.experimental.get_device_details(gpus[0])
    return details.get("device_name", "GPU")
