"""The threads the app runs are the ones docs/architecture.md lists, each when the table
says: idle, while training, and after a restart then a quit (which trains nothing more:
the restart's training, queued behind the old one's stop, is dropped and makes no run
folder). Every thread alive is counted, not only rnntui's. In a fresh process, so no other
test's engine or training is counted."""

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

def alive():
    return sorted(t.name for t in threading.enumerate())

async def main():
    seen = {}
    app = make_app(LONG, runs_dir=sys.argv[2])
    entered, release = threading.Event(), threading.Event()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.status.state == "idle")
        seen["idle"] = alive()
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.status.state == "training" and app.chart.num_points)
        seen["training"] = alive()
        # The helper held: the old training's stop cannot finish (its last validation waits
        # there), so the restart's training stays queued behind it while the quit comes.
        app.jobs.background(lambda: (entered.set(), release.wait(120)))
        await wait_for(pilot, entered.is_set)
        old = app.control
        app.start_training()  # what the restart dialog's yes does
        await pilot.press("ctrl+q")
        assert old.stopped and app.control.stopped and not app.control.done.is_set()
        release.set()
    # Quitting waits a bounded while for the stop checkpoint; a loaded machine can take
    # longer, so wait here for both trainings' commands to end before counting what is left.
    assert old.done.wait(120) and app.control.done.wait(120), "a training never ended"
    for thread in threading.enumerate():  # the data thread ends once its slab is made
        if thread.name.startswith("rnntui-data"):
            thread.join(60)
    seen["quit"] = alive()
    print(json.dumps(seen))

asyncio.run(main())
"""


def table() -> dict[str, str]:
    """thread name (a pattern: N is a number) -> its `alive` column, from the table."""
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0].startswith("`"):
            for name in re.findall(r"`([^`]+)`", cells[0]):
                rows[name] = cells[4]
    return rows


def row_of(name: str, rows: dict[str, str]) -> str | None:
    """The table's row that names the thread `name` ("Thread-7" is "Thread-N")."""
    for row in rows:
        if re.fullmatch(re.escape(row).replace("-N", r"-\d+"), name):
            return row
    return None


def test_the_table_of_threads_matches_the_threads_alive(tmp_path):
    rows = table()
    assert rows.get("rnntui-engine") == "always" and rows.get("rnntui-data_0") == "training"
    assert row_of("Thread-12", rows) == "Thread-N" and row_of("Thread-1x", rows) is None
    runs = tmp_path / "runs"
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(Path(__file__).parent), str(runs)],
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(list(runs.iterdir())) == 1  # the restart's training never made its folder
    always = {n for n, alive in rows.items() if alive == "always"}
    during = {n for n, alive in rows.items() if alive == "training"}
    for phase, names in seen.items():
        assert len(names) == len(set(names)), f"{phase}: a thread twice: {names}"
        unlisted = [n for n in names if row_of(n, rows) is None]
        assert not unlisted, f"{phase}: not in the table: {unlisted}"
    assert set(seen["idle"]) == always
    assert set(seen["quit"]) == always  # a training's own threads end with it
    # The data thread runs the whole training; the checkpoint writer from the first save.
    assert always | {"rnntui-data_0"} <= set(seen["training"]) <= always | during
