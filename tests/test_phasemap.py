"""The phase map: its layout and values from fixed sweep results (no training), its SVG, and
`rnntui sweep` printing and writing it (tiny real trainings), the note for other grids and
a bad --svg path."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from rnntui.cli import main
from rnntui.runs.phasemap import Cell, colour, ink, lag_names, legend, maps, render, svg
from rnntui.runs.sweep import SweepResult

GRID = [("num_steps", [2, 5, 10]), ("state_size", [4, 16])]
TINY = ["--preset", "r2rt", "--size", "10000", "--val-size", "2000", "--batch-size", "50"]
SVG = "{http://www.w3.org/2000/svg}"


def result(values: dict, status: str, t3: float, t8: float) -> SweepResult:
    fractions = {} if status == "diverged" else {"t-3": t3, "t-8": t8}
    return SweepResult(values, "run", status, 0.5, fractions, {}, 1.0)


def fixed_results() -> dict:
    """Grid order (num_steps outermost): 5/16 diverged, 10/4 could not start, 10/16 not run."""
    return {0: result({"num_steps": 2, "state_size": 4}, "finished", 0.86, 0.0),
            1: result({"num_steps": 2, "state_size": 16}, "finished", 1.0, 0.12),
            2: result({"num_steps": 5, "state_size": 4}, "stopped", 1.0, 0.021),
            3: result({"num_steps": 5, "state_size": 16}, "diverged", 0, 0),
            4: "runs/x: cannot write"}


def test_the_map_lays_the_grid_out_and_shows_each_fraction():
    t3, t8 = maps(GRID, lag_names(((8, -0.25), (3, 0.5))), fixed_results(), running=5)
    assert (t3.lag, t8.lag) == ("t-3", "t-8")
    assert t8.cells == [[Cell(0.0), Cell(0.12)], [Cell(0.021), Cell(None, "diverged")],
                        [Cell(None, "failed"), Cell(None, "running")]]
    assert render(t3).plain.splitlines() == [
        "t-3 learned · state_size across",
        "num_steps      4    16",
        "        2   86%█ 100%█",
        "        5  100%█   div",
        "       10   fail     …",
    ]
    assert render(t8).plain.splitlines()[2:] == [
        "        2    0%   12% ",
        "        5    2%    div",
        "       10   fail     …",
    ]
    # Colour: the scale's ends, learned cells bold, and cells with no number grey.
    assert (colour(0.0), colour(1.0), colour(-1), colour(2)) == (
        "#440154", "#fde725", "#440154", "#fde725")
    spans = {render(t3).plain[s.start:s.end]: str(s.style) for s in render(t3).spans}
    assert spans[" 100%█"] == f"bold {ink(1.0)} on {colour(1.0)}"
    assert spans["  86%█"] == f"{ink(0.86)} on {colour(0.86)}"
    assert spans["   div"] == spans["  fail"] == "#6c6c6c"
    assert legend().plain.splitlines()[1] == ("div: diverged  fail: failed  ·: not run  "
                                              "…: running  -: not measured")


def test_a_column_wider_than_a_cell_widens_its_column():
    [m] = maps([("cell", ["basic", "gru"]), ("learning_rate", [0.1, 0.00025])], ["t-3"],
               {0: result({}, "finished", 0.5, 0), 3: result({}, "finished", 0.25, 0)})
    assert render(m).plain.splitlines()[1:] == [
        " cell      0.1 0.00025",
        "basic     50%▒       ·",
        "  gru        ·    25%░",
    ]


def test_the_svg_is_valid_and_holds_every_cell():
    phase_maps = maps(GRID, ["t-3", "t-8"], fixed_results())
    root = ET.fromstring(svg(phase_maps))
    assert root.tag == f"{SVG}svg" and float(root.get("width")) > 0
    texts = [t.text for t in root.iter(f"{SVG}text")]
    fills = [r.get("fill") for r in root.iter(f"{SVG}rect")]
    assert "t-3 learned: num_steps down, state_size across" in texts
    # Each lag's 6 cells, in row order: their words and their colours.
    cells = [t for t in texts if t and (t.endswith("%") or t in ("div", "fail", "·"))]
    assert cells[:12] == ["86%", "100%", "100%", "div", "fail", "·",
                          "0%", "12%", "2%", "div", "fail", "·"]
    assert fills[1:7] == [colour(0.86), colour(1.0), colour(1.0), "#d0d0d0", "#d0d0d0",
                          "#d0d0d0"]
    assert fills[7:9] == [colour(0.0), colour(0.12)]


def test_sweep_prints_the_map_and_writes_the_svg(tmp_path, capsys):
    out_svg = tmp_path / "map.svg"
    code = main(["sweep", *TINY, "--runs-dir", str(tmp_path / "runs"), "--grid",
                 "num_steps=2,5", "--grid", "state_size=4", "--svg", str(out_svg)])
    assert code == 0
    text = capsys.readouterr().out
    table, _, rest = text.partition("\n\nt-3 learned")
    rows = [line.split() for line in table.splitlines()[2:]]
    t3 = [row[3] for row in rows]  # the table's t-3 column, as the map's cells must read
    lines = rest.splitlines()
    assert lines[:2] == [" · state_size across · epochs in series steps: a longer num_steps"
                         " makes fewer updates", "num_steps      4"]
    assert lines[2].startswith(f"        2  {t3[0]:>4}") and len(lines[2]) == 16
    assert lines[3].startswith(f"        5  {t3[1]:>4}") and len(lines[3]) == 16
    assert "t-8 learned · state_size across" in text
    assert text.rstrip().endswith(f"wrote the phase map to {out_svg}")
    cells = [t.text for t in ET.parse(out_svg).getroot().iter(f"{SVG}text")
             if t.text and t.text.endswith("%")]
    assert cells[:2] == t3
    # Three fields: the table and a note, no map, no error.
    code = main(["sweep", *TINY, "--runs-dir", str(tmp_path / "runs"), "--grid",
                 "num_steps=5", "--grid", "state_size=4", "--grid", "cell=basic"])
    assert code == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "no phase map: it needs a grid of two fields (--grid twice), got 3"
    assert out[-2].split()[:3] == ["5", "4", "basic"] and "learned" not in "".join(out)


def test_an_unwritable_svg_is_one_line_before_any_training(tmp_path, capsys):
    runs = tmp_path / "runs"
    for bad in (tmp_path / "no" / "such" / "map.svg", tmp_path):
        code = main(["sweep", *TINY, "--runs-dir", str(runs), "--grid", "num_steps=2,5",
                     "--grid", "state_size=4", "--svg", str(bad)])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith(f"error: --svg: cannot write {bad}: ")
        assert err.count("\n") == 1 and not runs.exists()
    assert not (tmp_path / "no").exists()


def test_with_seeds_a_cell_is_their_median_with_its_spread():
    grid = [("num_steps", [2, 5]), ("state_size", [4])]
    seeds = {0: result({}, "finished", 0.86, 0.0), 1: result({}, "finished", 0.0, 0.0),
             2: result({}, "finished", 0.52, 0.1),  # num_steps 2: 86%, 0%, 52%
             3: result({}, "finished", 1.0, 0.2), 4: result({}, "diverged", 0, 0),
             5: result({}, "finished", 0.98, 0.4)}  # num_steps 5: one diverged
    t3, _ = maps(grid, ["t-3", "t-8"], seeds, seeds=3, caption="median of 3 seeds")
    assert t3.cells == [[Cell(0.52, low=0.0, high=0.86)], [Cell(0.99, low=0.98, high=1.0)]]
    lines = render(t3).plain.splitlines()
    assert lines[0].endswith("median of 3 seeds")
    assert "52% 0..86" in lines[2] and "99% 98..100" in lines[3]
    texts = [t.text for t in ET.fromstring(svg([t3])).iter(f"{SVG}text")]
    assert "52% 0..86" in texts and "median of 3 seeds" in texts


def test_sweep_seeds_and_same_updates(tmp_path, capsys):
    """Two seeds a cell, and each cell's series scaled by its num_steps: the same updates."""
    code = main(["sweep", *TINY, "--runs-dir", str(tmp_path / "runs"), "--grid",
                 "num_steps=2,4", "--grid", "state_size=4", "--seeds", "2", "--same-updates",
                 "--json"])
    assert code == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["values"]["num_steps"], r["values"]["seed"]) for r in rows] == [
        (2, 0), (2, 1), (4, 0), (4, 1)]
    assert [r["values"]["size"] for r in rows] == [4000, 4000, 8000, 8000]  # base: 5 -> 10k
    assert len({r["steps"] for r in rows}) == 1  # 4000 // 50 // 2 = 8000 // 50 // 4 = 40


def test_bad_seeds_and_same_updates_are_one_line(tmp_path, capsys):
    runs = tmp_path / "runs"
    for extra, why in ((["--seeds", "0"], "seeds: 0 is out of range"),
                       (["--seeds", "abc"], "seeds: 'abc' is not an integer"),
                       (["--same-updates"], "same_updates: needs num_steps in the grid")):
        code = main(["sweep", *TINY, "--runs-dir", str(runs), "--grid", "state_size=2,4",
                     *extra])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and why in err, err
    assert not runs.exists()
