"""Sweeps: a grid of configs, run one after another or in N processes, each a run folder.

    rnntui sweep --preset r2rt --grid num_steps=2,5,10 --grid state_size=4,16

For each config: the final validation loss, the per-lag fractions, the steps to reach each
floor and the wall time. "Steps to a floor" is the first chunk whose mean training loss
covers 90% of that floor's step; in fresh mode every chunk is new data, so this is an
unbiased estimate, and it is far finer than the epoch ends.

A sweep stops as a training does: once its Control is stopped (`rnntui sweep`'s ctrl+c,
SIGTERM, SIGHUP), each run going stops as on F8, its stop checkpoint written and its
live.json "stopped", and no config still queued starts. With worker processes the parent
sets a shared event that each worker's runs look at with every event (and a signal that
reaches a worker itself, ctrl+c in a terminal, stops its run at once).
"""

from __future__ import annotations

import itertools
import math
import os
import signal
import time
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

from ..config import FIELDS, Config, ConfigError, parse_value
from ..core.control import Control
from ..data import source
from ..engine.plan import use_xla
from ..engine.tfload import ask_cpu_threads


@dataclass
class SweepResult:
    values: dict  # the swept fields' values
    run: str  # the run folder
    status: str
    val_loss: float
    fractions: dict[str, float]
    steps_to_floor: dict[str, int | None]  # floor name -> step, None if never reached
    wall_s: float
    steps: int = 0
    message: str = field(default="")


def parse_grid(items: list[str]) -> list[tuple[str, list]]:
    """['num_steps=2,5,10', 'cell=basic,gru'] -> [('num_steps', [2, 5, 10]), ...]."""
    grid = []
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not values.strip():
            raise ConfigError("grid", f"{item!r} is not FIELD=V1,V2,...")
        if name not in FIELDS:
            raise ConfigError("grid", f"{name!r} is not a field; fields: {', '.join(FIELDS)}")
        if name == "rules":
            raise ConfigError("grid", "rules cannot be swept (their values hold commas)")
        if name in (g[0] for g in grid):
            raise ConfigError("grid", f"{name} is given twice")
        grid.append((name, [parse_value(name, v) for v in values.split(",")]))
    return grid


MAX_SEEDS = 100
STOP_POLL_S = 0.1  # the parent looks at its Control this often, as a trainer does


def grid_size(grid: list[tuple[str, list]], seeds: int = 1) -> int:
    """How many configs grid_configs makes of `grid` (before checking any)."""
    return math.prod(len(values) for _, values in grid) * seeds


def grid_configs(base: Config, grid: list[tuple[str, list]], check=source.resolve,
                 seeds: int = 1, same_updates: bool = False) -> list[tuple[dict, Config]]:
    """Every combination, each checked (a bad one is a ConfigError naming its values): by
    default with its data file read; the app's race checks the fields only. With `seeds`
    > 1, each combination `seeds` times in a row, with seeds base.seed, +1, ... (the seed
    joins its values). `same_updates`: each combination's training series scaled by its
    num_steps (which the grid must vary), so every cell makes the same optimizer updates
    as the base config; otherwise epochs are counted in series steps."""
    if same_updates and "num_steps" not in (n for n, _ in grid):
        raise ConfigError("same_updates", "needs num_steps in the grid: it equalises the"
                          " updates that num_steps changes")
    out = []
    names = [n for n, _ in grid]
    for combo in itertools.product(*(vals for _, vals in grid)):
        for s in range(seeds):
            values = dict(zip(names, combo, strict=True))
            extra = {"seed": base.data.seed + s} if seeds > 1 else {}
            if same_updates:
                extra["size"] = base.data.size * values["num_steps"] // base.train.num_steps
            try:
                out.append(({**values, **extra},
                            check(base.with_values(**values, **extra))))
            except ConfigError as err:
                raise ConfigError(err.field, f"{str(err).split(': ', 1)[1]} (at"
                                  f" {values | extra})") from None
    return out


def budget_caption(same_updates: bool, seeds: int, fields: list[str] | None = None) -> str:
    """What a phase map's cell is: its training budget, and how many seeds. A grid over
    the truncation style compares at the positions trained, whatever the updates."""
    styles = bool({"truncation", "stride"} & set(fields or ()))
    budget = ("every cell the same optimizer updates (--same-updates)" if same_updates else
              "every cell the same positions trained (epochs in series steps)" if styles else
              "epochs in series steps: a longer num_steps makes fewer updates")
    return budget + (f"; median of {seeds} seeds (min-max)" if seeds > 1 else "")


def parse_seeds(text: str) -> int:
    """--seeds as a number from 1 to MAX_SEEDS, or the one-line error naming it."""
    try:
        n = int(str(text).strip())
    except ValueError:
        raise ConfigError("seeds", f"{text!r} is not an integer from 1 to {MAX_SEEDS}") from None
    if not 1 <= n <= MAX_SEEDS:
        raise ConfigError("seeds", f"{n} is out of range: an integer from 1 to {MAX_SEEDS}")
    return n


def run_one(values: dict, config: Config, runs_dir: str, control=None,
            on_event=None, xla: bool | None = None, engine=None) -> SweepResult:
    """Train one config into its own run folder (in this process's engine, or `engine`).
    `control` (a core.control.Control) steers it and `on_event` hears every event: the
    app's race. `xla`: compile with XLA or not; None decides by the run's length
    (use_xla)."""
    from .session import train_into_run

    name = "sweep-" + "-".join(f"{k}{v}" for k, v in values.items() if k != "size")
    fl = source.floors(config.data)  # analytic, or a data file's empirical windows
    reached: dict[str, int | None] = {f.name: None for f in fl[1:]}

    def on(event):
        if event.kind == "progress" and event.losses:
            loss = sum(event.losses) / len(event.losses)
            for k in range(1, len(fl)):
                hi, lo = fl[k - 1].loss, fl[k].loss
                if reached[fl[k].name] is None and loss <= hi - 0.9 * (hi - lo):
                    reached[fl[k].name] = event.step
        if on_event is not None:
            on_event(event)

    t0, folder = time.perf_counter(), []
    jit = use_xla(config) if xla is None else xla
    final = train_into_run(config, on, engine=engine, runs_dir=runs_dir, name=name,
                           opened=folder.append, control=control, jit=jit)
    run = folder[0]
    wall = time.perf_counter() - t0
    if final.kind != "finished":
        return SweepResult(values, str(run), final.kind, math.nan, {}, reached, wall,
                           getattr(final, "step", 0), getattr(final, "message", ""))
    v = final.verdict
    fractions = {v.label(lag): f for lag, f in zip(v.lags, v.fractions, strict=True)}
    return SweepResult(values, str(run), "stopped" if final.stopped else "finished",
                       final.val_loss, fractions, reached, wall, final.step)


def sweep(items: list[tuple[dict, Config]], runs_dir: str | Path, jobs: int = 1,
          on_result=None, xla: bool | None = None, threads: int = 0,
          control: Control | None = None) -> list[SweepResult | None]:
    """Run every config; `on_result` hears each result as it lands. Order is the grid's.
    `jobs` > 1: that many worker processes, each living for the whole sweep (TensorFlow is
    imported once per worker, not once per config), each with its share of the CPU threads.
    `threads`: TensorFlow's CPU threads in each (0: tfload chooses). `control` stopped: the
    runs going stop with their checkpoints, and the configs not started have None."""
    control = control or Control()
    results: list[SweepResult | None] = [None] * len(items)
    if jobs <= 1:
        ask_cpu_threads(threads)
        for i, (values, cfg) in enumerate(items):
            if control.stopped:
                break
            results[i] = run_one(values, cfg, str(runs_dir), control, xla=xla)
            if on_result:
                on_result(results[i])
        return results
    # Separate processes: TensorFlow state is per process, and "spawn" keeps each clean.
    context = get_context("spawn")
    stop = context.Event()
    share = max(1, (os.cpu_count() or 1) // jobs)
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_start,
                             initargs=(threads, share, stop)) as pool:
        futures = [pool.submit(_work, v, c, str(runs_dir), xla) for v, c in items]
        for i, fut in enumerate(futures):
            results[i] = _waited(fut, futures, control, stop)
            if on_result and results[i] is not None:
                on_result(results[i])
    return results


def _waited(fut: Future, futures: list[Future], control: Control, stop) -> SweepResult | None:
    """A worker's result (None: never started), looking at `control` meanwhile: once it is
    stopped, the workers are told (`stop`) and the configs still queued are cancelled."""
    while True:
        if control.stopped and not stop.is_set():
            stop.set()
            for queued in futures:
                queued.cancel()  # (those a worker holds already see `stop` first)
        try:
            return fut.result(STOP_POLL_S)
        except CancelledError:
            return None
        except TimeoutError:
            if fut.done():
                raise  # the worker's own


# In a worker process: the sweep's shared stop event, whether a signal reached this worker
# itself, and the Control of the run going.
_stop = None
_signalled = False
_going: Control | None = None


def _worker_start(threads: int, share: int, stop) -> None:
    global _stop
    ask_cpu_threads(threads, share)
    _stop = stop
    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, _worker_signal)


def _worker_signal(signum, frame) -> None:
    """ctrl+c and a hang-up reach the whole process group: the worker's run stops as on F8,
    and none starts after it (the parent tells the others through the event)."""
    global _signalled
    _signalled = True
    if _going is not None:
        _going.stop()


def _told_to_stop() -> bool:
    return _signalled or (_stop is not None and _stop.is_set())


def _work(values: dict, config: Config, runs_dir: str, xla: bool | None) -> SweepResult | None:
    """In a worker: run_one, unless the sweep was stopped (None: not started, no folder);
    the parent's stop reaches the run with its next event, within a chunk."""
    global _going
    if _told_to_stop():
        return None
    control = _going = Control()

    def heard(event) -> None:
        if _told_to_stop():
            control.stop()

    try:
        return run_one(values, config, runs_dir, control, heard, xla=xla)
    finally:
        _going = None


def _step_number(label: str) -> int:
    """3 for "t-3" (a rule lag) and for "window 3" (a file's window)."""
    return int(label.replace("-", " ").split()[-1])


def table(results: list[SweepResult]) -> str:
    """A plain-text table, one row per config."""
    if not results:
        return "no runs"
    keys = list(results[0].values)
    floors = list(results[0].steps_to_floor)
    lags = sorted({k for r in results for k in r.fractions}, key=_step_number)
    head = keys + ["val_loss"] + lags + [f"steps to {f}" for f in floors] + ["wall_s", "status"]
    rows = []
    for r in results:
        rows.append([str(r.values[k]) for k in keys]
                    + [f"{r.val_loss:.4f}" if math.isfinite(r.val_loss) else "-"]
                    + [_percent(r.fractions.get(lag)) for lag in lags]
                    + [str(r.steps_to_floor.get(f) or "-") for f in floors]
                    + [f"{r.wall_s:.1f}", r.status])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:>{w}}}" for w in widths)
    return "\n".join([fmt.format(*head)] + [fmt.format(*row) for row in rows])


def _percent(value: float | None) -> str:
    return f"{value:.0%}" if value is not None and math.isfinite(value) else "-"


def to_json(result: SweepResult) -> dict:
    return asdict(result)
