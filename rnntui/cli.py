"""Command line: `rnntui` opens the app; `rnntui train|sweep|inspect|export|data|baselines`
run headless.

Nothing here imports TensorFlow or Textual at module load: `rnntui data` and
`rnntui baselines` are instant, and the app paints before TensorFlow loads.
Exit codes: 0 finished, 1 diverged or failed, 2 bad input (one line naming the field).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from .config import (
    FIELDS,
    PRESET_ALIASES,
    PRESETS,
    Config,
    ConfigError,
    check_probabilities,
    load_toml,
    parse_value,
    preset,
)
from .core.control import Control

SERIES_FIELDS = ["size", "seed", "base", "rules"]  # all that `rnntui data` needs


class BadInput(Exception):
    """A one-line message for the user; exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + message
        raise BadInput(f"{self.prog}: {message}")


PRESET_CHOICES = [*PRESETS, *PRESET_ALIASES]
PRESET_METAVAR = "{" + ",".join(PRESETS) + "}"

def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_config_flags(p: argparse.ArgumentParser, names: list[str]) -> None:
    """One flag per config field; each help shows the field's default and what is allowed."""
    base = Config()
    for name in names:
        f = FIELDS[name]
        default = base.get(name)
        if f.kind == "bool":
            p.add_argument(_flag(name), dest=name, action=argparse.BooleanOptionalAction,
                           default=None, help=f"{f.help} (default: {str(default).lower()})")
        elif f.kind == "rules":
            shown = " ".join(f"--rule {lag}:{d:g}" for lag, d in default)
            p.add_argument("--rule", dest="rules", action="append", metavar="LAG:DELTA",
                           help=f"P(Y=1) += DELTA * X[t-LAG]; repeatable, replaces the default"
                                f" rules (default: {shown})")
        else:
            extra = f"{{{','.join(f.choices)}}}" if f.choices else f.allowed()
            p.add_argument(_flag(name), dest=name, metavar=name.upper() if not f.choices
                           else None, default=None,
                           help=f"{f.help}; {extra} (default: {default})")


def config_from_args(args: argparse.Namespace, names: list[str]) -> Config:
    """Preset, then --config file, then flags; validated, its data file read. Raises
    ConfigError."""
    from .data.source import resolve

    cfg = preset(args.preset) if getattr(args, "preset", None) else Config()
    if getattr(args, "config", None):
        cfg = load_toml(args.config, cfg)
    if getattr(args, "config_string", None):
        from .config import parse_config_string

        cfg = parse_config_string(args.config_string, cfg)
    values: dict[str, Any] = {}
    for name in names:
        raw = getattr(args, name, None)
        if raw is None:
            continue
        values[name] = parse_value(name, ",".join(raw) if name == "rules" else raw)
    return resolve(cfg.with_values(**values))


def add_run_flags(p: argparse.ArgumentParser, pre: str) -> None:
    p.add_argument("--preset", choices=PRESET_CHOICES, metavar=PRESET_METAVAR, help=pre)
    p.add_argument("--config", metavar="FILE.toml", help="a config file; flags override it, it"
                   " overrides the preset (default: none)")
    p.add_argument("--config-string", dest="config_string", metavar="STR",
                   help="a run's one-line config (field=value&...), as the app shows it;"
                        " applied after --config (default: none)")
    p.add_argument("--runs-dir", dest="runs_dir", default="runs", metavar="DIR",
                   help="where run folders go (default: runs)")


def add_threads_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cpu-threads", dest="cpu_threads", default=None, metavar="N",
                   help="TensorFlow's CPU threads (default: 1 for a small model on the CPU,"
                        " which trains faster on one, else one per core)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="rnntui", description="Watch recurrent networks learn. With no command,"
                " opens the terminal app.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    pre = ("start from a preset: r2rt (the article's settings, which are also the built-in"
           " defaults) or fast (reaches both floors in seconds; 'default' is its old name)")

    app = sub.add_parser("app", help="open the terminal app (the default)")
    app.add_argument("--preset", choices=PRESET_CHOICES, metavar=PRESET_METAVAR, help=pre)
    app.add_argument("--config", metavar="FILE.toml", help="a config file (default: none)")
    add_threads_flag(app)
    add_config_flags(app, list(FIELDS))

    tr = sub.add_parser("train", help="train headless and report")
    add_run_flags(tr, pre)
    tr.add_argument("--json", action="store_true",
                    help="one JSON object per line, a summary last (default: off)")
    tr.add_argument("--name", help="the run folder's name (default: cell, state, num_steps)")
    tr.add_argument("--resume", metavar="RUN", help="continue a run folder from its last"
                    " checkpoint; only --epochs may change (default: a new run)")
    add_threads_flag(tr)
    add_config_flags(tr, list(FIELDS))

    sw = sub.add_parser("sweep", help="train a grid of configs and tabulate them")
    add_run_flags(sw, pre)
    sw.add_argument("--grid", action="append", required=True, metavar="FIELD=V1,V2",
                    help="a field and its values; repeatable, the grid is their product")
    sw.add_argument("--jobs", default="1", metavar="N",
                    help="processes to run in parallel (default: 1, one after another)")
    sw.add_argument("--json", action="store_true",
                    help="one JSON object per config (default: a table)")
    sw.add_argument("--svg", metavar="FILE.svg",
                    help="also write the phase map of a two-field grid as SVG (default: none)")
    add_threads_flag(sw)
    add_config_flags(sw, list(FIELDS))

    ex = sub.add_parser("export", help="export a run's metrics as CSV or its model as .keras")
    ex.add_argument("run", metavar="RUN", help="a run folder")
    ex.add_argument("--csv", action="store_true", help="every metric as CSV (default: off)")
    ex.add_argument("--keras", metavar="FILE.keras",
                    help="the trained model in Keras's own layers (default: none)")
    ex.add_argument("--out", metavar="FILE", help="where the CSV goes (default: stdout)")

    ins = sub.add_parser("inspect", help="what a run's checkpoint learned: lag effects,"
                         " gradient reach, hidden state (no training)")
    ins.add_argument("run", metavar="RUN", help="a run folder")
    ins.add_argument("--json", action="store_true", help="one JSON object (default: a table)")

    da = sub.add_parser("data", help="write a series as .npz (uint8 arrays x and y) or as an"
                        " x,y .csv")
    add_config_flags(da, SERIES_FIELDS)
    da.add_argument("--out", required=True, metavar="FILE.npz", help="where to write, .npz or"
                    " .csv (required)")

    bl = sub.add_parser("baselines", help="print the task's analytic loss floors")
    add_config_flags(bl, ["base", "rules"])
    bl.add_argument("--num-steps", dest="num_steps", default=None, metavar="NUM_STEPS",
                    help="also print the floor of a model that sees only its window"
                         " (default: not printed)")
    bl.add_argument("--json", action="store_true", help="print JSON (default: off)")
    return p


def cmd_data(args: argparse.Namespace) -> int:
    import numpy as np

    from .data.generator import generate

    # Only the data fields matter here: no batch has to fit, so no cross-field size check.
    cfg = Config().data
    values = {n: parse_value(n, getattr(args, n)) for n in SERIES_FIELDS
              if getattr(args, n, None) is not None and n != "rules"}
    if args.rules:
        values["rules"] = parse_value("rules", ",".join(args.rules))
    cfg = Config().with_values(**values).data
    check_probabilities(cfg.base, cfg.rules)
    x, y = generate(cfg.size, cfg.seed, cfg.base, cfg.rules)
    try:
        if args.out.lower().endswith(".csv"):  # the x,y CSV that --data-file reads
            np.savetxt(args.out, np.stack([x, y], 1), fmt="%d", delimiter=",", header="x,y",
                       comments="")
        else:
            np.savez(args.out, x=x, y=y)
    except OSError as err:
        raise BadInput(f"--out: cannot write {args.out}: {err.strerror or err}") from None
    print(f"wrote {cfg.size} steps (seed {cfg.seed}) to {args.out}")
    return 0


def cmd_baselines(args: argparse.Namespace) -> int:
    from .data.baselines import floors, window_floor

    cfg = config_from_args(args, ["base", "rules"]).data
    fl = floors(cfg.base, cfg.rules)
    win = None
    if args.num_steps is not None:
        win = window_floor(cfg.base, cfg.rules, parse_value("num_steps", args.num_steps))
    if args.json:
        out: dict[str, Any] = {"floors": [{"name": f.name, "loss": f.loss} for f in fl]}
        if win is not None:
            out["window_floor"] = win
        print(json.dumps(out))
    else:
        for f in fl:
            print(f"{f.name:>20}  {f.loss:.4f}")
        if win is not None:
            print(f"{'window only':>20}  {win:.4f}  (state reset every batch)")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from . import engine as engines
    from .data.source import resolve
    from .runs.folders import open_run
    from .runs.report import report_for
    from .runs.session import train_into_run

    run = None
    if args.resume:
        changed = [n for n in FIELDS if n != "epochs" and getattr(args, n, None) is not None]
        if changed or args.preset or args.config or args.config_string:
            raise BadInput("--resume: the run keeps its own config; only --epochs may change"
                           + (f" (got --{changed[0].replace('_', '-')})" if changed else ""))
        run = open_run(args.resume)
        cfg = run.config
        if cfg.data.data_file:  # the same data first: nothing else matters if it changed
            from .runs.datarecord import check_unchanged

            check_unchanged(cfg.data.data_file, run.path)
        if run.checkpoint is None:
            raise BadInput(f"--resume: {run.path} has no checkpoint yet; nothing to resume")
        if args.epochs is not None:
            cfg = resolve(cfg.with_values(epochs=parse_value("epochs", args.epochs)))
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
    from . import engine as engines

    if cfg.train.strategy == "none":
        return None

    def make():  # in the engine's thread, which owns TensorFlow
        from .engine.distribute import make_strategy
        from .engine.tfload import claim_gpus, quiet_tensorflow

        tf = quiet_tensorflow(cfg)
        claim_gpus(tf, cfg)  # before the strategy starts the runtime
        return make_strategy(tf, cfg)

    return engines.get().call(make)


def _is_chief(cfg: Config) -> bool:
    from .engine.distribute import is_chief

    return cfg.train.strategy != "multiworker" or is_chief()


def cmd_sweep(args: argparse.Namespace) -> int:
    from .runs.report import dumps
    from .runs.sweep import grid_configs, parse_grid, sweep, table, to_json

    jobs, threads = _jobs(args.jobs), _threads(args)
    base = config_from_args(args, list(FIELDS))
    grid = parse_grid(args.grid)
    items = grid_configs(base, grid)
    if args.svg:
        _check_writable("--svg", Path(args.svg))  # before any training, not after it
    on = (lambda r: print(dumps(to_json(r)), flush=True)) if args.json else None
    if not args.json:
        print(f"sweep: {len(items)} configs, {jobs} at a time, runs in {args.runs_dir}",
              flush=True)
    results = sweep(items, args.runs_dir, jobs, on, threads=threads)
    if not args.json:
        print(table(results))
    _phase_map(grid, base, results, args)
    return 0 if all(r.status == "finished" for r in results) else 1


def _phase_map(grid, base: Config, results, args: argparse.Namespace) -> None:
    """The sweep's phase map per rule lag: printed (unless --json) and written to --svg.
    A grid of other than two fields gets a note instead (on stderr under --json)."""
    from rich.console import Console

    from .runs.phasemap import lag_names, maps, render_all, svg

    if len(grid) != 2:
        note = (f"no phase map: it needs a grid of two fields (--grid twice), got {len(grid)}"
                + (f"; {args.svg} not written" if args.svg else ""))
        print(note, file=sys.stderr if args.json else sys.stdout)
        return
    phase_maps = maps(grid, lag_names(base.data.rules), dict(enumerate(results)))
    if not args.json:
        # Rich colours only a terminal, and honours NO_COLOR; the cells read without colour.
        console = Console(soft_wrap=True, highlight=False)
        console.print()
        console.print(render_all(phase_maps))
    if args.svg:
        from .core.files import write_atomic

        try:
            write_atomic(Path(args.svg), svg(phase_maps))
        except OSError as err:
            raise BadInput(f"--svg: cannot write {args.svg}: {err.strerror or err}") from None
        print(f"wrote the phase map to {args.svg}", file=sys.stderr if args.json else sys.stdout)


def _check_writable(flag: str, path: Path) -> None:
    """BadInput unless `path` can be written; leaves no file behind that was not there."""
    existed = path.exists()
    try:
        if path.is_dir():
            raise IsADirectoryError(21, "is a directory")
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as err:
        raise BadInput(f"{flag}: cannot write {path}: {err.strerror or err}") from None
    if not existed:
        path.unlink()


def _threads(args: argparse.Namespace) -> int:
    """--cpu-threads as a number (0: not given, chosen for the config)."""
    text = getattr(args, "cpu_threads", None)
    return 0 if text is None else _count("--cpu-threads", text, 1024)


def _jobs(text: str) -> int:
    return _count("--jobs", text, 64)


def _count(flag: str, text: str, most: int) -> int:
    """A flag's whole number from 1 to `most`, or the one-line error naming it."""
    try:
        n = int(text)
    except ValueError:
        raise BadInput(f"{flag}: {text!r} is not an integer from 1 to {most}") from None
    if not 1 <= n <= most:
        raise BadInput(f"{flag}: {n} is out of range: an integer from 1 to {most}")
    return n


def cmd_export(args: argparse.Namespace) -> int:
    from . import engine as engines
    from .runs.export import export_keras, metrics_csv
    from .runs.folders import open_run

    if not args.csv and not args.keras:
        raise BadInput("export: say what to export: --csv and/or --keras FILE.keras")
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
    from .runs.inspection import inspect_run, text, to_json
    from .runs.report import dumps

    run, insight = inspect_run(args.run)
    print(dumps(to_json(run, insight)) if args.json else text(run, insight))
    return 0


def cmd_app(args: argparse.Namespace | None) -> int:
    cfg = config_from_args(args, list(FIELDS)) if args is not None else None
    from .tui.run import run_app

    return run_app(cfg)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if not argv:
            return cmd_app(None)
        args = build_parser().parse_args(argv)
        if args.command in ("app", "train", None):  # before TensorFlow loads
            from .engine.tfload import ask_cpu_threads

            ask_cpu_threads(_threads(args))
        command = {"train": cmd_train, "data": cmd_data, "baselines": cmd_baselines,
                   "sweep": cmd_sweep, "export": cmd_export, "inspect": cmd_inspect,
                   "app": cmd_app,
                   None: cmd_app}[args.command]
        return command(args)
    except (BadInput, ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`rnntui train | head`): stop quietly, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
