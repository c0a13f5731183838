"""The task's own commands, `rnntui data` and `rnntui baselines`: the series and its
floors, computed without TensorFlow."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..config import Config, check_probabilities, effective_stride, parse_value
from .args import SERIES_FIELDS, BadInput, check_writable, config_from_args


def cmd_data(args: argparse.Namespace) -> int:
    import numpy as np

    from ..data.generator import generate

    # Only the data fields matter here: no batch has to fit, so no cross-field size check.
    cfg = Config().data
    values = {n: parse_value(n, getattr(args, n)) for n in SERIES_FIELDS
              if getattr(args, n, None) is not None and n != "rules"}
    if args.rules:
        values["rules"] = parse_value("rules", ",".join(args.rules))
    cfg = Config().with_values(**values).data
    check_probabilities(cfg.base, cfg.rules)
    out = Path(args.out)
    # numpy would append .npz to any other name and write a file the report did not name.
    if out.suffix.lower() not in (".npz", ".csv"):
        raise BadInput(f"--out: {args.out} must end in .npz or .csv (what --data-file reads)")
    if out.exists() and not out.is_file():  # a directory, a FIFO (which would block)
        raise BadInput(f"--out: {args.out} is there and is not a regular file")
    check_writable("--out", out)  # a folder that is not there: before the work, not after
    x, y = generate(cfg.size, cfg.seed, cfg.base, cfg.rules)
    try:
        with open(out, "wb") as f:  # a file object: numpy names nothing of its own
            if out.suffix.lower() == ".csv":  # the x,y CSV that --data-file reads
                np.savetxt(f, np.stack([x, y], 1), fmt="%d", delimiter=",", header="x,y",
                           comments="")
            else:
                np.savez(f, x=x, y=y)
    except OSError as err:
        raise BadInput(f"--out: cannot write {args.out}: {err.strerror or err}") from None
    print(f"wrote {cfg.size} steps (seed {cfg.seed}) to {out}")
    return 0


def cmd_baselines(args: argparse.Namespace) -> int:
    from ..data.baselines import floors, window_floor

    names = ["base", "rules", "truncation", "stride"]
    full = config_from_args(args, names + (["num_steps"] if args.num_steps is not None else []))
    cfg, t = full.data, full.train
    fl = floors(cfg.base, cfg.rules)
    win = None
    if args.num_steps is not None:  # the window floor under the truncation style
        win = window_floor(cfg.base, cfg.rules, t.num_steps, effective_stride(t))
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
