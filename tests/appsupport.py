"""Helpers for the app tests: typing into fields, waiting for states, fixed seeded events."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from rnntui.config import Config
from rnntui.core.events import Compiled, EpochEnd, Insight, Predictions, Progress, Started
from rnntui.core.verdict import Floor
from rnntui.data import baselines
from rnntui.tui.bridge import Bridge
from rnntui.tui.runstate import floors_of

TINY = dict(size="20000", val_size="5000", batch_size="50", num_steps="5", epochs="2",
            state_size="8")
TINY_CONFIG = Config().with_values(**{k: int(v) for k, v in TINY.items()})  # the same, typed
# A run that outlasts any test on any machine (400k steps an epoch, 1,000 epochs): a test that
# needs a run in progress starts this and stops it, never hoping a short run is still going.
LONG = Config().with_values(size=100_000_000, val_size=5000, batch_size=50, epochs=1000)


async def type_into(pilot, field: str, text: str) -> None:
    """Focus a form field by clicking it, clear it by keys and type `text`."""
    app = pilot.app
    widget = app.query_one(f"#field-{field}")
    widget.focus()
    await pilot.pause()
    await pilot.press("end", "shift+home", "backspace")
    await pilot.press(*list(text))
    await pilot.pause()


async def wait_for(pilot, predicate, timeout: float = 90.0) -> None:
    """Let the app run until predicate() holds; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            status = getattr(pilot.app, "status", None)
            raise AssertionError(f"timed out waiting; state={getattr(status, 'state', '-')!r} "
                                 f"detail={getattr(status, 'detail', '-')!r}")
        await asyncio.sleep(0.05)
        await pilot.pause()


def fixed_events(config: Config, steps: int = 1200, seed: int = 7) -> list:
    """A seeded, made-up run: a loss that falls through the floors, as the trainer reports."""
    rng = np.random.default_rng(seed)
    d, t = config.data, config.train
    fl = baselines.floors(d.base, d.rules)
    per_epoch = 400
    events = [Started(config, "CPU", fl, baselines.window_floor(d.base, d.rules, t.num_steps),
                      per_epoch, per_epoch * t.epochs, 100), Compiled(2.5, "XLA")]
    s = np.arange(1, steps + 1)
    curve = (fl[-1].loss + (fl[0].loss - fl[-1].loss) * 0.5 * (np.exp(-s / 150) + np.exp(-s / 600))
             + rng.normal(0, 0.02, steps))
    for c0 in range(0, steps, 100):
        chunk = curve[c0:c0 + 100].tolist()
        step = c0 + len(chunk)
        lr = t.learning_rate if step <= 800 else t.learning_rate / 2
        events.append(Progress(step, (step - 1) // per_epoch, chunk, 0.8 - step / 3000, 3500.0,
                               3500.0 * t.batch_size, (per_epoch * t.epochs - step) / 3500, lr))
        if step % per_epoch == 0:
            val = float(curve[step - 50:step].mean())
            epoch = step // per_epoch - 1
            effects = epoch_effects(config, epoch, rng)
            events.append(EpochEnd(epoch, step, float(np.mean(chunk)), val,
                                   baselines.verdict(val, d.base, d.rules, fl, effects,
                                                     [0.01] * len(effects), t.num_steps),
                                   {str(k): v for k, v in enumerate(effects) if k}))
    x = rng.integers(0, 2, 120).tolist()
    y = rng.integers(0, 2, 120).tolist()
    p = np.round(rng.random(120), 3).tolist()
    combos = [((a, b), 0.5 + 0.5 * a - 0.25 * b + 0.02 * (a - b), 0.5 + 0.5 * a - 0.25 * b)
              for b in (0, 1) for a in (0, 1)]
    events.append(Predictions(steps, x, y, p, combos))
    events.append(fixed_insight(config, steps, len(x), rng))
    return events


def epoch_effects(config: Config, epoch: int, rng) -> list[float]:
    """Made-up lag effects at an epoch end: the first rule lag learned from the first epoch,
    the later ones one epoch later each, noise elsewhere (what the timeline draws)."""
    d = config.data
    lags = max(max((lag for lag, _ in d.rules), default=0) + 4, 12)
    out = [0.0] * (lags + 1)
    for i, (lag, delta) in enumerate(sorted(d.rules)):
        out[lag] = delta * min(1.0, max(0.0, (epoch + 1 - i) / 2))
    return [round(v + rng.normal(0, 0.01), 4) for v in out]


def fixed_insight(config: Config, step: int, window: int, rng) -> Insight:
    """A seeded, made-up Insight as the engine reports it: t-3 learned, t-8 partly, noise
    elsewhere, a gradient that decays by lag, the article's window shares, and a hidden
    state (with gates for LSTM and GRU) over `window` positions."""
    d, m, t = config.data, config.model, config.train
    lags = max(max((lag for lag, _ in d.rules), default=0) + 4, 12)
    true = [0.0] * (lags + 1)
    for lag, delta in d.rules:
        true[lag] += delta
    learned = [0.0, *(1.0 if k < t.num_steps else 0.75 for k in range(1, lags + 1))]
    effects = [round(v * f + rng.normal(0, 0.01), 4) for v, f in zip(true, learned, strict=True)]
    reach = [float(0.9 * 0.55 ** k * np.exp(rng.normal(0, 0.1))) for k in range(lags + 1)]
    share = [max(0, t.num_steps - k) / t.num_steps for k in range(lags + 1)]
    units = sorted(rng.choice(m.state_size, min(8, m.state_size), replace=False).tolist())
    walk = np.cumsum(rng.normal(0, 0.6, (len(units), window)), axis=1)
    hidden = np.round(np.tanh(walk), 3).tolist()
    names = {"lstm": "ifo", "gru": "zr"}.get(m.cell, "")
    gates = {g: np.round(1 / (1 + np.exp(-walk - i)), 3).tolist() for i, g in enumerate(names)}
    if m.cell == "lstm":  # its cell state, as tanh(c), first
        gates = {"c": np.round(np.tanh(1.5 * walk), 3).tolist(), **gates}
    se = [round(0.004 + 0.01 * abs(v), 4) for v in true]
    # A delay line: the state holds the inputs back to about num_steps + 3, then forgets.
    memory = [round(1.0 if k <= t.num_steps + 3 else max(0.5, 1.0 - 0.12 * (k - t.num_steps
                                                                             - 3)), 3)
              for k in range(lags + 1)]
    return Insight(step, effects, true, reach, share, hidden, units, gates, effects_se=se,
                   memory=memory, achievable=list(true))


async def feed(pilot, events) -> None:
    """Play events into the app through the real bridge, as a training thread would, letting
    the app handle each before the next (a fake clock makes every progress event post).
    A list that starts with Started is a new run; any other continues the run fed last."""
    app = pilot.app
    if isinstance(events[0], Started):  # a new run; other events continue the current one
        app._advance(app.run_state.start(events[0].config, floors_of(events[0].config)))
        ticks = iter(range(10**9))
        app.view.bridge = Bridge(app, app.run_id, clock=lambda: float(next(ticks)))
    for event in events:
        app.view.bridge.on_event(event)
        await pilot.pause()


TEXT = "the cat sat on the mat.\nthe dog sat on the log.\n\tthe end.\n"


def fixed_text_events(config: Config, steps: int = 600, seed: int = 3) -> list:
    """A seeded, made-up run of a char model on TEXT (its symbols, the stretch, the model's
    top 3 next symbols and the samples), as the trainer reports it: the picture the text
    panel draws, the same on every machine."""
    rng = np.random.default_rng(seed)
    symbols = sorted(set(TEXT))
    floors = [Floor("window 0", 2.6), Floor("window 1", 1.7), Floor("window 3", 1.1)]
    events = [Started(config, "CPU", floors, 2.0, 200, 200 * config.train.epochs, 100,
                      symbols=symbols, input_symbols=symbols), Compiled(1.0, "XLA")]
    for c0 in range(0, steps, 100):
        chunk = (2.8 * np.exp(-np.arange(c0, c0 + 100) / 300) + 0.6).round(4).tolist()
        events.append(Progress(c0 + 100, c0 // 200, chunk, 0.5, 900.0, 9000.0, 1.0, 0.01))
    codes = [symbols.index(c) for c in TEXT * 2][:120]
    x, y = codes[:-1], codes[1:]
    p = np.round(rng.uniform(0.05, 0.95, len(y)), 3).tolist()
    top = []
    for truth, q in zip(y, p, strict=True):
        others = [c for c in rng.permutation(len(symbols)).tolist() if c != truth][:2]
        rest = (1 - q) * np.array([0.6, 0.3])
        top.append(sorted([[truth, q], [others[0], float(rest[0])], [others[1], float(rest[1])]],
                          key=lambda g: -g[1]))
    samples = {t: [symbols.index(c) for c in text] for t, text in
               (("0.5", "the cat sat on the log."), ("0.8", "the dog sat on tht mat.\n"),
                ("1", "the cag end.\n\tthe"), ("1.5", "thd mot.\tsa dhe"))}
    events.append(Predictions(steps, x, y, p, [], top=top, samples=samples, prime=x[:40]))
    return events
