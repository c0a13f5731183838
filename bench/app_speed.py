"""Training inside the app against headless `rnntui train`, and key latency during training.

    python bench/app_speed.py [--rounds 3]
    python bench/app_speed.py --text       # a char model on pydoc's text, its text panel on

1. Steps/s (after compile, as Finished reports it) of the same config trained headless
   (as `rnntui train` does: run folder, recorder, checkpoints, plain report) and in the app
   (the real app, run headless by
   Textual's test driver, which composes and renders every frame but writes no terminal),
   alternating, medians over rounds, and the ratio. Target: app >= 90% of headless.
2. Key latency while the app trains: the time from a key entering the driver to the
   focused field showing its new text in its rendered line, over 200 keys; p50 and p99.
   Target: p99 <= 100 ms. (Textual's 60 fps screen refresh adds up to ~16 ms on top.)

With --text the config is bench/char_speed.py's GRU workload on 300 KB of its pydoc text
(1 epoch; --epochs N for N): the predictions panel shows the text, its top guesses and
the samples the looks draw, as a user of a char model sees them. Target: app >= 95% of headless.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import tempfile
import time

import numpy as np
from textual import events

from rnntui.config import preset
from rnntui.core.events import Finished
from rnntui.engine import train
from rnntui.runs.folders import CHECKPOINT, new_run
from rnntui.runs.recorder import Recorder
from rnntui.runs.report import PlainReport
from rnntui.tui.app import make_app
from rnntui.tui.bridge import TrainerEvent

CONFIG = preset("r2rt").with_values(num_steps=10, size=1_000_000, val_size=100_000, epochs=8)


def text_config(epochs: int = 1):
    """char_speed's GRU workload, `epochs` on 300 KB of its pydoc text."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from char_speed import WORKLOADS, make_text

    from rnntui.config import Config

    w = WORKLOADS["gru"]
    text = make_text(Path(tempfile.mkdtemp(prefix="rnntui-text-")) / "pydoc.txt", 300_000)
    return Config().with_values(data_file=str(text), cell=w.cell, num_layers=w.layers,
                                state_size=w.state, num_steps=w.num_steps, batch_size=w.batch,
                                learning_rate=w.lr, optimizer="adam", clip_norm=5.0,
                                epochs=epochs)


def headless() -> float:
    """What `rnntui train` does: a run folder, its recorder, checkpoints, the plain report."""
    run = new_run(CONFIG, tempfile.mkdtemp(prefix="rnntui-bench-"))
    report, recorder = PlainReport(io.StringIO()), Recorder(run)

    def on_event(event):
        recorder.on_event(event)
        report.on_event(event)

    final = train(CONFIG, on_event, checkpoint_path=run / CHECKPOINT)
    assert isinstance(final, Finished), final
    return final.steps_per_sec


async def in_app(keys: int = 0) -> tuple[float, list[float]]:
    finished: list[Finished] = []

    def hook(message):
        if isinstance(message, TrainerEvent) and isinstance(message.event, Finished):
            finished.append(message.event)

    app = make_app(CONFIG.with_values(epochs=CONFIG.train.epochs * (4 if keys else 1)),
                   preload_tf=False, runs_dir=tempfile.mkdtemp(prefix="rnntui-bench-"))
    latencies = []
    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        while app.form.config is None:  # a data file is read (checked, its floors) first
            await asyncio.sleep(0.05)
        await pilot.press("f5")
        while not finished and not (keys and app.status.state == "training"
                                    and app.chart.num_points):
            await asyncio.sleep(0.01)
        if keys:
            field = app.query_one("#field-seed")
            field.focus()
            await pilot.pause()
            for i in range(keys):
                key = events.Key("7", "7") if i % 2 == 0 else events.Key("backspace", None)
                want = "07" if i % 2 == 0 else "0 "
                t0 = time.perf_counter()
                app._driver.send_message(key)  # as the terminal driver does for a keypress
                while want not in field.render_line(0).text:
                    await asyncio.sleep(0.0005)
                latencies.append(time.perf_counter() - t0)
                await asyncio.sleep(0.05)  # a fast typist: 20 keys a second
            app.control.stop()
        while not finished:
            await asyncio.sleep(0.01)
    return finished[0].steps_per_sec, latencies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (default: 3)")
    ap.add_argument("--text", action="store_true", help="a char model on a text")
    ap.add_argument("--epochs", type=int, default=1,
                    help="--text: epochs of it (default 1: about 3 s of training since the "
                         "window kernels' gates were kept apart; 4 measure 12 s)")
    args = ap.parse_args()
    global CONFIG
    if args.text:
        CONFIG = text_config(args.epochs)
    a, b = [], []
    for r in range(args.rounds):
        a.append(headless())
        b.append(asyncio.run(in_app())[0])
        print(f"round {r + 1}: headless {a[-1]:,.0f} steps/s, app {b[-1]:,.0f} steps/s",
              flush=True)
    ha, hb = statistics.median(a), statistics.median(b)
    print(f"training: app {hb:,.0f} vs headless {ha:,.0f} steps/s (medians of {args.rounds}):"
          f" app at {hb / ha:.0%} of headless")
    if args.text:
        return
    _, lat = asyncio.run(in_app(keys=200))
    ms = np.array(lat) * 1000
    print(f"keys during training: p50 {np.percentile(ms, 50):.1f} ms, "
          f"p99 {np.percentile(ms, 99):.1f} ms, max {ms.max():.1f} ms over {len(ms)} keys")


if __name__ == "__main__":
    main()
