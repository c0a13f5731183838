"""The command line's commands: each reads its arguments, does its work and returns the
exit code (0 finished, 1 diverged or failed; bad input raises BadInput or ConfigError: 2).
TensorFlow and Textual are imported inside the commands that need them."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import tempfile
from pathlib import Path

from ..config import (
    FIELDS,
    Config,
    ConfigError,
    load_toml,
    parse_value,
)
from ..core.control import Control
from .args import (
    SWEEP_ASK_OVER,
    BadInput,
    check_writable,
    config_from_args,
    count,
    cpu_threads,
    job_count,
)


def cmd_train(args: argparse.Namespace) -> int:
    from .. import engine as engines
    from ..runs.report import report_for
    from ..runs.resume import resumable
    from ..runs.session import train_into_run

    run = None
    if args.resume:
        changed = [n for n in FIELDS if n != "epochs" and getattr(args, n, None) is not None]
        if changed or args.preset or args.config or args.config_string:
            raise BadInput("--resume: the run keeps its own config; only --epochs may change"
                           + (f" (got --{changed[0].replace('_', '-')})" if changed else ""))
        epochs = parse_value("epochs", args.epochs) if args.epochs is not None else None
        run = resumable(args.resume, epochs)  # the one check (runs.resume), changing nothing
        cfg = run.config
    else:
        cfg = config_from_args(args, list(FIELDS))
    # Before anything starts TensorFlow's runtime (the run's TensorBoard writer does):
    # logical CPU devices and the multiworker collectives can only be set up before it.
    strategy = _strategy(cfg)
    scratch = None
    if strategy is not None and not _is_chief(cfg):
        # Multiworker: the chief records the run; the other workers train in step with it
        # and keep their checkpoints in a scratch folder that goes when they finish.
        scratch = tempfile.TemporaryDirectory(prefix="rnntui-worker-")
    report = report_for(args.json, sys.stdout)

    def opened(path: Path) -> None:
        report.announce_run(str(path) if scratch is None else "(not recorded: not the chief)",
                            run.checkpoint.step if run else 0)

    control = Control()
    with _stop_on_signals(control) as caught:
        final = engines.get().submit(
            "train", train_into_run, cfg, report.on_event, runs_dir=args.runs_dir,
            name=args.name, resume=run, folder=scratch.name if scratch else None,
            opened=opened, strategy=strategy, control=control).result()
    report.close(final)
    if scratch is not None:
        scratch.cleanup()
    if caught:
        return 128 + caught[0]
    return 0 if final.kind == "finished" else 1


@contextlib.contextmanager
def _stop_on_signals(control: Control):
    """While a training runs: ctrl+c, SIGTERM or SIGHUP stop it as F8 does (the stop
    checkpoint written, a stopped event); a second one quits at once. Yields the list of
    the signals caught."""
    caught: list[int] = []

    def stop(signum, frame) -> None:
        if caught:
            raise KeyboardInterrupt
        caught.append(signum)
        control.stop()
        print("stopping: saving the checkpoint (again to quit at once)", file=sys.stderr,
              flush=True)

    wanted = [signal.SIGINT, signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP")
                                               else [])]
    old = {sig: signal.signal(sig, stop) for sig in wanted}
    try:
        yield caught
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _strategy(cfg: Config):
    """distribute.make_strategy for a distributed config (None for one device); a setting
    that cannot be had here (replicas, batch split, TF_CONFIG) is a ConfigError: exit 2."""
    from .. import engine as engines

    if cfg.train.strategy == "none":
        return None

    def make():  # in the engine's thread, which owns TensorFlow
        from ..engine.distribute import make_strategy
        from ..engine.tfload import claim_gpus, quiet_tensorflow

        tf = quiet_tensorflow(cfg)
        claim_gpus(tf, cfg)  # before the strategy starts the runtime
        return make_strategy(tf, cfg)

    return engines.get().call(make)


def _is_chief(cfg: Config) -> bool:
    from ..engine.distribute import is_chief

    return cfg.train.strategy != "multiworker" or is_chief()


def cmd_sweep(args: argparse.Namespace) -> int:
    """Every config of the grid; ctrl+c, SIGTERM and SIGHUP stop the runs going as F8 does
    (their checkpoints written) and start none after them: exit 128 + the signal."""
    from ..runs.report import dumps
    from ..runs.sweep import grid_configs, parse_grid, parse_seeds, sweep, table, to_json

    jobs, threads = job_count(args.jobs), cpu_threads(args)
    seeds = parse_seeds(args.seeds)
    base = config_from_args(args, list(FIELDS))
    grid = parse_grid(args.grid)
    _check_sweep_size(grid, seeds, args.yes)
    items = grid_configs(base, grid, seeds=seeds, same_updates=args.same_updates)
    if args.svg:
        check_writable("--svg", Path(args.svg))  # before any training, not after it
    on = (lambda r: print(dumps(to_json(r)), flush=True)) if args.json else None
    if not args.json:
        print(f"sweep: {len(items)} configs, {jobs} at a time, runs in {args.runs_dir}",
              flush=True)
    control = Control()
    with _stop_on_signals(control) as caught:
        results = sweep(items, args.runs_dir, jobs, on, threads=threads, control=control)
    ran = [r for r in results if r is not None]
    if not args.json:
        print(table(ran))
    if len(ran) < len(results):
        print(f"stopped: {len(results) - len(ran)} of {len(results)} configs not started",
              file=sys.stderr)
    _phase_map(grid, base, results, args, seeds)
    if caught:
        return 128 + caught[0]
    return 0 if all(r.status == "finished" for r in ran) else 1


def _check_sweep_size(grid, seeds: int, yes: bool) -> None:
    """A sweep of more than SWEEP_ASK_OVER configs runs only with --yes (BadInput, exit 2),
    said before any config is checked or a data file read."""
    from ..runs.sweep import grid_size

    n = grid_size(grid, seeds)
    if n > SWEEP_ASK_OVER and not yes:
        raise BadInput(f"sweep: {n:,} configs ({' x '.join(str(len(v)) for _, v in grid)}"
                       f" values x {seeds} seed{'s' if seeds != 1 else ''}); more than"
                       f" {SWEEP_ASK_OVER:,} runs only with --yes")


def _phase_map(grid, base: Config, results, args: argparse.Namespace, seeds: int) -> None:
    """The sweep's phase map per rule lag: printed (unless --json) and written to --svg.
    A grid of other than two fields gets a note instead (on stderr under --json)."""
    from rich.console import Console

    from ..runs.phasemap import lag_names, maps, render_all, svg
    from ..runs.sweep import budget_caption

    if len(grid) != 2:
        note = (f"no phase map: it needs a grid of two fields (--grid twice), got {len(grid)}"
                + (f"; {args.svg} not written" if args.svg else ""))
        print(note, file=sys.stderr if args.json else sys.stdout)
        return
    phase_maps = maps(grid, lag_names(base.data.rules), dict(enumerate(results)), seeds=seeds,
                      caption=budget_caption(args.same_updates, seeds,
                                             [name for name, _ in grid]))
    if not args.json:
        # Rich colours only a terminal, and honours NO_COLOR; the cells read without colour.
        console = Console(soft_wrap=True, highlight=False)
        console.print()
        console.print(render_all(phase_maps))
    if args.svg:
        from ..core.files import write_atomic

        try:
            write_atomic(Path(args.svg), svg(phase_maps))
        except OSError as err:
            raise BadInput(f"--svg: cannot write {args.svg}: {err.strerror or err}") from None
        print(f"wrote the phase map to {args.svg}", file=sys.stderr if args.json else sys.stdout)



def cmd_export(args: argparse.Namespace) -> int:
    from .. import engine as engines
    from ..runs.export import export_keras, metrics_csv
    from ..runs.folders import open_run

    if not args.csv and not args.keras:
        raise BadInput("export: say what to export: --csv and/or --keras FILE.keras")
    if args.keras and not args.keras.endswith(".keras"):  # before TensorFlow, not after
        raise BadInput(f"--keras: {args.keras} must end in .keras")
    for flag, out in (("--keras", args.keras), ("--out", args.out if args.csv else None)):
        if out and Path(out).exists() and not Path(out).is_file():
            raise BadInput(f"{flag}: {out} is there and is not a regular file")
    open_run(args.run)  # a clear message for a missing or foreign folder
    if args.csv:
        text = metrics_csv(args.run)
        if args.out:
            try:
                with open(args.out, "w", encoding="utf-8") as f:
                    f.write(text)
            except OSError as err:
                raise BadInput(f"--out: cannot write {args.out}: {err.strerror or err}") from None
        else:
            sys.stdout.write(text)
    if args.keras:
        print(f"wrote {engines.get().call(export_keras, args.run, args.keras)}",
              file=sys.stderr)
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from ..runs.inspection import inspect_run, text, to_json
    from ..runs.report import dumps

    inspection = inspect_run(args.run)
    print(dumps(to_json(inspection)) if args.json else text(inspection))
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from ..runs.sampling import MOST, BadSample, sample_run

    length = count("--length", args.length, MOST)
    try:
        temperature = float(args.temperature)
    except ValueError:
        raise BadInput(f"--temperature: {args.temperature!r} is not a number above 0") from None
    try:
        seed = int(args.seed)
    except ValueError:
        raise BadInput(f"--seed: {args.seed!r} is not an integer") from None
    try:
        prime, drawn = sample_run(args.run, length, temperature, seed, args.prime)
    except BadSample as err:
        raise BadInput(str(err)) from None
    sys.stdout.write(prime + drawn + "\n")
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from ..runs.live import runs_with_liveness

    target = Path(args.run)
    if args.list or not (target / "config.toml").is_file():
        if not target.is_dir():
            raise BadInput(f"watch: {target}: no such run folder or runs directory")
        runs = runs_with_liveness(target)
        if args.list:
            for path, live in runs:
                print(f"{'live' if live.live else live.state:>14}  {path}{_unreadable(path, live)}")
            return 0
        if not runs:
            raise BadInput(f"watch: {target} holds no run folders (nor is it one: no"
                           " config.toml)")
        live = [path for path, lv in runs if lv.live]
        for path in live:
            print(f"live  {path}")
        target = live[0] if live else runs[0][0]
        print(f"watching {target}" + ("" if live else f" (no live run in {args.run}: the newest,"
                                      f" {runs[0][1].state})"), flush=True)
    check_watchable(target)
    from ..tui.run import run_app

    return run_app(None, watch=target)


def _unreadable(run: Path, live) -> str:
    """What `watch --list` says of a run it cannot read whole: its config, or a live record
    that is there but says nothing ("" for a run that reads)."""
    from ..runs.folders import CONFIG
    from ..runs.live import LIVE

    try:
        load_toml(run / CONFIG, Config())
    except ConfigError as err:
        return f"  (unreadable: {err})"
    if live.state == "unknown" and (run / LIVE).exists():
        return f"  (unreadable: {run / LIVE}: not a live record)"
    return ""


def check_watchable(run: Path) -> None:
    """BadFile (exit 2) unless the run folder reads whole, before the app takes the screen:
    its config and checkpoint, every metrics line an event of the right shape (a torn last
    one waits for its end), its look. The live record is the view's to judge."""
    from ..runs.folders import open_run
    from ..runs.follow import read_events, read_look

    open_run(run)
    read_events(run)
    read_look(run)


def cmd_stop(args: argparse.Namespace) -> int:
    import time

    from ..runs.folders import open_run
    from ..runs.live import liveness, request_stop

    run = open_run(args.run).path
    live = request_stop(run)
    print(f"asked {run} to stop ({live.detail}): it saves its checkpoint at the end of its"
          " chunk", flush=True)
    while args.wait and liveness(run).live:
        time.sleep(0.2)
    if args.wait:
        print(liveness(run).detail)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .serve import cmd_serve as serve

    return serve(args)


def cmd_app(args: argparse.Namespace | None) -> int:
    cfg = config_from_args(args, list(FIELDS)) if args is not None else None
    from ..tui.run import run_app

    return run_app(cfg)
