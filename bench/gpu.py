"""rnntui against plain Keras `model.fit` on a GPU, cuDNN on and off, in one run.

    python bench/gpu.py            # on a GPU box: under 5 minutes
    python bench/gpu.py --quick    # a smoke run with small batches (what a CPU can do)
    python bench/gpu.py --char     # also bench/char_speed.py's two char models, one round:
                                   # rnntui, Keras fit (cuDNN) and PyTorch (cuDNN) on the GPU

Both train the same network the same way: truncated backprop through windows of
num_steps, the state carried from batch to batch (Keras: stateful layers, batches in
order, shuffle off), Adam, one-hot inputs, 2-class logits. Samples are windows (batch
rows). samples/s is the median over --repeats timed passes of the same batches, after
compilation: epochs of one rnntui run, and repeated fits of one compiled Keras model.

Cases (the issue's): LSTM 512, num_steps 50, batch 1024; the article's r2rt settings
(state 4, num_steps 5, batch 200) with an LSTM, where cuDNN on/off applies, and with the
seed's own cell, where only XLA does. "cudnn on" rows need a GPU and are skipped without.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from rnntui.config import Config
from rnntui.core.events import Finished
from rnntui.data.generator import generate, windows
from rnntui.engine import train
from rnntui.engine.tfload import quiet_tensorflow

CASES = {
    "lstm512": dict(cell="lstm", state_size=512, num_steps=50, batch_size=1024),
    "r2rt-lstm": dict(cell="lstm", state_size=4, num_steps=5, batch_size=200),
    "r2rt": dict(cell="basic", state_size=4, num_steps=5, batch_size=200),
}
BATCHES = {"lstm512": 60, "r2rt-lstm": 1500, "r2rt": 1500}  # per timed pass
KERAS_LAYER = {"lstm": "LSTM", "gru": "GRU", "basic": "SimpleRNN", "rnn": "SimpleRNN"}


def config(case: dict, batches: int, cudnn: str, epochs: int) -> Config:
    per = case["batch_size"] * case["num_steps"]
    return Config().with_values(optimizer="adam", learning_rate=0.001, size=per * batches,
                                val_size=per, cudnn=cudnn, epochs=epochs, **case)


def rnntui_rate(case: dict, batches: int, cudnn: str, repeats: int) -> tuple[float, str]:
    """(samples/s, kernel): the median rate between the run's Progress events (each after
    a compiled chunk; an EpochEnd lands when its validation is done, so it times nothing),
    the first one left out, compile excluded."""
    marks, kernel = [], []  # (time, step) at each Progress

    def on(event):
        if event.kind == "progress":
            marks.append((time.perf_counter(), event.step))
        elif event.kind == "compiled":
            kernel.append(event.kernel)

    # XLA, as a run long enough to pay for its compile trains (this one is short); the cuDNN
    # kernel runs without it (plan.jit_for).
    final = train(config(case, batches, cudnn, repeats), on, jit=True)
    if not isinstance(final, Finished):
        raise RuntimeError(f"rnntui run ended {final.kind}: {getattr(final, 'message', '')}")
    rates = [(s1 - s0) / (t1 - t0) for (t0, s0), (t1, s1) in zip(marks, marks[1:], strict=False)]
    return statistics.median(rates[1:] or rates) * case["batch_size"], kernel[0]


def keras_rate(case: dict, batches: int, cudnn: bool, repeats: int) -> float:
    """samples/s of plain Keras fit on the same windows: the median of timed fits of one
    compiled model, after a warm-up fit (the state carries on across fits, as it would)."""
    import keras

    b, t, units = case["batch_size"], case["num_steps"], case["state_size"]
    x, y = generate(b * t * batches, 0)
    xw, yw = windows(x, b, t), windows(y, b, t)
    xs = np.eye(2, dtype=np.float32)[xw.reshape(-1, t)]  # (batches*b, t, 2), batch order
    ys = yw.reshape(-1, t)
    keras.utils.set_random_seed(0)
    kind = getattr(keras.layers, KERAS_LAYER[case["cell"]])
    extra = {"use_cudnn": cudnn} if case["cell"] in ("lstm", "gru") else {}
    inp = keras.Input(batch_shape=(b, t, 2))
    h = kind(units, return_sequences=True, stateful=True, **extra)(inp)
    model = keras.Model(inp, keras.layers.Dense(2)(h))
    model.compile(keras.optimizers.Adam(0.001),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    warm = min(batches, 5)
    model.fit(xs[: warm * b], ys[: warm * b], batch_size=b, shuffle=False, verbose=0)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.fit(xs, ys, batch_size=b, shuffle=False, verbose=0)
        times.append(time.perf_counter() - t0)
    return batches * b / statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="batch <= 32, state <= 64, a tenth of the batches: a smoke run")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--char", action="store_true",
                    help="then char_speed's workloads, whole runs, one round each")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="times the batches per pass (60 for lstm512, 1500 for r2rt)")
    args = ap.parse_args()
    tf = quiet_tensorflow()
    gpu = bool(tf.config.list_physical_devices("GPU"))
    print(f"device: {'GPU' if gpu else 'CPU (cudnn on rows skipped)'}; median of"
          f" {args.repeats} passes; samples = windows (batch rows)")
    print(f"{'case':<10} {'cudnn':<5} {'rnntui/s':>10} {'keras fit/s':>12} {'ratio':>6}  kernel")
    t_start = time.perf_counter()
    if args.quick:
        args.scale /= 10
    for name, case in CASES.items():
        if args.quick:
            case = {**case, "batch_size": min(case["batch_size"], 32),
                    "state_size": min(case["state_size"], 64)}
        settings = ("on", "off") if case["cell"] in ("lstm", "gru") else ("off",)
        batches = max(2, int(BATCHES[name] * args.scale))
        for cudnn in settings:
            if cudnn == "on" and not gpu:
                continue
            a, kernel = rnntui_rate(case, batches, cudnn, args.repeats)
            b = keras_rate(case, batches, cudnn == "on", args.repeats)
            print(f"{name:<10} {cudnn:<5} {a:>10,.0f} {b:>12,.0f} {a / b:>5.2f}x  {kernel}",
                  flush=True)
    if args.char:
        char_models()
    print(f"total {time.perf_counter() - t_start:.0f} s")


def char_models() -> None:
    """bench/char_speed.py's workloads on this box's GPU, one whole run of each peer, each
    in a process of its own: rnntui as it chooses, Keras fit's LSTM/GRU (cuDNN on a GPU by
    default), PyTorch's nn.LSTM/GRU on cuda (cuDNN)."""
    import sys
    import tempfile
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from char_speed import PEERS, WORKLOADS, make_text, measured

    text = make_text(Path(tempfile.mkdtemp(prefix="rnntui-char-")) / "pydoc.txt")
    for key, w in WORKLOADS.items():
        got = {peer: measured(peer, key, text)[0] for peer in PEERS}
        print(f"{w.name}: " + ", ".join(f"{p} {r:.1f}" for p, r in got.items())
              + f" steps/s; rnntui / pytorch {got['rnntui'] / got['pytorch']:.2f}x",
              flush=True)


if __name__ == "__main__":
    main()
