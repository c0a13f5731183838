"""Build and compile a config's program before it is asked for: the app asks while it is
idle (after TensorFlow loads, and after the form settles), so F5 finds the program made
and the first loss waits for no compile (bench/first_loss.py).

A command of the engine thread, submitted by its caller as a training is:

    engine.submit("warm", warm, engine, config)

so it never overlaps a training. A newer warm replaces one still queued, and a newer warm
or a training tells one running to stop (Engine.cancelled): it looks between its stages
(before the build, before the compile, before it keeps the program) and keeps nothing
then. What is made is exactly what a training of the config would make first
(Trainer._build): the model, the optimizer and the compiled training program at their
initial values, kept in the engine's program cache; the evaluation's compile goes to the
helper. A training that takes it trains as a fresh build does (tests/test_warm.py). One
device only: a distributed training builds its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config import Config
from ..data import source
from .executor import LATER

if TYPE_CHECKING:
    from .engine import Engine

WARM_RUN = "warm"  # the helper's tag for a warm's jobs


def warm(engine: Engine, config: Config) -> bool:
    """Make and keep the program of `config` (ConfigError if it is not valid). False when
    nothing was kept: a distribution strategy, the program kept already is this one, or
    the warm was told to stop (replaced) before it was done."""
    from .plan import jit_for, plan_for, validation_windows
    from .programs import program_key
    from .tfload import claim_gpus, pick_device, quiet_tensorflow, set_determinism

    engine.check_thread()
    config = source.resolve(config)
    t = config.train
    if t.strategy != "none":
        return False
    tf = quiet_tensorflow(config)
    claim_gpus(tf, config)
    set_determinism(tf, t.deterministic)  # as the training will: it shapes the graph
    device, _, _ = pick_device(tf, t.device)
    with tf.device(device):
        plan = plan_for(config, device.startswith("/GPU"), distributed=False)
        k, kernel, mixed = plan.chunk, plan.kernel, plan.mixed
        jit = jit_for(config, kernel, distributed=False)  # as Trainer._build decides
        key = program_key(config, tf.constant(0).device, kernel, mixed, jit, k)
        kept = engine.programs.kept
        if (kept is not None and kept.key == key) or engine.cancelled:
            return False
        # What a cancelled warm built is let go: kept, it would push out the program kept
        # now, which the training that replaced the warm may be about to take.
        _, _, steps, program = engine.programs.take_or_build(tf, config, None, k, kernel,
                                                             mixed, jit)
        if engine.cancelled:
            return False
        # XLA's compile (if any) goes to the helper, and the evaluation's after it; not
        # when F5 came meanwhile: the training that takes this program makes both after
        # its first call (XLA's in its second call, the evaluation's in the helper), so its
        # setup and that call have the GIL to themselves (F5 the instant the app shows
        # idle: bench/first_loss.py --after 0).
        steps.compile(None if engine.awaited else engine.executor)
        if engine.cancelled:
            return False
        engine.programs.keep(program)
        if engine.awaited:
            return True
        _, _, vxw, _, looked = validation_windows(config)
        steps.eval_windows = looked  # as a training of this config will (Trainer._setup)
        engine.executor.submit(steps.shadow_job, None, steps.compile_evaluation, vxw,
                               vxw[:looked], run=WARM_RUN, priority=LATER)
    return True
