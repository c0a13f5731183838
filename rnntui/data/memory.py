"""How much memory a training of a config needs, roughly, and whether this machine has it.

Checked where a config is made ready to train (`data.source.resolve`), so a config far
beyond the machine is refused in one line before anything trains, not by a multi-line
out-of-memory error a minute in. The estimate is arithmetic on the config alone (a file's
symbol counts are passed in); the only file read is /proc/meminfo.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import Config, ConfigError, states_per_layer

GATES = {"basic": 1, "rnn": 1, "gru": 3, "lstm": 4}  # weight blocks (and activations) per cell
SLOTS = {"adagrad": 1, "adam": 2, "rmsprop": 1, "sgd": 0}  # optimizer slots per weight
# The validation series is held and evaluated whole at each epoch end: its codes, their
# windows as tensors and the per-position outputs come to about 50 bytes a step (10M steps
# is ~0.5 GB, as the val_size field's note says).
VAL_BYTES_PER_STEP = 50
MEMINFO = Path("/proc/meminfo")
# data.feed.SLAB_STEPS, not imported: the feed imports data.source, which calls this
# (tests/test_bad_inputs.py holds the two equal).
SLAB_STEPS = 1 << 20


@dataclass(frozen=True)
class Estimate:
    """Bytes by part, each with the field that grows it (what a refusal names)."""

    parts: tuple[tuple[str, str, int], ...]  # (part, field, bytes)

    @property
    def total(self) -> int:
        return sum(n for _, _, n in self.parts)

    @property
    def largest_field(self) -> str:
        return max(self.parts, key=lambda p: p[2])[1]

    def text(self) -> str:
        """'about 31 GB (activations 24 GB, validation 5 GB, ...)', largest part first."""
        parts = sorted(self.parts, key=lambda p: -p[2])
        return f"about {size_text(self.total)} (" + ", ".join(
            f"{name} {size_text(n)}" for name, _, n in parts) + ")"


def estimate(config: Config, inputs: int = 2, classes: int = 2) -> Estimate:
    """The memory a training of `config` holds at its peak, roughly: the series as the
    trainer holds it (a file's whole, the generator's streamed slabs), the validation
    series, the model's weights with their gradients and optimizer slots, and one batch's
    activations for backprop. `inputs` and `classes`: a file's symbol counts (2 for the
    generator)."""
    d, m, t = config.data, config.model, config.train
    per_batch = t.batch_size * t.num_steps
    gates = GATES.get(m.cell, 4)
    # A file is held whole (one byte a step for x and one for y); the generator's series is
    # made in slabs, two at a time (one ahead), each with its windowed copy.
    series = 2 * (d.size + d.val_size) if d.data_file else 0
    slabs = 8 * min(d.size, max(SLAB_STEPS, per_batch))
    weights = 0
    width = inputs
    for _ in range(m.num_layers):
        weights += gates * (width + m.state_size + 2) * m.state_size
        width = m.state_size
    weights = 4 * (weights + (m.state_size + 1) * classes)
    slots = 1 + SLOTS.get(t.optimizer, 2)  # the gradients, and the optimizer's slots
    states = m.num_layers * states_per_layer(m.cell) * t.batch_size * m.state_size * 4
    # Backprop keeps every step's gate activations; the one-hot inputs and the logits with
    # their gradient come on top.
    acts = 4 * per_batch * (m.state_size * m.num_layers * gates + inputs + 2 * classes)
    return Estimate((
        ("series", "size", series + slabs),
        ("validation", "val_size", VAL_BYTES_PER_STEP * d.val_size),
        ("model and optimizer", "state_size", weights * (1 + slots) + 2 * states),
        ("activations", "batch_size", acts),
    ))


def available() -> int | None:
    """The bytes this machine can give a new process now (MemAvailable), None where that
    cannot be read (no /proc: then nothing is refused)."""
    try:
        for line in MEMINFO.read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_fits(config: Config, inputs: int = 2, classes: int = 2,
               free: int | None = None) -> None:
    """ConfigError naming the field that grows the largest part, with the estimate, if a
    training of `config` needs more memory than the machine has available (`free`: this
    many bytes instead of MemAvailable)."""
    free = available() if free is None else free
    if free is None:
        return
    need = estimate(config, inputs, classes)
    if need.total > free:
        raise ConfigError(need.largest_field, f"the config needs {need.text()}; this machine"
                                              f" has {size_text(free)} available")


def size_text(n: int) -> str:
    """Bytes as people read them: '1.3 TB', '31 GB', '2.5 GB', '180 MB', '12 kB'."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            v = n / scale
            return f"{v:.0f} {unit}" if v >= 10 else f"{v:.1f} {unit}"
    return f"{n} B"
