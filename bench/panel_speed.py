"""The app's training speed with each lower-right panel on show, against the predictions panel.

    python bench/panel_speed.py [--rounds 3]

The same config as bench/app_speed.py, trained in the real app (Textual's test driver,
which composes and renders every frame) with one panel on show at 120x40: predictions
(the peer: the app before these panels), lag effects, gradient reach, hidden state; and
all four side by side at 160x48. Steps/s after compile as Finished reports it, the
layouts alternating in each round; medians over rounds, and each one's ratio to the peer.
Training measures the insight in every layout (the engine does not know what is on show),
so the ratio is the cost of drawing the panel. On a busy machine that ratio is noise:
the second measure is what drawing costs, the median time of one full draw of the panel
on show (its text and Textual's strips, from the run's last events) and the draws made.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time

from app_speed import CONFIG

from rnntui.core.events import Finished
from rnntui.tui.app import make_app
from rnntui.tui.bridge import TrainerEvent

LAYOUTS = {  # name -> (terminal size, panel on show)
    "predictions": ((120, 40), "predictions"),
    "lag effects": ((120, 40), "effects"),
    "gradient reach": ((120, 40), "reach"),
    "hidden state": ((120, 40), "hidden"),
    "all four (160x48)": ((160, 48), "predictions"),
}


def draw_ms(widget, times: int = 50) -> float:
    """Median ms of one full draw of `widget`: its render and the strips Textual makes."""
    spent = []
    for _ in range(times):
        t0 = time.perf_counter()
        widget._render_content()  # what a refresh() costs the UI thread
        spent.append(time.perf_counter() - t0)
    return 1000 * statistics.median(spent)


async def in_app(size: tuple[int, int], panel: str) -> tuple[float, int, float]:
    """(steps/s, times the panels on show were drawn, ms to draw them all once)."""
    finished: list[Finished] = []

    def hook(message):
        if isinstance(message, TrainerEvent) and isinstance(message.event, Finished):
            finished.append(message.event)

    app = make_app(CONFIG, preload_tf=False, runs_dir=tempfile.mkdtemp(prefix="rnntui-bench-"))
    async with app.run_test(size=size, message_hook=hook) as pilot:
        app.deck.current = panel
        await pilot.press("f5")
        while not finished:
            await asyncio.sleep(0.01)
        await pilot.pause()
        shown = [p.id for p in app.query(".deck-panel") if p.display]
        widgets = [app.query_one(f"#{p}") for p in shown]
        drawn = sum(getattr(w, "paints", 0) for w in widgets)
        # The predictions panel's part that changes with every event is its series.
        ms = sum(draw_ms(w.query_one("#pred-series") if w.id == "predictions" else w)
                 for w in widgets)
    return finished[0].steps_per_sec, drawn, ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (default: 3)")
    args = ap.parse_args()
    rates: dict[str, list[float]] = {name: [] for name in LAYOUTS}
    costs: dict[str, list[float]] = {name: [] for name in LAYOUTS}
    for r in range(args.rounds):
        for name, (size, panel) in LAYOUTS.items():
            rate, drawn, ms = asyncio.run(in_app(size, panel))
            rates[name].append(rate)
            costs[name].append(ms)
            print(f"round {r + 1}: {name}: {rate:,.0f} steps/s, {drawn} draws of "
                  f"{ms:.2f} ms", flush=True)
    peer = statistics.median(rates["predictions"])
    for name, values in rates.items():
        m = statistics.median(values)
        print(f"{name}: {m:,.0f} steps/s, {m / peer:.0%} of the predictions panel's; "
              f"{statistics.median(costs[name]):.2f} ms a draw (medians of {args.rounds})")


if __name__ == "__main__":
    main()
