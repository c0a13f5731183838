"""A restart reuses the last training's program when it is the same, trains exactly as a
fresh build does, and lets the previous program go when it is not the same."""

from __future__ import annotations

import gc
import weakref

from rnntui import engine as engines
from rnntui.config import preset
from rnntui.core.events import Finished

TINY = dict(size=20_000, val_size=2_000, batch_size=20, epochs=1, learning_rate=0.3)


def train(config) -> Finished:
    # Without XLA: the reuse is the subject, not the compiler (and it compiles in seconds).
    final = engines.train(config, chunk=10, jit=False)
    assert isinstance(final, Finished), final
    return final


class programs:
    """The engine's program cache, read and reset in the engine's thread."""

    @staticmethod
    def kept():
        return engines.get().programs.kept

    @staticmethod
    def forget():
        engine = engines.get()
        engine.call(engine.programs.forget)


def test_a_restart_reuses_the_program_and_trains_as_a_fresh_build():
    config = preset("r2rt").with_values(**TINY)
    programs.forget()
    fresh = train(config)
    first = programs.kept()
    assert first is not None
    again = train(config.with_values(learning_rate=0.05))  # only values differ: reused
    assert programs.kept() is first
    programs.forget()
    rebuilt = train(config.with_values(learning_rate=0.05))
    assert programs.kept() is not first
    assert again.val_loss == rebuilt.val_loss and again.train_loss == rebuilt.train_loss
    assert again.val_loss != fresh.val_loss  # the learning rate did apply
    reused = train(config)  # back to the first config, on a program trained since
    assert (reused.val_loss, reused.train_loss) == (fresh.val_loss, fresh.train_loss)


def test_another_program_lets_the_previous_one_go():
    programs.forget()
    train(preset("r2rt").with_values(**TINY))
    model = weakref.ref(programs.kept().model)
    optimizer = weakref.ref(programs.kept().optimizer)
    train(preset("r2rt").with_values(state_size=3, **TINY))
    gc.collect()
    assert model() is None and optimizer() is None


def test_a_reused_program_keeps_its_insight_probe_and_its_effects_match_a_fresh_one():
    config = preset("r2rt").with_values(**TINY)
    programs.forget()
    first = train(config)
    probe = programs.kept().probe
    assert probe is not None
    other = config.with_values(rules=((3, 0.5), (8, -0.4)))  # the same lags: the same K
    again = train(other)
    assert programs.kept().probe is probe  # rebound, not traced again
    assert {"reach", "measure"} <= probe.cost.keys()  # so the restart needed no warm-up
    assert probe.deltas[8] == -0.4  # with the new run's truth
    programs.forget()
    rebuilt = train(other)
    assert programs.kept().probe is not probe
    assert again.lag_effects == rebuilt.lag_effects  # the same measurement either way
    assert first.lag_effects != again.lag_effects  # other data, other effects


def test_a_new_truncation_style_is_a_new_program_and_dropout_restarts_as_fresh():
    """The style changes the training program (its forward), so a kept windows program is
    never run for even; a reused dropout program draws its masks from the start again."""
    config = preset("r2rt").with_values(dropout=0.3, **TINY)
    programs.forget()
    fresh = train(config)
    first = programs.kept()
    train(config.with_values(truncation="even"))
    assert programs.kept() is not first
    programs.forget()
    train(config)
    kept = programs.kept()
    reused = train(config)
    assert programs.kept() is kept
    assert (reused.val_loss, reused.train_loss) == (fresh.val_loss, fresh.train_loss)


def test_an_xla_program_trains_its_first_chunks_on_the_graph_cut_at_one_step():
    """steps.first_steps: the plain graph trains a run's first steps while the helper
    compiles XLA's. Where the chunks fall (a resumed run's differ from the whole run's),
    and whether XLA's compile was done ahead or not, never moves the step where XLA takes
    over: the losses and the weights come out the same, bit for bit."""
    import numpy as np

    from rnntui.data.generator import generate, windows
    from rnntui.engine.executor import Executor
    from rnntui.engine.model import build_model, build_optimizer
    from rnntui.engine.steps import Steps, first_steps
    from rnntui.engine.tfload import quiet_tensorflow

    config = preset("r2rt").with_values(**TINY)
    tf = quiet_tensorflow(config)
    n = config.train.num_steps
    x, y = generate(20 * n * 24, 0)
    xw, yw = windows(x, 20, n), windows(y, 20, n)
    k = 12
    assert first_steps(k) == 3

    def run(cuts, helper):
        model = build_model(config, seed=1)
        steps = Steps(tf, model, build_optimizer(config), config, k, jit=True)
        steps.compile(helper)
        state, losses = steps.zero_state(), []
        for a, b in zip(cuts, cuts[1:], strict=False):
            chunk, _, state = steps.train(xw[a:b], yw[a:b], state, at=a)
            losses.append(chunk)
        # One trace each: the graph's for the first steps, XLA's for the rest.
        assert steps._graph.experimental_get_tracing_count() == 1
        assert steps._train.experimental_get_tracing_count() == 1
        return np.concatenate(losses), model.get_weights()

    helper = Executor()
    try:
        beside = run([0, 3, 12, 24], helper)  # XLA compiled in the helper
    finally:
        helper.close()
    here = run([0, 2, 7, 19, 24], None)  # compiled by the second call; other chunks
    np.testing.assert_array_equal(beside[0], here[0])
    for a, b in zip(beside[1], here[1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_fresh_xla_programs_compile_goes_where_the_helper_is_free(helper_jobs):
    """shadow.compile_program: beside a fresh training program the helper compiles the
    evaluation, so XLA's compile is made by the run's second call in the trainer's thread
    (sent to the helper, it queued behind the evaluation's); a deterministic run compiles
    nothing beside its program, and the helper makes XLA's."""
    from rnntui.core.control import Control
    from rnntui.core.events import Progress

    engine = engines.get()
    long = dict(size=2_000_000, val_size=2_000, batch_size=20, epochs=1000)
    for deterministic in (False, True):
        engine.ask(engine.programs.forget)
        helper_jobs.clear()
        control, seen = Control(), []

        def on(event, control=control, seen=seen):
            if isinstance(event, Progress):
                seen.append(event)
                if len(seen) == 2:  # the first call's, on the graph; the second's, on XLA
                    control.stop()

        config = preset("r2rt").with_values(state_size=14, deterministic=deterministic,
                                            **long)
        final = engines.train(config, on, control=control)
        assert isinstance(final, Finished) and len(seen) >= 2
        steps = engine.programs.kept.steps
        assert steps.jit and steps._graph is not None  # the two tiers
        assert ("compile" in helper_jobs) is deterministic, helper_jobs
