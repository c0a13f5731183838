"""Pilot test: choose a file in the form, see its empirical floors, train it."""

from __future__ import annotations

import numpy as np
from appsupport import type_into, wait_for
from textual.widgets import Select, Static

from rnntui.config import Config
from rnntui.data.generator import generate
from rnntui.tui.app import make_app


async def test_choose_a_file_see_its_floors_and_train_it(tmp_path):
    x, y = generate(20_000, 5)
    np.savez("s.npz", x=x, y=y)
    config = Config().with_values(batch_size=50, num_steps=5, state_size=8)
    app = make_app(config, preload_tf=False, runs_dir=tmp_path / "runs")
    async with app.run_test(size=(120, 40)) as pilot:
        assert not app.query_one("#row-data_file").display  # the generator's fields show
        app.query_one("#source", Select).focus()
        await pilot.press("enter", "down", "enter")
        await pilot.pause()
        assert app.query_one("#source", Select).value == "file"
        assert app.query_one("#row-data_file").display and not app.query_one("#row-size").display
        assert app.form.config is None  # a file source needs a path
        await type_into(pilot, "data_file", "nope.csv")
        error = str(app.query_one("#error-data_file", Static).render())
        assert error == "data_file: nope.csv: no such file", error
        await type_into(pilot, "data_file", "s.npz")
        assert app.form.config is not None, app.form.errors
        labels = app.chart.floor_labels()
        assert labels[0].startswith("window 0 0.6") and labels[1].startswith("window 4 0.5")
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.status.state in ("finished", "failed", "diverged"))
        assert app.status.state == "finished", app.status.detail
        assert app.chart.floor_labels() == labels  # the run keeps the file's floors
        v = app.status.verdict
        assert v is not None and v.prefix == "window " and v.lags[0] == 4
        assert "window 4" in str(app.query_one("#status-verdict", Static).render())
        run = next((tmp_path / "runs").iterdir())
        assert (run / "data_file.json").is_file()
