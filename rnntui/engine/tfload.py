"""Import TensorFlow quietly, once: its C++ start-up logs would scribble over the terminal.

TF_CPP_MIN_LOG_LEVEL does not silence the lines absl prints before it is initialised
(checked with TF 2.21), so file descriptor 2 points at /dev/null while the import runs.
"""

from __future__ import annotations

import gc
import os
import sys
import threading

from ..config import ConfigError

_lock = threading.Lock()
# TensorFlow's CPU threads (its intra-op pool), fixed when it loads. A small model trains
# faster on one, and one thread leaves the other cores to the validation beside it, the
# data and the app (bench/cpu_threads.py, bench/between_chunks.py). Larger models ran
# even on 2 cores, and more cores may help their matrix products, so they keep the
# default. Models up to SMALL_MACS multiply-adds a batch (plan.batch_macs) get one thread.
SMALL_MACS = 8_000_000
_asked = 0  # --cpu-threads (0: chosen for the first config, auto_threads)
_cap = 0  # at most this many (0: no cap): a sweep's worker process gets its share
_threads = 0  # what TensorFlow runs with once loaded (0: its default, one per core)


def ask_cpu_threads(n: int = 0, cap: int = 0) -> None:
    """Before TensorFlow loads: `n` threads (0: chosen for the first config), at most
    `cap` (0: no cap)."""
    global _asked, _cap
    _asked, _cap = n, cap


def auto_threads(config, on_gpu: bool) -> int:
    """The CPU threads for a config's training (0: one per core): one for a small model on
    the CPU; on a GPU, TensorFlow's default."""
    from .accel import batch_macs

    if on_gpu:
        return 0
    return 1 if batch_macs(config) <= SMALL_MACS else 0


def threads_for(asked: int, cap: int, config, on_gpu: bool) -> int:
    """The CPU threads to load TensorFlow with (0: its default): as asked, else for the
    config (none: the default), at most `cap` (0: no cap)."""
    n = asked or (auto_threads(config, on_gpu) if config is not None else 0)
    return min(n or cap, cap or n)


def threads_notice(config, on_gpu: bool) -> str:
    """What to say when a run would want more CPU threads than TensorFlow loaded with
    (they are fixed when it loads: the app's first config chose them)."""
    if on_gpu or _asked or _cap or _threads == 0 or auto_threads(config, False) != 0:
        return ""
    cores = os.cpu_count() or 1
    return (f"cpu threads: {_threads}, chosen when TensorFlow loaded for a smaller model;"
            f" for this one restart with --cpu-threads {_cap or cores}")


def pooled_host_memory(config) -> bool:
    """Whether TensorFlow takes its pooling (BFC) allocator for host memory too, fixed when
    it loads: for a first config on the whole-window kernels (accel.xla_kernel). With plain
    malloc every compiled call of a char model mapped its window's buffers afresh (tens of
    MB), and a 1-batch call ran at 2/3 of the speed (bench/char_speed.py's LSTM: 9 against
    13.5 steps/s). The seed's small models keep malloc, which their figures were measured
    with: the pool changed nothing there that bench/train_speed.py could tell from noise."""
    from .accel import xla_kernel

    return config is not None and xla_kernel(config) == "window"


def quiet_tensorflow(config=None):
    """TensorFlow, imported once and quietly. The first call sets its CPU threads: as
    asked (ask_cpu_threads), or for `config` (auto_threads)."""
    global _threads
    with _lock:
        if "tensorflow" in sys.modules:
            return sys.modules["tensorflow"]
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        if pooled_host_memory(config):
            os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")
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
        # Whatever GPUs there are: `--device cpu --strategy mirrored` must find the CPU
        # devices after any earlier run in the app has started the runtime.
        split_cpu(tf, max(2, os.cpu_count() or 1))
        on_gpu = bool(tf.config.list_physical_devices("GPU")) and (
            config is None or config.train.device != "cpu")
        n = threads_for(_asked, _cap, config, on_gpu)
        if n:
            tf.config.threading.set_intra_op_parallelism_threads(n)
            _threads = n
        absl.logging.set_verbosity(absl.logging.ERROR)
        tf.get_logger().setLevel("ERROR")
        # The ~270,000 objects the import made live as long as the process: out of the
        # collector's sight, each full collection no longer walks them (0.2-0.3 s each, and
        # a warm and a first chunk met one or two: bench/first_loss.py).
        gc.freeze()
        return tf


def split_cpu(tf, count: int) -> bool:
    """Split the CPU into `count` logical devices (what `--strategy mirrored --replicas N`
    runs on without a GPU), if TensorFlow's runtime has not started; False if it has.

    The import above does this for as many devices as there are cores (at least 2), so the
    app and the tests can train mirrored at any time. One-device training does not notice
    (r2rt ran as fast with 1 logical device as with 8).
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:  # (listing logical devices would start the runtime: not here)
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])
    except RuntimeError:  # already started: what is there stays
        return False
    return True


def set_determinism(tf, on: bool) -> None:
    """TensorFlow's op determinism on or off for what runs next in this process. It is a
    switch of the whole process, so every run sets it (the app trains one run after
    another). TensorFlow passes it on to XLA (xla_gpu_deterministic_ops); an op with no
    deterministic GPU kernel then fails with UnimplementedError, which ends the run."""
    if on:
        tf.config.experimental.enable_op_determinism()
        return
    from tensorflow.python.framework import config  # no public switch to turn it off

    if config.is_op_determinism_enabled():
        config.disable_op_determinism()


def wanted_gpus(config, count: int) -> list[int]:
    """The physical GPUs (indices) a config trains on, of the `count` there are.

    gpu:N is GPU N; auto and gpu are GPU 0; cpu is none. Mirrored takes `replicas` GPUs
    (0: all of them) from N on. A GPU that is not there is not wanted: pick_device and
    make_strategy say so. Multiworker is left to each worker's CUDA_VISIBLE_DEVICES.
    """
    t = config.train
    if t.device == "cpu" or t.strategy == "multiworker" or not count:
        return []
    first = int(t.device.partition(":")[2] or 0)
    if t.strategy == "mirrored":
        return list(range(first, min(count, first + (t.replicas or count))))
    return [first] if first < count else []


def claim_gpus(tf, config) -> None:
    """Show TensorFlow only the GPUs this run trains on, so it opens no CUDA context (and
    takes no memory) on the other GPUs of a shared box.

    Only possible before TensorFlow's runtime starts (building the first model starts it),
    so the first run of a process decides: the command line has one run, the app keeps
    what its first run claimed. A later run wanting a GPU that is hidden by then is a
    ConfigError on `device` that says to restart, never a crash.
    """
    gpus = tf.config.list_physical_devices("GPU")
    if config.train.strategy == "multiworker" or not gpus:
        return
    wanted = [gpus[i] for i in wanted_gpus(config, len(gpus))]
    try:
        tf.config.set_visible_devices(wanted, "GPU")
        return
    except RuntimeError:  # the runtime has started: what is visible stays
        pass
    for gpu in wanted:
        _check_visible(tf, gpus.index(gpu))


def _check_visible(tf, index: int) -> None:
    gpus = tf.config.list_physical_devices("GPU")
    visible = tf.config.get_visible_devices("GPU")
    if gpus[index] not in visible:
        shown = ", ".join(f"gpu:{gpus.index(g)}" for g in visible) or "no GPU"
        raise ConfigError("device", f"gpu:{index} is hidden in this process: TensorFlow"
                          f" started with {shown} visible (restart rnntui to use it)")


def logical_gpu(tf, index: int) -> str:
    """The TensorFlow device of physical GPU `index` (claim_gpus renumbers what it shows:
    with only GPU 1 visible, GPU 1 is /GPU:0)."""
    gpus = tf.config.list_physical_devices("GPU")
    visible = tf.config.get_visible_devices("GPU")
    return f"/GPU:{visible.index(gpus[index])}"


def gpu_label(tf, index: int) -> str:
    """'NVIDIA H200 (gpu:1)': the name and the index the user would type."""
    gpu = tf.config.list_physical_devices("GPU")[index]
    name = tf.config.experimental.get_device_details(gpu).get("device_name", "GPU")
    return f"{name} (gpu:{index})"


def pick_device(tf, wanted: str) -> tuple[str, str, str]:
    """(TensorFlow device, name to show, notice) for a config's device field.

    auto takes the first GPU when there is one. A GPU that is not there is never a crash:
    training goes to the CPU and the notice says so. A GPU hidden by claim_gpus is a
    ConfigError (see there).
    """
    gpus = tf.config.list_physical_devices("GPU")
    if wanted == "cpu" or (wanted == "auto" and not gpus):
        return "/CPU:0", "CPU", ""
    index = int(wanted.partition(":")[2] or 0) if wanted != "auto" else 0
    if index >= len(gpus):
        have = f"{len(gpus)} GPU{'s' if len(gpus) != 1 else ''} visible"
        return "/CPU:0", "CPU", f"device: {wanted} asked for, {have}; training on the CPU"
    _check_visible(tf, index)
    return logical_gpu(tf, index), gpu_label(tf, index), ""


def device_name(tf) -> str:
    """'CPU', or the name of the GPU that `auto` would take."""
    gpus = tf.config.list_physical_devices("GPU")
    return gpu_label(tf, 0) if gpus else "CPU"
