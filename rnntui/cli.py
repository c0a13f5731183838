"""Command line: `rnntui` opens the app; `rnntui train|data|baselines` run headless.

Nothing here imports TensorFlow or Textual at module load: `rnntui data` and
`rnntui baselines` are instant, and the app paints before TensorFlow loads.
Exit codes: 0 finished, 1 diverged or failed, 2 bad input (one line naming the field).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .config import (
    FIELDS,
    PRESETS,
    Config,
    ConfigError,
    check_probabilities,
    load_toml,
    parse_value,
    preset,
    validate,
)

DATA_FIELDS = [n for n, f in FIELDS.items() if f.section == "data"]


class BadInput(Exception):
    """A one-line message for the user; exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + message
        raise BadInput(f"{self.prog}: {message}")


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
    """Preset, then --config file, then flags; validated. Raises ConfigError."""
    cfg = preset(args.preset) if getattr(args, "preset", None) else Config()
    if getattr(args, "config", None):
        cfg = load_toml(args.config, cfg)
    values: dict[str, Any] = {}
    for name in names:
        raw = getattr(args, name, None)
        if raw is None:
            continue
        values[name] = parse_value(name, ",".join(raw) if name == "rules" else raw)
    return validate(cfg.with_values(**values))


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="rnntui", description="Watch recurrent networks learn. With no command,"
                " opens the terminal app.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    pre = f"start from a preset: {', '.join(PRESETS)} (default: none, the built-in defaults)"

    app = sub.add_parser("app", help="open the terminal app (the default)")
    app.add_argument("--preset", choices=list(PRESETS), help=pre)
    app.add_argument("--config", metavar="FILE.toml", help="a config file (default: none)")
    add_config_flags(app, list(FIELDS))

    tr = sub.add_parser("train", help="train headless and report")
    tr.add_argument("--preset", choices=list(PRESETS), help=pre)
    tr.add_argument("--config", metavar="FILE.toml", help="a config file; flags override it, it"
                    " overrides the preset (default: none)")
    tr.add_argument("--json", action="store_true",
                    help="one JSON object per line, a summary last (default: off)")
    add_config_flags(tr, list(FIELDS))

    da = sub.add_parser("data", help="write a series as .npz (uint8 arrays x and y)")
    add_config_flags(da, DATA_FIELDS)
    da.add_argument("--out", required=True, metavar="FILE.npz", help="where to write (required)")

    bl = sub.add_parser("baselines", help="print the task's analytic loss floors")
    add_config_flags(bl, [n for n in DATA_FIELDS if n in ("base", "rules")])
    bl.add_argument("--num-steps", dest="num_steps", default=None, metavar="NUM_STEPS",
                    help="also print the floor of a model that sees only its window"
                         " (default: not printed)")
    bl.add_argument("--json", action="store_true", help="print JSON (default: off)")
    return p


def cmd_data(args: argparse.Namespace) -> int:
    import numpy as np

    from .data import generate

    # Only the data fields matter here: no batch has to fit, so no cross-field size check.
    cfg = Config().data
    values = {n: parse_value(n, getattr(args, n)) for n in DATA_FIELDS
              if getattr(args, n, None) is not None and n != "rules"}
    if args.rules:
        values["rules"] = parse_value("rules", ",".join(args.rules))
    cfg = Config().with_values(**values).data
    check_probabilities(cfg.base, cfg.rules)
    x, y = generate(cfg.size, cfg.seed, cfg.base, cfg.rules)
    try:
        np.savez(args.out, x=x, y=y)
    except OSError as err:
        raise BadInput(f"--out: cannot write {args.out}: {err.strerror or err}") from None
    print(f"wrote {cfg.size} steps (seed {cfg.seed}) to {args.out}")
    return 0


def cmd_baselines(args: argparse.Namespace) -> int:
    from .baselines import floors, window_floor

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
    from .report import report_for
    from .train import Trainer

    cfg = config_from_args(args, list(FIELDS))
    report = report_for(args.json, sys.stdout)
    final = Trainer(cfg, report.on_event).run()
    report.close(final)
    return 0 if final.kind == "finished" else 1


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
        command = {"train": cmd_train, "data": cmd_data, "baselines": cmd_baselines,
                   "app": cmd_app, None: cmd_app}[args.command]
        return command(args)
    except (BadInput, ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
