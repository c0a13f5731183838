"""Build and compile a config's program before it is asked for: the app does it while it
is idle (after TensorFlow loads, and after the form settles), so F5 finds the program made
(rnntui.programs) and the first loss waits for no compile (bench/first_loss.py).

What is made is exactly what a training of the config would make first (Trainer._build):
the model, the optimizer, the compiled training and evaluation programs, at their initial
values; a training that takes it trains as a fresh build does (tests/test_warm.py).
One device only: a distributed training builds its own.
"""

from __future__ import annotations

from . import programs
from .config import Config, validate


def warm(config: Config) -> bool:
    """Make and keep the program of `config` (validated here: ConfigError if it is not
    valid). False when there is nothing to make ahead: a distribution strategy, or the
    program kept already is this one."""
    from .accel import choose_kernel, choose_precision
    from .runplan import choose_chunk, jit_for, steps_per_epoch, validation_windows
    from .tfload import claim_gpus, pick_device, quiet_tensorflow, set_determinism

    config = validate(config)
    t = config.train
    if t.strategy != "none":
        return False
    tf = quiet_tensorflow(config)
    claim_gpus(tf, config)
    set_determinism(tf, t.deterministic)  # as the training will: it shapes the graph
    device, _, _ = pick_device(tf, t.device)
    on_gpu = device.startswith("/GPU")
    with tf.device(device):
        k = choose_chunk(config, steps_per_epoch(config))
        kernel, _ = choose_kernel(config, on_gpu, distributed=False)
        mixed, _ = choose_precision(config, on_gpu)
        jit = jit_for(config, kernel, distributed=False)  # as Trainer._build decides
        key = programs.program_key(config, tf.constant(0).device, kernel, mixed, jit, k)
        now = programs.kept()
        if now is not None and now.key == key:
            return False
        done = programs.warming(key)
        try:
            _, _, steps, program = programs.take_or_build(tf, config, None, k, kernel, mixed,
                                                          jit)
            _, _, vxw, vyw, pn = validation_windows(config)
            # Graph first (Steps.compile): a training that takes it before XLA is compiled
            # trains its first chunk on the graph rather than wait for XLA.
            steps.compile(vxw, vyw, *([vxw[:pn]] if pn < len(vxw) else []),
                          graph_first=not t.deterministic)
            programs.keep(program)
        finally:
            programs.warmed(key, done)  # a training waiting for it takes it now
        # The evaluation next, here (its own thread; no pool thread left behind, which a
        # quitting app would wait for): a training that took the program meanwhile finds it
        # compiled or waits on the same compile. (The insight probe is left to the
        # training, which traces it after its first chunk.)
        steps.compile_evaluation(here=True)
    return True
