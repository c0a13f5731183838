"""`rnntui serve` in a real browser: headless Chromium (the system's, driven by playwright)
opens the served app, F5 trains, and the run it writes reaches its finished event.
textual-serve draws the terminal on a canvas, so what the app did is read from its effects:
the run folder and its metrics."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnntui.cli import main
from rnntui.runs.folders import METRICS, read_metrics

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser",
                                               "google-chrome")) if p), None)
TINY = """[data]
size = 20000
val_size = 5000

[model]
state_size = 8

[train]
batch_size = 50
num_steps = 5
epochs = 2
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "rnntui serve ended"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def finished_run(runs: Path) -> Path | None:
    for metrics in runs.glob(f"*/{METRICS}"):
        lines = read_metrics(metrics.parent)
        if lines and lines[-1]["event"] == "finished":
            return metrics.parent
    return None


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine: apt-get install"
                    " chromium (playwright cannot download its own here)")
def test_the_served_app_trains_from_a_browser(tmp_path):
    from playwright.sync_api import sync_playwright

    (tmp_path / "tiny.toml").write_text(TINY, encoding="utf-8")
    port = free_port()
    with open(tmp_path / "serve.log", "w", encoding="utf-8") as log:
        proc = subprocess.Popen([sys.executable, "-m", "rnntui", "serve", "--port", str(port),
                                 "--config", "tiny.toml"], cwd=tmp_path, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc)
        first = (tmp_path / "serve.log").read_text().splitlines()[0]
        assert f"ssh -L {port}:localhost:{port}" in first
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")
            start = page.locator("#start")
            if start.is_visible():
                start.click()
            page.wait_for_selector("#terminal canvas", timeout=30_000)
            page.locator("#terminal").click()  # the page takes the keys
            runs, deadline = tmp_path / "runs", time.monotonic() + 120
            while finished_run(runs) is None and time.monotonic() < deadline:
                if not runs.is_dir():  # F5 until the app (still loading) takes it
                    page.keyboard.press("F5")
                page.wait_for_timeout(500)
            browser.close()
        run = finished_run(runs)
        assert run is not None, "no run reached its finished event"
        assert read_metrics(run)[-1]["epochs"] == 2
    finally:
        proc.terminate()
        proc.wait(30)


def test_serve_refuses_a_port_in_use_an_open_host_and_a_bad_port(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
        assert "in use" in capsys.readouterr().err
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "--public" in capsys.readouterr().err
    for bad in ("0", "70000", "http"):
        assert main(["serve", "--port", bad]) == 2
        assert "--port" in capsys.readouterr().err
    assert main(["serve", "--config", "no-such.toml"]) == 2
