"""Text as text: a char model's predictions panel shows the stretch in its own symbols, the
model's top next symbols and a sample at a temperature the keys pick; `rnntui sample RUN`
draws from a run's checkpoint, the same seed giving the same sample; bad input gets one
line and exit 2."""

from __future__ import annotations

import json

import pytest
from appsupport import wait_for
from textual.widgets import Static

from rnntui.cli import main
from rnntui.config import Config
from rnntui.config.text import to_toml
from rnntui.core.events import Predictions
from rnntui.runs.folders import METRICS
from rnntui.runs.session import train_into_run
from rnntui.tui.app import make_app
from rnntui.tui.widgets import text_view

TEXT = ("the cat sat on the mat.\nthe dog sat on the log.\n\tthe end.\n" * 120)
TINY = dict(cell="gru", state_size=16, num_steps=10, batch_size=8, epochs=1)


def write_text(folder) -> str:
    path = folder / "tiny.txt"
    path.write_text(TEXT, encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    """A tiny char model trained on TEXT: its run folder."""
    folder = tmp_path_factory.mktemp("text")
    config = Config().with_values(data_file=write_text(folder), **TINY)
    opened = []
    end = train_into_run(config, lambda e: None, runs_dir=folder / "runs", opened=opened.append)
    assert type(end).__name__ == "Finished", end
    return opened[0]


def test_the_rows_show_symbols_as_text_with_the_top_guesses_best_first():
    symbols = ["\t", "\n", " ", "a", "b"]
    event = Predictions(5, x=[3, 2, 1, 0, 4], y=[2, 1, 0, 4, 3], p=[0.9, 0.5, 0.01, 0.3, 0.2],
                        combos=[], top=[[[2, 0.9], [3, 0.05]]] * 2 + [[[3, 0.6], [0, 0.01]]] * 3,
                        samples={"0.5": [3, 3], "1": [4, 1]}, prime=[3])
    rows = text_view.text_rows(event, symbols, symbols, 80).plain.splitlines()
    assert rows[0] == "text  a ⏎→b"  # the stretch, newline and tab shown
    assert rows[1] == "next  ␣␣aaa" and rows[2] == "      aa→→→"  # best, then second
    # Where the model was most surprised: the tab after the newline, at 1%.
    assert text_view.detail_line(event, symbols).plain.startswith("most surprised at 3: → p 0.010")
    sample = text_view.sample_text(event, symbols, "1", 80).plain
    assert sample.endswith("\nab⏎") and "temperature 1 " in sample
    assert text_view.temperatures(event) == ["0.5", "1"]


async def test_a_char_model_shows_text_top_symbols_and_samples_in_the_app(tmp_path):
    config = Config().with_values(data_file=write_text(tmp_path), **TINY)
    app = make_app(config, preload_tf=False, runs_dir=tmp_path / "runs")
    async with app.run_test(size=(120, 40)) as pilot:
        form = app.form  # the file is read: its floors are known
        await wait_for(pilot, lambda: form.config and form.floors_of(form.config))
        await pilot.press("f5")
        panel = app.deck.predictions
        await wait_for(pilot, lambda: panel._last is not None and panel._last.samples)
        await wait_for(pilot, lambda: app.status.state == "finished")
        event = panel._last
        assert panel.has_class("-text") and not app.query_one("#pred-combos").display
        for guesses in event.top:  # the top 3, best first, a share of the whole
            qs = [q for _, q in guesses]
            assert len(qs) == 3 and qs == sorted(qs, reverse=True) and sum(qs) <= 1.0001
        shown = str(app.query_one("#pred-series", Static).render())
        symbols = app.run_state.started.symbols
        stretch = "".join(symbols[c] for c in event.x[:40]).replace("\n", "⏎")
        assert stretch.replace("\t", "→") in shown and "temperature 0.8" in shown
        await pilot.press("ctrl+up")
        assert panel.temperature == "1" and "temperature 1 " in str(
            app.query_one("#pred-series", Static).render())
        await pilot.press("ctrl+down", "ctrl+down", "ctrl+down")  # stops at the coolest
        assert panel.temperature == "0.5"
    # What the panel showed, the run folder holds: its look and its started event.
    run = next((tmp_path / "runs").iterdir())
    look = json.loads((run / "look.json").read_text())["predictions"]
    assert set(look["samples"]) == {"0.5", "0.8", "1", "1.5"} and look["top"]
    started = json.loads((run / METRICS).read_text().splitlines()[0])
    assert started["symbols"] == symbols


def test_the_same_seed_draws_the_same_sample(text_run, capsys):
    assert main(["sample", str(text_run), "--seed", "3", "--length", "60"]) == 0
    first = capsys.readouterr().out
    assert main(["sample", str(text_run), "--seed", "3", "--length", "60"]) == 0
    assert capsys.readouterr().out == first
    assert main(["sample", str(text_run), "--seed", "4", "--prime", "the ", "--length",
                 "60", "--temperature", "0.5"]) == 0
    other = capsys.readouterr().out
    assert other.startswith("the ") and len(other) == 4 + 60 + 1 and other != first
    assert set(other[:-1]) <= set(TEXT)


@pytest.mark.parametrize("flags, says", [
    (["--temperature", "0"], "--temperature: 0 must be a number above 0"),
    (["--temperature", "hot"], "--temperature: 'hot' is not a number above 0"),
    (["--length", "0"], "--length: 0 is out of range"),
    (["--seed", "x"], "--seed: 'x' is not an integer"),
    (["--prime", "thé @"], "--prime: '@', 'é': not among the symbols of the run's file"),
])
def test_bad_sample_flags_say_which_in_one_line(text_run, capsys, flags, says):
    assert main(["sample", str(text_run), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {says}") and err.count("\n") == 1, err


def test_runs_that_cannot_be_sampled_say_why(tmp_path, capsys):
    assert main(["sample", str(tmp_path / "nope")]) == 2
    assert "no such" in capsys.readouterr().err
    config = Config().with_values(size=2000, val_size=500, batch_size=10, num_steps=5,
                                  state_size=4, epochs=1)
    opened = []
    train_into_run(config, lambda e: None, runs_dir=tmp_path / "runs", opened=opened.append)
    assert main(["sample", str(opened[0])]) == 2
    err = capsys.readouterr().err
    assert "generator's 0/1 series" in err and "rnntui inspect" in err and err.count("\n") == 1
    bare = Config().with_values(data_file=write_text(tmp_path), **TINY)
    folder = tmp_path / "bare"
    folder.mkdir()
    (folder / "config.toml").write_text(to_toml(bare))
    assert main(["sample", str(folder)]) == 2
    assert "no checkpoint yet" in capsys.readouterr().err
