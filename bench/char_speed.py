"""A char model on a text: rnntui against Keras `fit` (stateful layers) and a plain PyTorch
loop, whole runs (compile and validation included), in one run of this script.

The text is Python's own documentation as pydoc renders it (about 1 MB; the same on any
machine with this Python), not written for this project. The layout is the same for all
three: one-hot input, the series cut into `batch_size` contiguous rows, windows of
`num_steps` with the state carried from window to window (truncated backprop), Adam,
gradients clipped to a global norm of 5, then one validation pass over the text's last
10%. Each peer is written as a user would write it, at its library's defaults (PyTorch's
own CPU threads; Keras with TensorFlow's). Each run is a process of its own, so that no
peer's thread settings reach another's; its time starts after its imports.

    pip install -e '.[bench]'             # PyTorch's CPU wheel
    python bench/char_speed.py            # both workloads, 3 rounds each, medians
    python bench/char_speed.py --rounds 1 --workload gru
"""

from __future__ import annotations

import argparse
import io
import math
import pydoc
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MODULES = ["os", "re", "json", "collections", "itertools", "functools", "pathlib",
           "subprocess", "threading", "asyncio", "argparse", "logging", "datetime",
           "typing", "dataclasses", "inspect", "socket", "email", "http.client", "urllib",
           "unittest", "decimal", "fractions", "statistics", "random", "string", "textwrap",
           "shutil", "tarfile", "zipfile", "csv", "sqlite3", "xml.etree.ElementTree",
           "multiprocessing", "concurrent.futures", "contextlib", "abc", "enum", "io",
           "codecs", "pickle", "copy", "heapq", "bisect", "array", "struct", "tempfile",
           "glob", "fnmatch", "hashlib", "hmac", "secrets", "ssl", "select", "signal"]


@dataclass(frozen=True)
class Workload:
    name: str
    cell: str
    layers: int
    state: int
    num_steps: int
    batch: int
    lr: float
    epochs: int


WORKLOADS = {
    "lstm": Workload("char-rnn's defaults: LSTM 2x128, ns 50, batch 50, lr 0.002, 1 epoch",
                     "lstm", 2, 128, 50, 50, 0.002, 1),
    "gru": Workload("GRU 128, ns 50, batch 32, lr 0.003, 2 epochs", "gru", 1, 128, 50, 32,
                    0.003, 2),
}


def make_text(path: Path, size: int = 1_000_000) -> Path:
    """Python's documentation, rendered by pydoc as plain text, cut to `size` characters."""
    out, n = io.StringIO(), 0
    for name in MODULES:
        try:
            text = pydoc.render_doc(name, renderer=pydoc.plaintext)
        except (ImportError, pydoc.ErrorDuringImport):
            continue
        text = "".join(ch for ch in text if ch.isprintable() or ch in "\n\t")
        out.write(text)
        n += len(text)
        if n >= size:
            break
    path.write_text(out.getvalue()[:size], encoding="utf-8")
    return path


def encoded(path: Path) -> tuple[np.ndarray, int]:
    """The text as symbol codes (sorted characters), and the symbol count."""
    text = path.read_text(encoding="utf-8")
    chars = sorted(set(text))
    table = {c: i for i, c in enumerate(chars)}
    return np.fromiter((table[c] for c in text), dtype=np.int64, count=len(text)), len(chars)


def split(codes: np.ndarray, w: Workload):
    """(train x, train y, val x, val y) as rows: the last 10% held out, each part cut into
    `batch` contiguous rows, whole windows only."""
    cut = len(codes) - len(codes) // 10

    def rows(part: np.ndarray):
        x, y = part[:-1], part[1:]
        per_row = (len(x) // w.batch) // w.num_steps * w.num_steps
        return (x[: per_row * w.batch].reshape(w.batch, per_row),
                y[: per_row * w.batch].reshape(w.batch, per_row))

    return (*rows(codes[:cut]), *rows(codes[cut:]))


def ours(text: Path, w: Workload) -> tuple[float, int, float]:
    """rnntui's Trainer on the text file: (steps/s over the whole run, steps, val loss)."""
    from rnntui.config import Config
    from rnntui.engine import train
    from rnntui.engine.tfload import quiet_tensorflow

    cfg = Config().with_values(data_file=str(text), cell=w.cell, num_layers=w.layers,
                               state_size=w.state, num_steps=w.num_steps, batch_size=w.batch,
                               learning_rate=w.lr, optimizer="adam", clip_norm=5.0,
                               epochs=w.epochs)
    quiet_tensorflow(cfg)  # the import, as the peers' imports, before the clock
    t0 = time.perf_counter()
    final = train(cfg, lambda e: None)
    wall = time.perf_counter() - t0
    assert final.kind == "finished", final
    TRAINING_RATE.append(final.steps_per_sec)  # compile excluded, as Finished says
    return final.step / wall, final.step, final.val_loss


def keras_fit(text: Path, w: Workload) -> tuple[float, int, float]:
    """Keras `fit` with stateful layers over the epoch, then `evaluate`."""
    from rnntui.config import Config
    from rnntui.engine.tfload import quiet_tensorflow

    quiet_tensorflow(Config())
    import keras

    codes, v = encoded(text)
    x, y, vx, vy = split(codes, w)
    layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[w.cell]
    t0 = time.perf_counter()
    model = keras.Sequential([keras.Input(batch_shape=(w.batch, w.num_steps, v))]
                             + [layer(w.state, stateful=True, return_sequences=True)
                                for _ in range(w.layers)] + [keras.layers.Dense(v)])
    model.compile(keras.optimizers.Adam(w.lr, global_clipnorm=5.0),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    def windows(a: np.ndarray) -> np.ndarray:  # batch i of the epoch: row r's i-th window
        n = a.shape[1] // w.num_steps
        return a.reshape(w.batch, n, w.num_steps).transpose(1, 0, 2).reshape(-1, w.num_steps)

    eye = np.eye(v, dtype=np.float32)
    xs, ys = eye[windows(x)], windows(y)
    for _ in range(w.epochs):
        model.fit(xs, ys, batch_size=w.batch, shuffle=False, epochs=1, verbose=0)
        for lay in model.layers:
            if hasattr(lay, "reset_states"):
                lay.reset_states()
    val = float(model.evaluate(eye[windows(vx)], windows(vy), batch_size=w.batch, verbose=0))
    wall = time.perf_counter() - t0
    steps = w.epochs * (x.shape[1] // w.num_steps)
    return steps / wall, steps, val


def torch_loop(text: Path, w: Workload) -> tuple[float, int, float]:
    """A plain PyTorch loop: nn.LSTM / nn.GRU (batch_first), one-hot input, Adam,
    clip_grad_norm_, the hidden state detached between windows."""
    import torch
    from torch import nn

    codes, v = encoded(text)
    dev = "cuda" if torch.cuda.is_available() else "cpu"  # cuDNN on a GPU box
    x, y, vx, vy = (torch.from_numpy(a).to(dev) for a in split(codes, w))
    torch.manual_seed(0)
    t0 = time.perf_counter()
    rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[w.cell](v, w.state, num_layers=w.layers,
                                                    batch_first=True).to(dev)
    head = nn.Linear(w.state, v).to(dev)
    params = [*rnn.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=w.lr)
    loss_fn = nn.CrossEntropyLoss()

    def detach(h):
        return tuple(t.detach() for t in h) if isinstance(h, tuple) else h.detach()

    steps, first = 0, None
    for _ in range(w.epochs):
        h = None
        for i in range(0, x.shape[1], w.num_steps):
            xb = nn.functional.one_hot(x[:, i:i + w.num_steps], v).float()
            out, h = rnn(xb, h)
            loss = loss_fn(head(out).reshape(-1, v), y[:, i:i + w.num_steps].reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            h = detach(h)
            steps += 1
            if first is None:
                first = time.perf_counter()
    with torch.no_grad():
        h, total, n = None, 0.0, 0
        for i in range(0, vx.shape[1], w.num_steps):
            out, h = rnn(nn.functional.one_hot(vx[:, i:i + w.num_steps], v).float(), h)
            total += float(loss_fn(head(out).reshape(-1, v),
                                   vy[:, i:i + w.num_steps].reshape(-1)))
            n += 1
    if dev == "cuda":
        torch.cuda.synchronize()
    TRAINING_RATE.append((steps - 1) / (time.perf_counter() - first))  # validation in: small
    wall = time.perf_counter() - t0
    return steps / wall, steps, total / max(n, 1)


PEERS = {"rnntui": ours, "keras fit": keras_fit, "pytorch": torch_loop}
# Steps/s of the training alone, set by a peer that tells it (bench/cost_growth.py): rnntui's
# after its compile, PyTorch's after its first step.
TRAINING_RATE: list[float] = []


def workload(key: str) -> Workload:
    """A named workload, or one spelt CELLxLAYERSxSTATE-NS-BATCH (bench/cost_growth.py's:
    lr 0.002, 1 epoch), e.g. lstmx1x256-100-32."""
    if key in WORKLOADS:
        return WORKLOADS[key]
    head, ns, batch = key.split("-")
    cell, layers, state = head.split("x")
    return Workload(key, cell, int(layers), int(state), int(ns), int(batch), 0.002, 1)


def one(peer: str, key: str, text: Path) -> None:
    """One peer's run, in a process of its own (so that no peer's thread settings reach
    another's): prints its figures as one line."""
    rate, steps, val = PEERS[peer](text, workload(key))
    print(f"RESULT {rate} {steps} {val} {TRAINING_RATE[-1] if TRAINING_RATE else rate}",
          flush=True)


def measured(peer: str, key: str, text: Path) -> tuple[float, int, float, float]:
    out = subprocess.run([sys.executable, __file__, "--one", peer, key, str(text)],
                         capture_output=True, text=True, check=False)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"{peer} failed: {(out.stderr or out.stdout).strip()[-800:]}")
    rate, steps, val, training = line.split()[1:]
    return float(rate), int(steps), float(val), float(training)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="rounds of each (default: 3)")
    ap.add_argument("--workload", choices=[*WORKLOADS, "all"], default="all")
    ap.add_argument("--one", nargs=3, metavar=("PEER", "WORKLOAD", "TEXT"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        return one(args.one[0], args.one[1], Path(args.one[2]))
    text = make_text(Path(tempfile.mkdtemp(prefix="rnntui-char-")) / "pydoc.txt")
    codes, v = encoded(text)
    print(f"text: {len(codes):,} characters of pydoc ({v} symbols), Python "
          f"{sys.version.split()[0]}", flush=True)
    for key in (WORKLOADS if args.workload == "all" else [args.workload]):
        w = WORKLOADS[key]
        rates: dict[str, list[float]] = {p: [] for p in PEERS}
        for r in range(args.rounds):
            for peer in PEERS:  # interleaved: a slow spell hits all three
                rate, steps, val, _ = measured(peer, key, text)
                rates[peer].append(rate)
                print(f"  round {r + 1} {peer:10} {rate:7.1f} steps/s ({steps} steps, val"
                      f" {val:.3f})", flush=True)
        med = {p: statistics.median(x) for p, x in rates.items()}
        ratio = {p: med["rnntui"] / med[p] if med[p] else math.nan for p in PEERS}
        print(f"{w.name}: rnntui {med['rnntui']:.1f}, keras fit {med['keras fit']:.1f},"
              f" pytorch {med['pytorch']:.1f} steps/s (medians of {args.rounds});"
              f" rnntui / pytorch {ratio['pytorch']:.2f}x, rnntui / keras"
              f" {ratio['keras fit']:.2f}x", flush=True)


if __name__ == "__main__":
    main()
