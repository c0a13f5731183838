"""rnntui's trainer against plain Keras `model.fit` with a stateful layer, in one run.

Same data, same settings, same machine, one process: for each setting it prints the
steady-state steps/s of both (medians of per-call rates after warm-up) and the ratio.
Then it times rnntui's data generator on 10M steps against the seed's gen_data on 1M.

    python bench/train_speed.py            # r2rt (basic 4) and GRU 16, num_steps 10
    python bench/train_speed.py --quick    # fewer batches
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from rnntui.config import preset
from rnntui.core.events import Progress, Started
from rnntui.data.generator import generate, windows
from rnntui.data.source import train_series
from rnntui.engine import train
from rnntui.engine.steps import first_steps
from rnntui.engine.tfload import quiet_tensorflow

# With the CPU threads rnntui gives these small models (tfload.auto_threads); both peers run
# in this one process, so they share them.
tf = quiet_tensorflow(preset("r2rt"))
import keras  # noqa: E402


def ours(cfg, chunk: int | None = None) -> float:
    """Median steps/s between the real Trainer's progress events (everything it does between
    two chunks counts, predictions included), on XLA's program: the run's first call
    (the plain graph's, while XLA compiles: steps.first_steps) and the call after it (the
    wait for that compile) dropped. `chunk`: batches a call, when the run
    is too short for the trainer's own to leave enough calls (--quick)."""
    marks, chunks = [], []

    def on(event):
        if isinstance(event, Started):
            chunks.append(event.chunk)
        if isinstance(event, Progress):
            marks.append((time.perf_counter(), event.step))

    # XLA (a run this short would train as a plain graph), 8 epochs: calls enough after
    # the graph's.
    train(cfg.with_values(deterministic=True, epochs=8), on, jit=True,
          **({"chunk": chunk} if chunk else {}))
    on_xla = first_steps(chunks[0])
    rates = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in zip(marks, marks[1:], strict=False)
             if a[1] >= on_xla]
    return statistics.median(rates[1:] if len(rates) > 1 else rates)


def plain_fit(cfg) -> float:
    """Plain Keras fit: a stateful layer, batches in the seed's order, no shuffling."""
    m, t = cfg.model, cfg.train
    keras.utils.set_random_seed(cfg.data.seed)
    layer = {"basic": keras.layers.SimpleRNN, "rnn": keras.layers.SimpleRNN,
             "gru": keras.layers.GRU, "lstm": keras.layers.LSTM}[m.cell]
    model = keras.Sequential([
        keras.Input(batch_shape=(t.batch_size, t.num_steps, 2)),
        layer(m.state_size, stateful=True, return_sequences=True),
        keras.layers.Dense(2),
    ])
    opt = {"adagrad": keras.optimizers.Adagrad, "adam": keras.optimizers.Adam}[t.optimizer]
    model.compile(opt(t.learning_rate),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = train_series(cfg.data, 0)
    xw, yw = windows(x, t.batch_size, t.num_steps), windows(y, t.batch_size, t.num_steps)
    xs = np.eye(2, dtype=np.float32)[xw.reshape(-1, t.num_steps)]
    ys = yw.reshape(-1, t.num_steps).astype(np.int32)
    stamps = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            stamps.append(time.perf_counter())

    model.fit(xs, ys, batch_size=t.batch_size, shuffle=False, epochs=1, verbose=0,
              callbacks=[Clock()])
    # Rates over blocks of 50 batches after a warm-up of 20, to match ours' per-call medians.
    s = stamps[20:]
    rates = [50 / (s[i + 50] - s[i]) for i in range(0, len(s) - 50, 50)]
    return statistics.median(rates)


def seed_gen_data(size=1_000_000):
    """The seed article's gen_data, as published (a Python loop over time)."""
    X = np.array(np.random.choice(2, size=(size,)))
    Y = []
    for i in range(size):
        threshold = 0.5
        if X[i - 3] == 1:
            threshold += 0.5
        if X[i - 8] == 1:
            threshold -= 0.25
        if np.random.rand() > threshold:
            Y.append(0)
        else:
            Y.append(1)
    return X, np.array(Y)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer batches (default: off)")
    args = ap.parse_args()
    size = 400_000 if args.quick else 1_000_000
    settings = {
        "r2rt basic 4, num_steps 10": preset("r2rt").with_values(num_steps=10, size=size),
        "GRU 16, num_steps 10": preset("r2rt").with_values(
            num_steps=10, size=size, cell="gru", state_size=16),
    }
    print(f"{'setting':30} {'rnntui steps/s':>15} {'keras fit steps/s':>18} {'ratio':>7}")
    for name, cfg in settings.items():
        a, b = ours(cfg, 20 if args.quick else None), plain_fit(cfg)
        print(f"{name:30} {a:15.0f} {b:18.0f} {a / b:6.1f}x", flush=True)

    seed_s = []
    ours_s = []
    for i in range(3):
        t0 = time.perf_counter()
        seed_gen_data(1_000_000)
        seed_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        generate(10_000_000, i)
        ours_s.append(time.perf_counter() - t0)
    a, b = statistics.median(ours_s), statistics.median(seed_s)
    print(f"data: rnntui 10M steps {a:.3f} s, seed gen_data 1M steps {b:.3f} s "
          f"(median of 3): 10M in {a / b:.2f}x the seed's time for 1M; "
          f"per step {b / 1e6 / (a / 1e7):.0f}x faster")


if __name__ == "__main__":
    main()
