"""The command line's parser: one flag per config field, presets, config files, and the
one-line errors (BadInput, exit 2)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..config import FIELDS, PRESET_ALIASES, PRESETS, Config, load_toml, parse_value, preset

SERIES_FIELDS = ["size", "seed", "base", "rules"]  # all that `rnntui data` needs
SWEEP_ASK_OVER = 1000  # configs a sweep runs without --yes: a typo in a grid can ask for days


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
    from ..data.source import resolve

    cfg = preset(args.preset) if getattr(args, "preset", None) else Config()
    if getattr(args, "config", None):
        cfg = load_toml(args.config, cfg)
    if getattr(args, "config_string", None):
        from ..config import parse_config_string

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
    _training_commands(sub)
    _run_commands(sub)
    _task_commands(sub)
    return p


PRE = ("start from a preset: r2rt (the article's settings, which are also the built-in"
       " defaults) or fast (reaches both floors in seconds; 'default' is its old name)")


def _training_commands(sub) -> None:
    """app, train, sweep: each takes every config field as a flag."""
    app = sub.add_parser("app", help="open the terminal app (the default)")
    app.add_argument("--preset", choices=PRESET_CHOICES, metavar=PRESET_METAVAR, help=PRE)
    app.add_argument("--config", metavar="FILE.toml", help="a config file (default: none)")
    add_threads_flag(app)
    add_config_flags(app, list(FIELDS))

    se = sub.add_parser("serve", help="serve the app to a web browser (textual-serve); each"
                        " browser tab runs its own app on this machine")
    se.add_argument("--host", default="127.0.0.1", help="the address to listen on; one that"
                    " is not a loopback address needs --public (default: 127.0.0.1)")
    se.add_argument("--port", default="8000", help="the port, 1 to 65535 (default: 8000)")
    se.add_argument("--public", action="store_true", help="allow a host that is not a"
                    " loopback address: anyone who can reach the port can use the app and"
                    " train on this machine (default: off)")
    se.add_argument("--preset", choices=PRESET_CHOICES, metavar=PRESET_METAVAR, help=PRE)
    se.add_argument("--config", metavar="FILE.toml", help="a config file the app opens with"
                    " (default: none)")
    se.add_argument("--token", help="the token every request needs (in the URL, then a"
                    " cookie): at least 16 of A-Z a-z 0-9 - _ . ~; a command line is visible"
                    " to this machine's other users (default: a new random one each start)")
    se.add_argument("--max-connections", dest="max_connections", default="2", metavar="N",
                    help="browser connections served at once, 1 to 64; each runs its own app"
                         " process, ~650 MB (default: 2)")

    tr = sub.add_parser("train", help="train headless and report")
    add_run_flags(tr, PRE)
    tr.add_argument("--json", action="store_true",
                    help="one JSON object per line, a summary last (default: off)")
    tr.add_argument("--name", help="the run folder's name (default: cell, state, num_steps)")
    tr.add_argument("--resume", metavar="RUN", help="continue a run folder from its last"
                    " checkpoint; only --epochs may change (default: a new run)")
    add_threads_flag(tr)
    add_config_flags(tr, list(FIELDS))

    sw = sub.add_parser("sweep", help="train a grid of configs and tabulate them")
    add_run_flags(sw, PRE)
    sw.add_argument("--grid", action="append", required=True, metavar="FIELD=V1,V2",
                    help="a field and its values; repeatable, the grid is their product")
    sw.add_argument("--jobs", default="1", metavar="N",
                    help="processes to run in parallel (default: 1, one after another)")
    sw.add_argument("--json", action="store_true",
                    help="one JSON object per config (default: a table)")
    sw.add_argument("--svg", metavar="FILE.svg",
                    help="also write the phase map of a two-field grid as SVG (default: none)")
    sw.add_argument("--seeds", default="1", metavar="N",
                    help="runs per grid point, seeds seed, seed+1, ...; the map shows their"
                         " median and spread (default: 1)")
    sw.add_argument("--same-updates", dest="same_updates", action="store_true",
                    help="scale each cell's series by its num_steps (which the grid must"
                         " vary) so every cell makes the same optimizer updates (default:"
                         " epochs in series steps)")
    sw.add_argument("--yes", action="store_true",
                    help=f"run a grid of more than {SWEEP_ASK_OVER:,} configs (default:"
                         " refused, saying the count)")
    add_threads_flag(sw)
    add_config_flags(sw, list(FIELDS))


def _run_commands(sub) -> None:
    """export, inspect, watch, stop, sample: a run folder."""
    wa = sub.add_parser("watch", help="the live view of a run another process trains"
                        " (read-only; quitting it never touches the training)")
    wa.add_argument("run", metavar="RUN|DIR", nargs="?", default="runs",
                    help="a run folder, or a runs directory: its newest live run (default:"
                         " runs)")
    wa.add_argument("--list", action="store_true",
                    help="print the runs directory's runs and whether each is live, and exit"
                         " (default: off)")

    st = sub.add_parser("stop", help="ask a live run's trainer to stop, as F8 does (its"
                        " checkpoint written)")
    st.add_argument("run", metavar="RUN", help="a run folder")
    st.add_argument("--wait", action="store_true",
                    help="wait until it has stopped (default: return at once)")

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

    sa = sub.add_parser("sample", help="symbols drawn from a text run's checkpoint, one after"
                        " another (the same seed gives the same sample)")
    sa.add_argument("run", metavar="RUN", help="a run folder trained on a text or symbol file")
    sa.add_argument("--length", default="200", metavar="N",
                    help="symbols to draw after the prime (default: 200)")
    sa.add_argument("--temperature", default="1.0", metavar="T",
                    help="above 0: 1 draws from the model as it is, lower is surer, higher"
                         " wilder (default: 1.0)")
    sa.add_argument("--seed", default="0", metavar="S", help="the random draw (default: 0)")
    sa.add_argument("--prime", metavar="TEXT",
                    help="what the model reads first (default: the start of the stretch the"
                         " run last showed)")


def _task_commands(sub) -> None:
    """data, baselines: the task itself, no TensorFlow."""
    da = sub.add_parser("data", help="write a series as .npz (uint8 arrays x and y) or as an"
                        " x,y .csv")
    add_config_flags(da, SERIES_FIELDS)
    da.add_argument("--out", required=True, metavar="FILE.npz", help="where to write, .npz or"
                    " .csv (required)")

    bl = sub.add_parser("baselines", help="print the task's analytic loss floors")
    add_config_flags(bl, ["base", "rules", "truncation", "stride"])
    bl.add_argument("--num-steps", dest="num_steps", default=None, metavar="NUM_STEPS",
                    help="also print the floor of a model that sees only its window, its"
                         " training loss under --truncation/--stride (default: not printed)")
    bl.add_argument("--json", action="store_true", help="print JSON (default: off)")


def check_writable(flag: str, path: Path) -> None:
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


def cpu_threads(args: argparse.Namespace) -> int:
    """--cpu-threads as a number (0: not given, chosen for the config)."""
    text = getattr(args, "cpu_threads", None)
    return 0 if text is None else count("--cpu-threads", text, 1024)


def job_count(text: str) -> int:
    return count("--jobs", text, 64)


def count(flag: str, text: str, most: int) -> int:
    """A flag's whole number from 1 to `most`, or the one-line error naming it."""
    try:
        n = int(text)
    except ValueError:
        raise BadInput(f"{flag}: {text!r} is not an integer from 1 to {most}") from None
    if not 1 <= n <= most:
        raise BadInput(f"{flag}: {n} is out of range: an integer from 1 to {most}")
    return n
