"""Time one loss-chart update: rnntui's braille LossChart against plotext, in one run.

One update = hand over 2,000 training losses, 5 validation points and 3 floor lines, then
render the whole 120x40 chart. For ours that is the widget's data calls, `render_rows`, and
the conversion of each row to a Textual `Strip` exactly as `LossChart.render_line` does it
(`Strip(text.render(console), width)`), so the number covers everything up to painting.
For plotext (the library textual-plotext wraps) it is clear_figure, plotsize, plot, a
validation scatter, 3 hlines and build(), with plotext<6 as textual-plotext pins it
(`pip install 'plotext<6'`); the ANSI-to-Text conversion textual-plotext then does is not
counted, which favours plotext.

    python bench/chart_speed.py              # 50 repeats each
    python bench/chart_speed.py --repeats 20
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
from rich.console import Console
from textual.strip import Strip

from rnntui.tui.widgets.loss_chart import LossChart

WIDTH, HEIGHT, POINTS = 120, 40, 2000
FLOORS = [("nothing", 0.662), ("t-3", 0.519), ("t-3,t-8", 0.454)]
TARGET_MS = 10.0


def data(points: int = POINTS) -> tuple[np.ndarray, np.ndarray, list[tuple[int, float]]]:
    """A noisy decaying loss curve over `points` steps and a 5-epoch validation series."""
    rng = np.random.default_rng(0)
    steps = np.arange(1, points + 1)
    losses = 0.46 + 0.4 * np.exp(-steps / (points / 6)) + 0.02 * rng.standard_normal(points)
    val = [(points // 5 * e, 0.47 + 0.2 * np.exp(-e)) for e in range(1, 6)]
    return steps, losses.astype(np.float32), val


def median_ms(fn, repeats: int) -> float:
    """Median wall time of `fn()` in milliseconds, after 3 untimed warm-up calls."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def ours(steps: np.ndarray, losses: np.ndarray, val: list[tuple[int, float]]):
    """One LossChart update: append all data, render rows, build Textual strips."""
    chart = LossChart()
    console = Console(width=WIDTH)

    def update() -> list[Strip]:
        chart.clear_data()
        chart.set_floors(FLOORS)
        chart.add_losses(1, losses)
        for step, loss in val:
            chart.add_val(step, loss)
        rows = chart.render_rows(WIDTH, HEIGHT)
        strips = [Strip(row.render(console), WIDTH) for row in rows]
        assert len(strips) == HEIGHT and all(s.cell_length == WIDTH for s in strips)
        return strips

    return update


def plotext_update(plt, steps, losses, val, marker: str | None):
    """One plotext figure with the same content; `marker=None` keeps plotext's default."""
    extra = {} if marker is None else {"marker": marker}
    xs, ys = steps.tolist(), losses.tolist()
    vx, vy = [s for s, _ in val], [v for _, v in val]

    def update() -> str:
        plt.clear_figure()
        plt.limitsize(False, False)  # else plotext shrinks to the (non-tty) terminal size
        plt.plotsize(WIDTH, HEIGHT)
        plt.plot(xs, ys, **extra)
        plt.scatter(vx, vy, **extra)
        for _, floor in FLOORS:
            plt.hline(floor)
        return plt.build()

    return update


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    steps, losses, val = data()
    print(
        f"one update: {POINTS} losses + {len(val)} val points + {len(FLOORS)} floors, "
        f"{WIDTH}x{HEIGHT}, median of {args.repeats}"
    )
    our_ms = median_ms(ours(steps, losses, val), args.repeats)
    verdict = "ok" if our_ms <= TARGET_MS else "OVER TARGET"
    print(
        f"  ours (render_rows + Textual Strip per row): {our_ms:7.2f} ms  "
        f"[target <= {TARGET_MS:g} ms: {verdict}]"
    )
    big_ms = median_ms(ours(*data(200_000)), max(args.repeats // 5, 3))
    print(
        f"  ours, same with 200,000 losses:             {big_ms:7.2f} ms  "
        "(cost follows pixel columns, not points)"
    )
    try:
        import plotext as plt
    except ImportError:
        print("  plotext: not installed; `pip install 'plotext<6'` to compare")
        return 0
    version = getattr(plt, "__version__", "?")
    if not hasattr(plt, "clear_figure"):
        # plotext 6 replaced the 5.x API that textual-plotext (plotext<6) is written against.
        print(
            f"  plotext {version}: not the 5.x API textual-plotext uses; "
            "`pip install 'plotext<6'` to compare"
        )
        return 0
    for label, marker in (("default marker", None), ("braille marker", "braille")):
        ms = median_ms(plotext_update(plt, steps, losses, val, marker), args.repeats)
        print(
            f"  plotext {version} build(), {label}:       {ms:7.2f} ms  "
            f"plotext/ours = {ms / our_ms:.1f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
