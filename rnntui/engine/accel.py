"""How a run uses its device: XLA or the fused cuDNN kernel, and float32 or mixed precision.

XLA or cuDNN. On a GPU the two exclude each other: a cuDNN op cannot live inside an XLA
cluster, so a run takes one for its whole training program.

- basic and rnn: always XLA. Keras has no cuDNN kernel for these cells, and XLA fuses each
  time step's matmul and tanh and the whole optimizer update into a few kernels.
- lstm and gru, `cudnn: auto`: cuDNN when the recurrence is big enough to be limited by the
  GPU's arithmetic, XLA when it is small enough to be limited by kernel launches:
  - cuDNN runs a layer's whole window, forward or backward, as one kernel with its tuned
    recurrent matmuls, but the rest of the step (loss, Adam) runs op by op, unfused: a
    fixed cost per batch (estimated, not measured: some hundred ops at a few us each).
  - XLA fuses everything, but each time step is still a few kernel launches of its own.
  So XLA wins while the work per batch is small (the article's state 4, batch 200: nothing
  in it can fill a GPU), and cuDNN wins once num_steps x batch x state is large (LSTM 512,
  num_steps 50, batch 1024). The threshold below sits between those two; bench/gpu
  measures both sides of it with cuDNN forced on and off. No GPU was lent to measure it
  while this was written, so the threshold is reasoned, not measured.
- Under tf.distribute there is no XLA (one graph call per batch), so `auto` takes cuDNN
  for LSTM/GRU on GPUs whatever the size.
- `cudnn: on` or `off` overrides the rule; on the CPU there is no cuDNN, so it is XLA.

What a cuDNN failure does. Keras's LSTM/GRU with use_cudnn="auto" decide at trace time:
cuDNN whenever TensorFlow has a logical GPU, with a fallback to the generic loop only for
errors raised while tracing (in eager code that is also running). Inside the trainer's
tf.function the CudnnRNN op runs later, so a cuDNN that fails at run time (a driver or
library that cannot run this shape) would end the run. The trainer therefore runs the
evaluation program (the forward kernel) once on real data right after compiling; if that
fails it rebuilds the run with XLA and says so in the Compiled event's notice. A failure
that only the backward kernel hits, later, ends the run with one line on `cudnn` that
says to rerun with `--cudnn off`.

Mixed precision (float16 compute, float32 weights, dynamic loss scaling) is a GPU feature:
the tensor cores are what make float16 fast. On the CPU it would only be slower, so a run
asking for it there trains in float32 and says so.
"""

from __future__ import annotations

from ..config import Config

CUDNN_CELLS = ("lstm", "gru")
# Multiply-adds a batch (plan.batch_macs) from which a run takes the whole-window kernels
# (window.py) over Keras's layers unrolled: see below.
WINDOW_MIN_MACS = 8_000_000
# num_steps x batch_size x state_size from which `auto` takes cuDNN (see above).
CUDNN_MIN_WORK = 1 << 20


def batch_macs(config: Config) -> int:
    """Multiply-adds of one batch's forward pass through the recurrent layers: what a
    batch costs, for the chunk (plan.choose_chunk), the CPU threads (tfload.auto_threads)
    and the kernel (xla_kernel)."""
    m, t = config.model, config.train
    gates = {"basic": 1, "rnn": 1, "gru": 3, "lstm": 4}[m.cell]
    return t.batch_size * t.num_steps * m.num_layers * gates * m.state_size * (m.state_size + 3)


def xla_kernel(config: Config, distributed: bool = False) -> str:
    """Which program XLA compiles: "window", the whole-window kernels (one input matmul a
    window, the weights' gradients one matmul each, a rolled loop that XLA compiles in
    seconds), or "xla", Keras's layers unrolled. The window wins from mid-size models on
    (a char model's LSTM 2x128 ran 1.5x, and XLA compiled it 15x faster); the seed's small
    models keep the unrolled layers they are tuned for. Under tf.distribute there is no
    XLA, and a rolled loop without it pays every op of every step: Keras's layers.
    A layer-normed cell has no whole-window kernel: Keras's RNN over its cell (norm.py),
    rolled (model.unrolled)."""
    if distributed or config.model.layer_norm or batch_macs(config) < WINDOW_MIN_MACS:
        return "xla"
    return "window"


def choose_kernel(config: Config, on_gpu: bool,
                  distributed: bool = False) -> tuple[str, str]:
    """("xla", "window" or "cudnn", a notice when the config asked for what cannot be had):
    "xla" and "window" are both XLA programs (xla_kernel).

    `distributed`: a tf.distribute run has no XLA (see distribute.py), so `auto` takes
    cuDNN for LSTM/GRU on GPUs at any size: the other choice is neither."""
    m, t = config.model, config.train
    xla = xla_kernel(config, distributed)
    if not on_gpu:
        why = "cudnn: on needs a GPU; using XLA on the CPU" if t.cudnn == "on" else ""
        return xla, why
    if m.cell not in CUDNN_CELLS:
        why = (f"cudnn: there is no cuDNN kernel for the {m.cell} cell; using XLA"
               if t.cudnn == "on" else "")
        return xla, why
    if m.layer_norm:  # said whenever cuDNN could have run: the run is slower without it
        why = ("" if t.cudnn == "off" else
               "layer_norm: cuDNN has no layer-normed cell; using XLA without cuDNN")
        return xla, why
    if t.cudnn != "auto":
        return ("cudnn" if t.cudnn == "on" else xla), ""
    work = t.num_steps * t.batch_size * m.state_size
    if distributed:
        return "cudnn", ""
    return ("cudnn" if work >= CUDNN_MIN_WORK else xla), ""


def choose_precision(config: Config, on_gpu: bool) -> tuple[bool, str]:
    """(mixed or not, a notice when mixed was asked for and cannot help)."""
    if config.train.precision != "mixed":
        return False, ""
    if not on_gpu:
        return False, "precision: mixed needs a GPU; training in float32 on the CPU"
    return True, ""


def cudnn_failed(err: BaseException) -> bool:
    """Whether a TensorFlow error came from a cuDNN kernel (its messages name cuDNN), as
    opposed to running out of memory or anything else a rebuild would not mend."""
    text = str(err).lower()
    return "cudnn" in text and "resource exhausted" not in text and "oom" not in text


def graph_uses_cudnn(concrete_function) -> bool:
    """Whether a traced tf.function runs a cuDNN RNN op anywhere, nested loops and
    gradient functions included: the honest answer to 'is the fused kernel in use'."""
    graph_def = concrete_function.graph.as_graph_def()
    nodes = list(graph_def.node)
    for fn in graph_def.library.function:
        nodes.extend(fn.node_def)
    return any(n.op.startswith("CudnnRNN") for n in nodes)


def describe(kernel: str, fused: bool, jit: bool, mixed: bool = False) -> str:
    """What runs, as the status shows it after the device: 'XLA', 'cuDNN fused kernel',
    'graph, no XLA' (tf.distribute), and the precision when it is mixed."""
    if kernel == "cudnn":
        text = "cuDNN fused kernel" if fused else "cuDNN allowed, not in use"
    elif kernel == "window":  # a plain graph only when a caller asks (Trainer(jit=False))
        text = ("XLA" if jit else "graph") + ", whole-window kernels"
    else:
        text = "XLA" if jit else "graph, no XLA"
    return text + (", mixed float16" if mixed else "")
