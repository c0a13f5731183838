import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(__file__))


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path, monkeypatch):
    """Every test runs in its own folder, so the run folders a training writes to ./runs
    never land in the checkout."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def helper_jobs(monkeypatch) -> list:
    """The tags (`run`) of the jobs submitted to this process's engine's helper from now
    on: a run's id, or "compile" (steps.COMPILES) and "warm" (warm.WARM_RUN)."""
    from rnntui import engine as engines

    executor, sent = engines.get().executor, []
    real_submit = executor.submit

    def spy(fn, *args, run=None, **kwargs):  # Executor.submit's own default
        sent.append(run)
        return real_submit(fn, *args, run=run, **kwargs)

    monkeypatch.setattr(executor, "submit", spy)
    return sent


def gpus_visible() -> int:
    """How many GPUs TensorFlow sees; 0 without importing it where no NVIDIA driver is."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1"):
        return 0
    if not os.path.exists("/dev/nvidiactl"):
        return 0
    from rnntui.engine.tfload import quiet_tensorflow

    return len(quiet_tensorflow().config.list_physical_devices("GPU"))


def pytest_collection_modifyitems(config, items):
    """`gpu` tests run only where a GPU is visible. Where one is, TensorFlow's runtime is
    started now with every GPU visible: the suite trains on cpu, gpu and gpu:N in one
    process, and a run's claim_gpus would otherwise hide the other GPUs from the tests
    after it (the app's one-process case, which tfload.claim_gpus reports)."""
    count = gpus_visible()
    if count:
        from rnntui.engine.tfload import quiet_tensorflow

        quiet_tensorflow().config.list_logical_devices()
        return
    skip = pytest.mark.skip(reason="needs a visible GPU")
    for item in items:
        if item.get_closest_marker("gpu"):
            item.add_marker(skip)

