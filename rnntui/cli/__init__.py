"""Command line: `rnntui` opens the app, `rnntui watch` the live view of another process's
run; `rnntui train|sweep|stop|inspect|sample|export|data|baselines` run headless. The parser is in
`args`, the commands in `commands` (the task's own in `task`).

Nothing here imports TensorFlow or Textual at module load: `rnntui data` and
`rnntui baselines` are instant, and the app paints before TensorFlow loads.
Exit codes: 0 finished, 1 diverged or failed (a file that cannot be written too, in one
line naming it), 2 bad input (one line naming the field).
"""

from __future__ import annotations

import os
import sys

from ..config import ConfigError
from . import commands, task
from .args import BadInput, build_parser, cpu_threads

__all__ = ["BadInput", "build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if not argv:
            return commands.cmd_app(None)
        args = build_parser().parse_args(argv)
        if args.command in ("app", "train", None):  # before TensorFlow loads
            from ..engine.tfload import ask_cpu_threads

            ask_cpu_threads(cpu_threads(args))
        command = {"train": commands.cmd_train, "data": task.cmd_data,
                   "baselines": task.cmd_baselines, "sweep": commands.cmd_sweep,
                   "export": commands.cmd_export, "inspect": commands.cmd_inspect,
                   "watch": commands.cmd_watch, "stop": commands.cmd_stop,
                   "serve": commands.cmd_serve, "sample": commands.cmd_sample,
                   "app": commands.cmd_app, None: commands.cmd_app}[args.command]
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
    except OSError as err:  # a write that failed (a full disk, a read-only folder)
        print(f"error: {err}", file=sys.stderr)
        return 1
