"""The threads the app runs are the ones docs/architecture.md lists, each when the table
says: idle, while training, and after quitting. In a fresh process, so no other test's
engine or training is counted."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"

SCRIPT = r"""
import asyncio, json, sys, threading
sys.path.insert(0, sys.argv[1])
from appsupport import LONG, wait_for
from rnntui.tui.app import make_app

def ours():
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("rnntui"))

async def main():
    seen = {}
    app = make_app(LONG, runs_dir=sys.argv[2])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.status.state == "idle")
        seen["idle"] = ours()
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.status.state == "training" and app.chart.num_points)
        seen["training"] = ours()
        await pilot.press("ctrl+q")
    # Quitting waits a bounded while for the stop checkpoint; a loaded machine can take
    # longer, so wait here for the training to end before counting what is left.
    assert app.control.done.wait(120), "the training never ended after quit"
    seen["quit"] = ours()
    print(json.dumps(seen))

asyncio.run(main())
"""


def table() -> dict[str, str]:
    """thread name -> its `alive` column, from the table of threads."""
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0].startswith("`"):
            for name in re.findall(r"`([^`]+)`", cells[0]):
                rows[name] = cells[4]
    return rows


def test_the_table_of_threads_matches_the_threads_alive(tmp_path):
    rows = table()
    assert rows.get("rnntui-engine") == "always" and rows.get("rnntui-data_0") == "training"
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(Path(__file__).parent),
                          str(tmp_path / "runs")], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    always = {n for n, alive in rows.items() if alive == "always" and n != "MainThread"}
    during = {n for n, alive in rows.items() if alive == "training"}
    assert set(seen["idle"]) == always
    assert set(seen["quit"]) == always  # a training's own threads end with it
    # The data thread runs the whole training; the checkpoint writer from the first save.
    assert always | {"rnntui-data_0"} <= set(seen["training"]) <= always | during
    for phase, names in seen.items():
        assert len(names) == len(set(names)), f"{phase}: a thread twice: {names}"
        assert set(names) <= set(rows), f"{phase}: not in the table: {set(names) - set(rows)}"
