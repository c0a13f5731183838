"""Pilot tests of runs in the app: run folders, the runs screen (overlay, config diff, resume,
unreadable folders), the race, and the SVG and .keras exports. Real training on tiny data."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from appsupport import LONG, wait_for
from textual.widgets import DataTable, Input, Static

from rnntui.cli import main
from rnntui.config import Config, config_string, parse_config_string
from rnntui.runs.folders import CHECKPOINT, CONFIG, METRICS, new_run, open_run, read_metrics
from rnntui.runs.phasemap import Cell
from rnntui.tui.app import make_app
from rnntui.tui.chart.render import SERIES_COLOURS, Series, render_chart
from rnntui.tui.compare import config_diff, read_curve
from rnntui.tui.screens.race import RaceScreen
from rnntui.tui.screens.runs import RunsScreen

# Long enough to stop mid-epoch (8,000 steps an epoch, ~17 chunks), small validation.
TINY = Config().with_values(size=20000, val_size=5000, batch_size=50, num_steps=5, epochs=1,
                            state_size=8)
TINY_FLAGS = ["--size", "20000", "--val-size", "5000", "--batch-size", "50", "--epochs", "1"]
DONE = ("finished", "stopped", "failed", "diverged")


def text_of(widget: Static) -> str:
    return str(widget.render())


def progress_steps(run) -> list[int]:
    """Every step the metrics hold a training loss for, in file order."""
    out = []
    for m in read_metrics(run):
        if m["event"] == "progress":
            out += range(m["step"] - len(m["losses"]) + 1, m["step"] + 1)
    return out


async def open_runs(pilot, count: int) -> RunsScreen:
    await pilot.press("f3")
    screen = pilot.app.screen
    assert isinstance(screen, RunsScreen)
    await wait_for(pilot, lambda: screen.table.row_count == count, 20)
    return screen


def test_the_app_module_does_not_import_tensorflow():
    code = "import rnntui.tui.app, sys; assert 'tensorflow' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


async def test_training_makes_a_run_that_resumes_and_exports(tmp_path):
    app = make_app(LONG, preload_tf=False, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.status.state == "training" and app.chart.num_points)
        await pilot.press("f8")
        await wait_for(pilot, lambda: app.status.state in DONE)
        assert app.status.state == "stopped", app.status.detail
        run = app.run_path
        assert run is not None and run.parent == tmp_path
        assert {CONFIG, METRICS, CHECKPOINT} <= {p.name for p in run.iterdir()}
        ckpt = open_run(run).checkpoint
        assert 0 < ckpt.step < 400_000 and ckpt.epoch == 0  # stopped, with epochs to go
        assert run.name in text_of(app.query_one("#status-run", Static))

        # The runs screen lists it, with the config string that reproduces it.
        screen = await open_runs(pilot, 1)
        detail = text_of(screen.query_one("#runs-detail", Static))
        shown = detail.splitlines()[1]
        assert shown == config_string(LONG)
        assert parse_config_string(shown) == LONG

        # r resumes it: the earlier curve comes back from the metrics, the steps continue.
        await pilot.press("r")
        await wait_for(pilot, lambda: app.status.state == "training"
                       and app.chart.num_points > ckpt.step)
        assert app.screen is not screen and app.run_path == run
        await pilot.press("f8")
        await wait_for(pilot, lambda: app.status.state in DONE)
        assert app.status.state == "stopped", app.status.detail
        steps = progress_steps(run)
        assert steps == list(range(1, len(steps) + 1)) and len(steps) > ckpt.step
        assert app.chart.num_points == len(steps)
        assert open_run(run).checkpoint.step == len(steps)

        # ctrl+s saves the chart into the run folder; ctrl+e exports the model.
        await pilot.press("ctrl+s")
        assert (run / "loss-chart.svg").read_text(encoding="utf-8").startswith("<svg")
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: (run / "model.keras").exists(), 60)
        await app.workers.wait_for_complete()
        assert (run / "model.keras").stat().st_size > 0


def write_run(runs_dir, config: Config, losses: list[float]):
    """A run folder written by hand (no training): its config and one progress line."""
    path = new_run(config, runs_dir, "handmade")
    line = {"event": "progress", "step": len(losses), "epoch": 0, "losses": losses}
    (path / METRICS).write_text(json.dumps(line) + "\n", encoding="utf-8")
    return path


async def test_runs_screen_overlays_and_diffs_and_survives_a_corrupt_folder(tmp_path):
    for extra in (["--num-steps", "5", "--state-size", "4"],
                  ["--num-steps", "10", "--state-size", "8"]):
        assert main(["train", *TINY_FLAGS, *extra, "--runs-dir", str(tmp_path)]) == 0
    broken = tmp_path / "20000101-000000-broken"
    broken.mkdir()
    (broken / CONFIG).write_text("[model]\ncell = 'nope'\n", encoding="utf-8")
    app = make_app(preload_tf=False, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_runs(pilot, 3)
        title = text_of(screen.query_one("#runs-title", Static))
        assert "2 runs, 1 unreadable" in title
        # Newest first: the two trained runs, then the broken folder; select both runs.
        await pilot.press("space", "down", "space", "enter")
        await wait_for(pilot, lambda: len(screen.chart.series_names) == 2, 20)
        # The legend names each run by its number in the table and its name, less the time.
        names = sorted(p.name.split("-", 2)[2] for p in tmp_path.iterdir() if p != broken)
        assert sorted(n.split(" ", 1)[1] for n in screen.chart.series_names) == names
        assert sorted(n.split(" ")[0] for n in screen.chart.series_names) == ["#1", "#2"]
        # 20000 // 50 // num_steps steps: 80 and 40.
        assert {screen.chart.series_points(n) for n in screen.chart.series_names} == {80, 40}
        assert len(screen.chart.floor_labels()) == 3
        diff = screen.query_one("#runs-diff", DataTable)
        fields = [diff.get_row_at(i)[0] for i in range(diff.row_count)]
        assert fields == ["state_size", "num_steps"]
        # The broken folder: its reason, one line, and overlaying it is refused.
        await pilot.press("down")
        detail = text_of(screen.query_one("#runs-detail", Static))
        assert detail.startswith(f"{broken.name} cannot be read: {broken / CONFIG}: cell: "
                                 "'nope' is not one of basic, rnn, gru, lstm")
        assert "\n" not in detail
        await pilot.press("space", "enter")
        message = text_of(screen.query_one("#runs-message", Static))
        assert message.startswith(f"{broken.name} cannot be read: {broken / CONFIG}: cell:")
        await pilot.press("r")  # (checked in the helper: runs.resume)
        await wait_for(pilot, lambda: "cannot resume" in text_of(
            screen.query_one("#runs-message", Static)), 20)
        assert app.screen is screen
        # A finished run has nothing left to resume.
        await pilot.press("up", "r")
        await wait_for(pilot, lambda: "nothing left to resume" in text_of(
            screen.query_one("#runs-message", Static)), 20)
        await pilot.press("escape")
        assert not isinstance(app.screen, RunsScreen)

        # Runs whose rules differ share no floors, and the screen says so.
        write_run(tmp_path, TINY.with_values(rules=((2, 0.5),)), [0.7, 0.6, 0.5])
        screen = await open_runs(pilot, 4)
        await pilot.press("space", "down", "space", "enter")
        await wait_for(pilot, lambda: len(screen.chart.series_names) == 2, 20)
        assert screen.chart.floor_labels() == []
        assert text_of(screen.query_one("#runs-note", Static)) == "rules differ, floors not shared"


async def test_a_race_runs_every_config_and_ranks_them(tmp_path):
    app = make_app(TINY, preload_tf=False, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f4")
        race = app.screen
        assert isinstance(race, RaceScreen)
        grid = race.query_one("#race-grid", Input)
        error = race.query_one("#race-error", Static)
        for bad, message in (("num_steps=0", "num_steps: 0 is out of range"),
                             ("speed=1,2", "grid: 'speed' is not a field"),
                             ("num_steps=2,2", "grid: num_steps lists a value twice"),
                             ("", "grid: type FIELD=V1,V2")):
            grid.value = bad
            await pilot.press("enter")
            assert text_of(error).startswith(message), text_of(error)
        assert not race.racing and not list(tmp_path.iterdir())
        grid.value = "num_steps = 2, 5"
        # As enter does, then paused before its worker can run: the race is surely still
        # going at the next key, however fast this machine trains (a warm TensorFlow
        # finished both laps before the next line).
        race.start(grid.value)
        race.toggle_pause()
        assert text_of(error) == "" and race.racing
        assert not race.phase_map.display  # one field: no phase map
        await pilot.press("f5")  # no training while a race runs
        assert app.run_id == 0 and race.racing
        race.toggle_pause()
        # The race goes on behind the main screen, and F4 shows it again.
        await pilot.press("escape")
        assert app.screen is not race
        await wait_for(pilot, lambda: not race.racing, 120)
        await pilot.press("f4")
        assert app.screen is race
        await pilot.pause(0.1)
        assert race.board.row_count == 2
        rows = [race.board.get_row_at(i) for i in range(2)]
        assert {r[1] for r in rows} == {"num_steps=2", "num_steps=5"}
        assert all(r[-1] == "finished" for r in rows)
        vals = [float(r[-3]) for r in rows]
        assert vals == sorted(vals)  # ranked by final validation loss
        assert [race.chart.series_points(n) for n in race.chart.series_names] == [200, 80]
        assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2
        await pilot.press("ctrl+s")
        assert len(list(tmp_path.glob("race-*.svg"))) == 1
        # F8 stops a race: the config running stops, the rest never start.
        grid.value = "epochs=99999,100000"  # long enough that the stop lands mid-run
        await pilot.press("enter")
        await wait_for(pilot, lambda: race.racing, 30)
        await pilot.press("f8")
        await wait_for(pilot, lambda: not race.racing, 60)
        await pilot.pause(0.1)
        statuses = {race.board.get_row_at(i)[1]: race.board.get_row_at(i)[-1] for i in range(2)}
        assert statuses == {"epochs=99999": "stopped", "epochs=100000": "not run"}
        assert "race stopped: 1/2 configs ran" in text_of(race.query_one("#race-status", Static))
        await pilot.press("escape")
        assert app.screen is not race


async def test_the_race_fills_its_phase_map_as_laps_end(tmp_path):
    app = make_app(TINY, preload_tf=False, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f4")
        race = app.screen
        # Two fields: a 1x2 map per lag; the second config outlasts any test on any machine
        # (100,000 epochs), so it is still running when the first has ended, and F8 ends it.
        race.query_one("#race-grid", Input).value = "num_steps=5 epochs=1,100000"
        await pilot.press("enter")
        assert race.phase_map.display
        t3, t8 = race.phase_map.maps()
        assert t3.rows == ("num_steps", [5]) and t3.cols == ("epochs", [1, 100000])
        assert t8.cells[0][1] in (Cell(None, "pending"), Cell(None, "running"))
        await wait_for(pilot, lambda: race.phase_map.running_index == 1, 120)
        first = race.results[0]
        assert race.phase_map.maps()[0].cells[0] == [
            Cell(first.fractions["t-3"]), Cell(None, "running")]
        shown = text_of(race.phase_map)
        assert f"{first.fractions['t-3']:>5.0%}" in shown and "…" in shown
        await pilot.press("f8")
        await wait_for(pilot, lambda: not race.racing, 60)
        await pilot.pause(0.1)
        second = race.results[1]
        assert second.status == "stopped"
        assert race.phase_map.maps()[1].cells == [[Cell(first.fractions["t-8"]),
                                                   Cell(second.fractions["t-8"])]]


async def test_a_run_folder_that_cannot_be_made_is_one_line(tmp_path):
    blocker = tmp_path / "runs"
    blocker.write_text("a file where the runs folder should be", encoding="utf-8")
    app = make_app(TINY, preload_tf=False, runs_dir=blocker)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.status.state in DONE)
        assert app.status.state == "failed"
        assert app.status.detail.startswith(f"{blocker}: cannot make a run folder there")
        assert "\n" not in app.status.detail
        await pilot.press("ctrl+e")  # no run to export: a message, no crash
        await pilot.press("f3")
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        await pilot.pause(0.2)
        assert screen.table.row_count == 0


def test_series_render_in_their_colours_with_a_legend():
    steps = np.arange(1, 501)
    a = Series("#1 fast", steps, 0.45 + 0.2 * np.exp(-steps / 50), [(500, 0.46)], 0)
    b = Series("#2 slow", steps, 0.5 + 0.2 * np.exp(-steps / 200), [], 1)
    rows = render_chart(100, 30, np.zeros(0), np.zeros(0), [], [], [], [a, b])
    assert rows[0].plain.endswith("━━ #1 fast") and rows[1].plain.endswith("━━ #2 slow")
    colours = {span.style.color.triplet.hex for r in rows for span in r.spans
               if span.style and span.style.color}
    assert {SERIES_COLOURS[0].lower(), SERIES_COLOURS[1].lower()} <= colours
    assert all(r.cell_len == 100 for r in rows) and len(rows) == 30


def test_config_diff_and_read_curve(tmp_path):
    a, b = TINY, TINY.with_values(cell="gru", learning_rate=0.05)
    assert config_diff([a, b]) == [("cell", ["basic", "gru"]), ("learning_rate", ["0.1", "0.05"])]
    assert config_diff([a, a]) == []
    path = write_run(tmp_path, a, [0.7, "nan", 0.5])
    curve = read_curve(path)
    assert curve.steps.tolist() == [1, 2, 3] and np.isnan(curve.losses[1])


def test_a_race_grid_takes_seeds_and_refuses_bad_ones():
    from rnntui.config import ConfigError
    from rnntui.tui.screens.race import parse_race

    base = Config().with_values(seed=7)
    grid, items, seeds = parse_race("num_steps=2,5 seeds=2", base)
    assert grid == [("num_steps", [2, 5])] and seeds == 2
    assert [(v["num_steps"], v["seed"], c.data.seed) for v, c in items] == [
        (2, 7, 7), (2, 8, 8), (5, 7, 7), (5, 8, 8)]
    for text, why in (("num_steps=2 seeds=0", "seeds: 0 is out of range"),
                      ("seeds=2", "grid: type FIELD=V1,V2")):
        try:
            parse_race(text, base)
        except ConfigError as err:
            assert why in str(err)
        else:
            raise AssertionError(f"{text} was taken")
