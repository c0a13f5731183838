"""The lower-right deck: predictions, lag effects, gradient reach and hidden state.

Pilot tests drive the real app (make_app) by keys and feed it fixed, seeded events through
the real bridge (appsupport.fixed_events); the drawing functions are checked on their own.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from appsupport import TINY_CONFIG, feed, fixed_events, wait_for
from rich.color import Color, ColorSystem
from textual.widgets import Static

from rnntui.config import Config
from rnntui.core.events import Insight, Predictions
from rnntui.tui.app import make_app
from rnntui.tui.bridge import TrainerEvent
from rnntui.tui.screens.dialogs import KEYS
from rnntui.tui.widgets import hidden
from rnntui.tui.widgets.lag_effects import effects_text
from rnntui.tui.widgets.reach import faded_from, reach_text

CONFIG = Config().with_values(epochs=3, state_size=16)
IDS = ["predictions", "effects", "reach", "hidden"]


def insight_of(events) -> Insight:
    return next(e for e in events if isinstance(e, Insight))


def on_show(app) -> list[str]:
    """The deck's panels that take room on the screen now."""
    return [p.id for p in app.query(".deck-panel") if p.display and p.region.area]


def text_of(app, panel_id: str) -> str:
    panel = app.query_one(f"#{panel_id}")
    if panel_id == "predictions":
        return str(panel.query_one("#pred-series", Static).render())
    return str(panel.render())


async def test_each_panel_by_key_draws_the_fixed_events_and_survives_40x12(tmp_path):
    events = fixed_events(CONFIG)
    e = insight_of(events)
    app = make_app(CONFIG, preload_tf=False, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await feed(pilot, events)
        assert on_show(app) == ["predictions"]
        for panel_id in IDS[1:]:
            await pilot.press("f2")
            assert on_show(app) == [panel_id]
        await pilot.press("f2")  # and round again
        assert on_show(app) == ["predictions"]
        # Lag effects: every lag 1..12, the rule lags with both numbers.
        app.deck.current = "effects"
        await pilot.pause()
        text = text_of(app, "effects")
        assert "t-3 " in text and f"{e.effects[3]:+.2f} of +0.50" in text
        assert f"{e.effects[8]:+.2f} of -0.25" in text and "t-12" in text
        # Gradient reach: where the gradient fades, and the article's window shares.
        app.deck.current = "reach"
        await pilot.pause()
        text = text_of(app, "reach")
        faded = faded_from(e.reach, 8)  # read against the largest rule lag's own
        assert (f"under 1% of t-8's from t-{faded}" if faded else "gradient reach: mean") \
            in text
        assert "100   80   60   40   20    0" in text
        # Hidden state: one row per unit, under the x row of the same window.
        app.deck.current = "hidden"
        await pilot.pause()
        text = text_of(app, "hidden")
        lines = text.splitlines()
        x = next(ev for ev in events if isinstance(ev, Predictions)).x
        assert lines[1].startswith("x  " + "".join(map(str, x[:20])))
        assert [ln.split()[0] for ln in lines[4:]] == [str(u) for u in e.units]
        for size in ((40, 12), (80, 24)):
            await pilot.resize_terminal(*size)
            for panel_id in IDS:
                app.deck.current = panel_id
                await pilot.pause()
                assert on_show(app) == [panel_id], size
                assert text_of(app, panel_id).strip()
        # At 80x24 the lag effects still show the rule lags with their numbers.
        app.deck.current = "effects"
        await pilot.pause()
        assert f"{e.effects[8]:+.2f} of -0.25" in text_of(app, "effects")


async def test_panels_repaint_only_when_what_they_show_changed(tmp_path):
    events = fixed_events(CONFIG)
    e = insight_of(events)
    app = make_app(CONFIG, preload_tf=False, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await feed(pilot, events)
        await pilot.press("f2")
        await pilot.pause()
        panel, reach = app.query_one("#effects"), app.query_one("#reach")
        drawn, reach_drawn = panel.paints, reach.paints
        assert drawn >= 1
        await feed(pilot, [replace(e, step=e.step + 100)])  # the same effects, a later step
        assert panel.paints == drawn
        changed = replace(e, effects=[v + 0.01 for v in e.effects])
        await feed(pilot, [changed])
        assert panel.paints == drawn + 1
        assert reach.paints == reach_drawn  # not on show: not drawn
        await pilot.press("f2")
        await pilot.pause()
        assert reach.paints == reach_drawn + 1


async def test_gates_key_steps_through_the_lstm_cell_state_and_gates(tmp_path):
    config = CONFIG.with_values(cell="lstm")
    app = make_app(config, preload_tf=False, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await feed(pilot, fixed_events(config))
        await pilot.press("f7")
        assert on_show(app) == ["hidden"] and app.deck.hidden.view == "h"
        seen = []
        for _ in range(5):
            await pilot.press("f7")
            seen.append(app.deck.hidden.view)
            title = hidden.SIGNED.get(seen[-1]) or hidden.GATE_NAMES[seen[-1]]
            assert text_of(app, "hidden").startswith(title)
        assert seen == ["c", "i", "f", "o", "h"]


async def test_the_timeline_key_shows_when_each_lag_began_to_count(tmp_path):
    """F9: the lag effects at each epoch end as a map, the rule lags marked; F9 again: now."""
    app = make_app(CONFIG, preload_tf=False, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        events = fixed_events(CONFIG)
        await feed(pilot, events)
        await pilot.press("f9")
        assert on_show(app) == ["effects"] and app.deck.effects.view == "timeline"
        lines = text_of(app, "effects").splitlines()
        assert lines[0].startswith("learning timeline")
        assert lines[1].split() == ["epoch", "1", "2", "3"]
        assert [ln.split()[0] for ln in lines[2:5]] == ["t-1", "t-2", "t-3"]
        await pilot.press("f9")
        assert text_of(app, "effects").startswith("lag effects")
        assert "mem 100%" in text_of(app, "effects")  # the memory readout beside




async def test_a_wide_terminal_shows_all_four_side_by_side(tmp_path):
    app = make_app(CONFIG, preload_tf=False, runs_dir=tmp_path)
    async with app.run_test(size=(160, 44)) as pilot:
        await feed(pilot, fixed_events(CONFIG))
        assert sorted(on_show(app)) == sorted(IDS)
        hid, pred = app.query_one("#hidden"), app.query_one("#predictions")
        assert hid.region.x == pred.region.x and hid.region.y > pred.region.y
        await pilot.press("f2")
        assert sorted(on_show(app)) == sorted(IDS)
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert on_show(app) == ["predictions"]


async def test_help_and_palette_name_every_panel_and_a_basic_cell_has_no_gates(tmp_path):
    app = make_app(CONFIG, preload_tf=False, runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        keys = dict(KEYS)
        assert "lag effects" in keys["F2"] and "gate" in keys["F7"]
        assert "timeline" in keys["F9"]
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Show predictions", "Show lag effects", "Show gradient reach",
                "Show hidden state", "Hidden state / gates"} <= titles
        await feed(pilot, fixed_events(CONFIG))
        await pilot.press("f7", "f7")
        assert on_show(app) == ["hidden"] and app.deck.hidden.view == "h"
        assert "F7:" not in text_of(app, "hidden")


async def test_a_tiny_run_updates_the_panels(tmp_path):
    config = TINY_CONFIG
    seen: list[Insight] = []

    def hook(message) -> None:
        if isinstance(message, TrainerEvent) and isinstance(message.event, Insight):
            seen.append(message.event)

    app = make_app(config, preload_tf=False, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        await pilot.press("f2")
        panel = app.query_one("#effects")
        await pilot.pause()
        drawn = panel.paints
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.status.state in ("finished", "failed", "diverged"))
        assert app.status.state == "finished", app.status.detail
        await pilot.pause()
        # Measured (at the last epoch end at least: the probe may not be ready before it,
        # and training never waits for it); the panel drew the newest.
        assert seen and all(e.effects for e in seen)
        assert panel.paints > drawn
        last = seen[-1]
        assert f"{last.effects[3]:+.2f} of +0.50" in text_of(app, "effects")
        app.deck.current = "hidden"
        await pilot.pause()
        rows = text_of(app, "hidden").splitlines()[4:]
        assert [r.split()[0] for r in rows] == [str(u) for u in last.units[:len(rows)]]
        await pilot.resize_terminal(40, 12)
        for panel_id in IDS:
            app.deck.current = panel_id
            await pilot.pause()
            assert on_show(app) == [panel_id] and text_of(app, panel_id).strip()


def test_a_newer_insight_replaces_a_queued_one_of_the_same_run():
    e = insight_of(fixed_events(CONFIG))
    older, newer = TrainerEvent(1, e), TrainerEvent(1, replace(e, step=e.step + 1))
    pred = TrainerEvent(1, Predictions(1, [0], [0], [0.5], []))
    assert newer.can_replace(older)
    assert not newer.can_replace(pred) and not pred.can_replace(older)
    assert not TrainerEvent(2, e).can_replace(older)


def test_lag_effects_bar_and_marker_sit_on_one_scale():
    true = [0.0] * 13
    true[3], true[8] = 0.5, -0.25
    effects = [0.0] * 13
    effects[3], effects[8] = 0.5, -0.125
    # 61 columns: a 5-column label, a bar of 41 (20 each side of the axis), the numbers.
    text = effects_text(effects, true, 61, 14).plain.splitlines()
    row3, row8 = text[3], text[8]
    axis = row3.index("│")
    assert axis == 5 + 20 and row8.index("│") == axis
    # t-3: a full half bar ending at the marker; t-8: half the true delta, marker beyond.
    assert row3.index("◆") == axis + 20 and "+0.50 of +0.50" in row3
    assert row3[axis + 1:axis + 20] == "█" * 19
    assert row8.index("◆") == axis - 10 and "-0.12 of -0.25" in row8
    assert row8[axis - 10:axis] == "◆    █████"
    # Too short for every lag: the rule lags stay, with a line on the rest.
    short = effects_text(effects, true, 60, 4).plain.splitlines()
    assert [ln.split()[0] for ln in short[1:3]] == ["t-3", "t-8"]
    assert short[-1].startswith("other lags")


def test_reach_marks_the_fading_lag_and_the_window_shares():
    reach = [10.0 ** -k for k in range(13)]
    share = [max(0, 5 - k) / 5 for k in range(13)]
    true = [0.0] * 13
    true[3], true[8] = 0.5, -0.25
    assert faded_from(reach, 8) == 11  # 1e-11 < 1% of t-8's 1e-8 (1e-10 is not under)
    assert faded_from(reach, 3) == 6
    lines = reach_text(reach, share, true, 80, 10).plain.splitlines()
    assert lines[0].startswith("gradient under 1% of t-8's from t-11")
    assert lines[-2].split()[1:7] == ["100", "80", "60", "40", "20", "0"]
    assert lines[-1].split()[1:] == [str(k) for k in range(13)]
    assert reach_text([], share, true, 80, 10).plain.startswith("gradient reach: not measured")


def test_heat_map_colours_are_exact_and_distinct_in_256_colours():
    palettes = (hidden.NEGATIVE, hidden.POSITIVE, hidden.GATE, (hidden.ZERO,))
    for palette in palettes:
        for c in palette:
            color = Color.parse(c)
            eight = color.downgrade(ColorSystem.EIGHT_BIT)
            assert eight.get_truecolor() == color.get_truecolor(), c
    ramp = [*hidden.NEGATIVE, hidden.ZERO, *hidden.POSITIVE]
    assert len({Color.parse(c).downgrade(ColorSystem.EIGHT_BIT).number for c in ramp}) == 11
    assert hidden.cell_color(0.02, 1.0, gate=False) == hidden.ZERO
    assert hidden.cell_color(-1.0, 1.0, gate=False) == hidden.NEGATIVE[-1]
    assert hidden.cell_color(0.99, 1.0, gate=True) == hidden.GATE[-1]
    assert hidden.state_scale([[0.3, -0.41]]) == 0.5
    assert hidden.cell_color(float(np.nan), 1.0, gate=False) is None


async def test_a_run_that_measures_nothing_says_why_on_every_panel(tmp_path):
    from rnntui.tui.widgets.lag_effects import LagEffectsPanel
    from rnntui.tui.widgets.reach import ReachPanel

    config = Config().with_values(epochs=3)
    app = make_app(config, preload_tf=False, runs_dir=tmp_path)
    async with app.run_test(size=(160, 44)) as pilot:  # wide: every panel is on show
        why = "insight is off: it flips a 0/1 input and reads P(y=1); t.txt has 4 input"
        events = fixed_events(config)
        await feed(pilot, events[:2] + [Insight(0, [], [], [], [], off=why)])
        for panel in (app.query_one(LagEffectsPanel), app.query_one(ReachPanel),
                      app.deck.hidden):
            assert str(panel.render()) == why
