"""The events the trainer emits: the whole contract between the engine and any listener.

Plain dataclasses with no TensorFlow inside, so the app and the command line can import
them at no cost. `kind` is a stable short name for JSON output.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..config import Config
from .verdict import Floor, Verdict


@dataclass
class Event:
    kind = "event"

    def to_json(self) -> dict[str, Any]:
        out = {"event": self.kind}
        for k, v in asdict(self).items():
            out[k] = v
        if isinstance(self, Started):
            out["config"] = self.config.flat()
        return out


@dataclass
class Started(Event):
    kind = "started"
    config: Config
    device: str  # "CPU" or the GPU's name
    floors: list[Floor]
    window_floor: float  # the loss of a model that sees only its window (expected)
    steps_per_epoch: int
    total_steps: int
    chunk: int  # batches per compiled call
    notice: str = ""  # e.g. a GPU was asked for and there is none: training on the CPU
    # `floors` are realised on the validation sample the run is scored on (the last: the
    # true P's own loss there); these are their expected values (rnntui baselines)
    analytic: list[Floor] = field(default_factory=list)
    # A data file's symbols, which the codes in other events index: its targets' and its
    # inputs' ([] for the generator's 0/1)
    symbols: list[str] = field(default_factory=list)
    input_symbols: list[str] = field(default_factory=list)


@dataclass
class Compiled(Event):
    kind = "compiled"
    seconds: float
    kernel: str = ""  # how it runs: "XLA", "cuDNN fused kernel", precision, replicas
    fused: bool = False  # the traced program runs a cuDNN RNN kernel
    notice: str = ""  # e.g. the cuDNN kernel failed on its first call: rebuilt with XLA
    reused: bool = False  # the program was made already (a warm, or the run before)


@dataclass
class Progress(Event):
    kind = "progress"
    step: int  # batches done so far, over all epochs
    epoch: int  # 0-based
    losses: list[float]  # this chunk's per-step training losses
    grad_norm: float  # mean global gradient norm over the chunk (before clipping)
    steps_per_sec: float
    samples_per_sec: float  # sequence windows (batch rows) per second
    eta_s: float
    learning_rate: float


@dataclass
class EpochEnd(Event):
    kind = "epoch_end"
    epoch: int
    step: int
    train_loss: float
    val_loss: float
    verdict: Verdict
    # {"1": e1, ..., "K": eK}: the effect of X[t-k] on P(Y_t=1) (rnntui.insight); {} when
    # not measured: insight off, or epochs so short that only some ends are (the last
    # always is). The learning timeline is drawn from these.
    lag_effects: dict[str, float] = field(default_factory=dict)
    memory: dict[str, float] = field(default_factory=dict)  # {"1": acc1, ...}, as lag_effects


@dataclass
class Predictions(Event):
    kind = "predictions"
    step: int
    x: list[int]  # a window of the validation series
    y: list[int]
    p: list[float]  # predicted P(Y=1) at each position (more classes: P(the true one))
    combos: list[tuple[tuple[int, ...], float, float]]  # (X at each rule lag, predicted, true)
    # A file shown as text (Started.symbols): per position its most likely next symbols,
    # [[code, probability], ...] best first; samples drawn from the model at each
    # temperature ({"1": codes, ...}) after reading `prime` (codes: the stretch's start)
    top: list[list[list[float]]] = field(default_factory=list)
    samples: dict[str, list[int]] = field(default_factory=dict)
    prime: list[int] = field(default_factory=list)


@dataclass
class Insight(Event):
    """What the network learned and why, measured on a warmed-up validation stretch
    (rnntui.insight). Sent with the predictions (about once a second) and at epoch ends.

    Lags count back from the prediction: lag k is X[t-k] for Y_t; lag 0 is the input the
    network sees at t. Every list below is indexed by lag, 0..K.
    """

    kind = "insight"
    step: int
    effects: list[float]  # mean change of P(Y_t=1) when X[t-k] flips 0 -> 1 (lag 0 included)
    true_deltas: list[float]  # the task's own effect at each lag: the rule's delta, else 0
    # mean |dLoss_t / dX[t-k]| along the flip (the input's 1 minus its 0 direction), through
    # the network as it runs: untruncated, the state reset at each window when carry is off
    reach: list[float]
    window_share: list[float]  # share of training positions whose window reaches lag k
    hidden: list[list[float]] = field(default_factory=list)  # units x time, the predictions'
    units: list[int] = field(default_factory=list)  # which units the rows of `hidden` are
    # name -> units x time, the same units and positions as `hidden`: the LSTM's cell state
    # as tanh(c) ("c") and its gates, the GRU's gates
    gates: dict[str, list[list[float]]] = field(default_factory=dict)
    reach_step: int = -1  # the step `reach` was measured at: it is re-measured less often
    off: str = ""  # why nothing is measured for this run (its data are not 0/1), else ""
    effects_se: list[float] = field(default_factory=list)  # their standard errors (rows)
    # how well X[t-k] is read out of the state at t: a logistic readout's held-out accuracy
    # (0.5 is chance for a fair coin)
    memory: list[float] = field(default_factory=list)
    # the effect this config can reach at each lag: the true delta, or with carry_state off
    # delta x window_share (0 beyond the window); [] means true_deltas
    achievable: list[float] = field(default_factory=list)


@dataclass
class Diverged(Event):
    kind = "diverged"
    step: int
    loss: float


@dataclass
class Finished(Event):
    kind = "finished"
    step: int
    epochs: int  # epochs completed
    train_loss: float
    val_loss: float
    verdict: Verdict
    floors: list[Floor]
    steps_per_sec: float  # training's, from the first chunk on, waits for a compile left out
    wall_s: float  # from the first chunk to the end
    stopped: bool = False  # stopped by the user before the last epoch
    lag_effects: dict[str, float] = field(default_factory=dict)  # the final model's, as EpochEnd
    memory: dict[str, float] = field(default_factory=dict)  # the final model's, as EpochEnd


@dataclass
class Failed(Event):
    kind = "failed"
    message: str
    detail: str = field(default="", repr=False)
    bad_field: str = ""  # the config field at fault, when a setting cannot be had here
