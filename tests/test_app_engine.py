"""The app against the engine's ordering, made to race on purpose (an Event holds one side):
quitting waits for the stop checkpoint, the UI thread never reads a data file, and an
older runs-screen read never lands over a newer one."""

from __future__ import annotations

import threading

import numpy as np
from appsupport import LONG, type_into, wait_for
from textual.widgets import Select

from rnntui.cli import main
from rnntui.data import datafile
from rnntui.data.generator import generate
from rnntui.engine import checkpoint
from rnntui.runs.folders import CHECKPOINT
from rnntui.tui import compare
from rnntui.tui.app import QUIT_WAIT_S, make_app
from rnntui.tui.screens.runs import RunsScreen

WAIT = 120


async def test_quitting_waits_for_the_stop_checkpoint_however_slow_its_write(tmp_path,
                                                                             monkeypatch):
    writing, release = threading.Event(), threading.Event()
    real_save = checkpoint.save

    def slow_save(path, ckpt):
        if ckpt.batch:  # the stop's checkpoint, mid-epoch: held until the test lets go
            writing.set()
            assert release.wait(WAIT)
        real_save(path, ckpt)

    monkeypatch.setattr(checkpoint, "save", slow_save)
    app = make_app(LONG, preload_tf=False, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.status.state == "training" and app.chart.num_points)
        await pilot.press("ctrl+q")
        await wait_for(pilot, writing.is_set)
        for _ in range(10):  # the app goes on while the write is held
            await pilot.pause()
        assert app.is_running and not app.control.done.is_set()
        assert "saving the checkpoint" in app.status.detail
        release.set()  # the write ends while the app waits
        await wait_for(pilot, app.control.done.is_set)
    run = next(tmp_path.iterdir())
    saved = checkpoint.load(run / CHECKPOINT)
    assert saved.batch > 0 and saved.step > 0  # the stop's own, not an epoch's
    assert QUIT_WAIT_S <= 10  # bounded: a stuck compile cannot hold a quitting app for long


async def test_the_ui_thread_never_reads_a_data_file(tmp_path, monkeypatch):
    x, y = generate(20_000, 5)
    np.savez("s.npz", x=x, y=y)  # (the test runs in tmp_path: a short path to type)
    readers: list[str] = []
    real_load = datafile._load

    def load(*args):
        readers.append(threading.current_thread().name)
        return real_load(*args)

    monkeypatch.setattr(datafile, "_load", load)
    app = make_app(preload_tf=False, runs_dir=tmp_path / "runs")
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one("#source", Select).focus()
        await pilot.press("enter", "down", "enter")
        await type_into(pilot, "data_file", "s.npz")
        await wait_for(pilot, lambda: app.form.config is not None, WAIT)
        assert app.chart.floor_labels()[0].startswith("window 0")
        await type_into(pilot, "batch_size", "50")  # another edit: read again, elsewhere
        await wait_for(pilot, lambda: app.form.config is not None, WAIT)
    assert readers and "MainThread" not in readers


async def test_an_older_runs_read_never_lands_over_a_newer_one(tmp_path, monkeypatch):
    """Two overlays asked one after the other, the first's read held: only the second's
    answer is shown; the first, late, is dropped."""
    for steps in ("5", "10"):
        assert main(["train", "--size", "20000", "--val-size", "5000", "--batch-size", "50",
                     "--epochs", "1", "--num-steps", steps, "--runs-dir", str(tmp_path)]) == 0
    first_read, release = threading.Event(), threading.Event()
    real_read, calls = compare.read_curve, []

    def read_curve(path):
        calls.append(path)
        if len(calls) == 1:  # the first overlay's read, held
            first_read.set()
            assert release.wait(WAIT)
        return real_read(path)

    answers: list[tuple[int, int]] = []
    real_loaded = RunsScreen.on_runs_screen_loaded

    def loaded(self, message):
        answers.append((message.ask, self._loaded))
        return real_loaded(self, message)

    monkeypatch.setattr("rnntui.tui.screens.runs.read_curve", read_curve)
    monkeypatch.setattr(RunsScreen, "on_runs_screen_loaded", loaded)
    app = make_app(preload_tf=False, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f3")
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        await wait_for(pilot, lambda: screen.table.row_count == 2)
        await pilot.press("enter")  # overlay the newest run: its read is held
        await wait_for(pilot, first_read.is_set)
        await pilot.press("down", "enter")  # then the other one
        release.set()
        await wait_for(pilot, lambda: len(answers) == 2 and screen.overlaid)
    (first, current_then), (second, current) = answers
    assert first != current_then and second == current  # the late first one was dropped
    assert screen.overlaid == [str(sorted(tmp_path.iterdir())[0])]  # the older run's
