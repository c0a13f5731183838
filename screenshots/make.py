"""Make the README's screenshots from the real app, training for real (about a minute).

    python screenshots/make.py

Writes screenshots/training.svg (mid-training, after the first epoch) and
screenshots/learned.svg (the default preset, after learning both lags) at 120x40; then,
from the same finished run, one per lower-right panel (effects.svg, reach.svg,
hidden.svg, as F2 shows them at 120x40) and wide.svg (all four side by side at 160x48).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from rnntui.config import preset
from rnntui.tui.app import make_app

HERE = Path(__file__).parent


async def wait_for(pilot, predicate, timeout=300.0):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            sys.exit(f"timed out; state {pilot.app.status.state}: {pilot.app.status.detail}")
        await asyncio.sleep(0.02)


async def main() -> None:
    # The default preset on a longer series, so that an epoch lasts long enough to catch.
    config = preset("fast").with_values(size=1_000_000, epochs=4)
    # The run folder goes to a temporary place: the screenshots are what this script keeps.
    app = make_app(config, preload_tf=False, runs_dir=tempfile.mkdtemp(prefix="rnntui-shots-"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.chart.num_val >= 1)
        await pilot.pause(0.7)  # the progress text and the chart repaint on their timers
        app.save_screenshot("training.svg", str(HERE))
        await wait_for(pilot, lambda: app.status.state in ("finished", "failed", "diverged"))
        await pilot.pause(1.2)  # the chart and sparklines repaint on their timers
        app.save_screenshot("learned.svg", str(HERE))
        print(f"{app.status.state}: {app.status.detail}")
        for panel in ("effects", "reach", "hidden"):
            app.deck.current = panel
            await pilot.pause(0.3)
            app.save_screenshot(f"{panel}.svg", str(HERE))
        app.deck.current = "predictions"
        await pilot.resize_terminal(160, 48)
        await pilot.pause(0.7)
        app.save_screenshot("wide.svg", str(HERE))


if __name__ == "__main__":
    asyncio.run(main())
