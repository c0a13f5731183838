"""Truncation styles as numbers: a training window's stride, how many windows a row
holds, the positions trained, and the style as the status says it (fields.TrainConfig's
`truncation` and `stride`)."""

from __future__ import annotations

from .fields import TrainConfig


def effective_stride(t: TrainConfig) -> int:
    """Positions a training window advances by, and takes its loss on (its last ones):
    `stride` when set, else num_steps for windows and 1 for even."""
    if t.stride:
        return t.stride
    return t.num_steps if t.truncation == "windows" else 1


def style_name(num_steps: int, stride: int) -> tuple[str, str]:
    """(the style's name, how far back its trained errors reach): ("windows", "1-10"),
    ("even", "10"), ("TBPTT(3, 10)", "8-10")."""
    n = num_steps
    if stride == n:
        return "windows", f"1-{n}"
    if stride == 1:
        return "even", f"{n}"
    return f"TBPTT({stride}, {n})", f"{n - stride + 1}-{n}"


def truncation_text(t: TrainConfig) -> str:
    """The truncation style and its cost, as the status and the run's output say it; ""
    for the seed's windows (stride num_steps)."""
    n, stride = t.num_steps, effective_stride(t)
    if stride == n:
        return ""
    name, back = style_name(n, stride)
    return f"{name}: every error back {back} steps, {n / stride:.3g}x the work a position"


def positions_trained(t: TrainConfig, steps: int) -> int:
    """Series positions whose loss was trained on after `steps` batches: what two
    truncation styles compare at (a batch of even trains batch_size positions)."""
    return steps * t.batch_size * effective_stride(t)


def windows_per_row(part: int, num_steps: int, stride: int) -> int:
    """Training windows in a row of `part` series steps: windows of num_steps, starting
    every `stride` steps (part // num_steps when stride is num_steps)."""
    if part < num_steps:
        return 0
    return (part - num_steps) // stride + 1
