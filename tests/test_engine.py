"""The engine's ordering, made to race on purpose: each test holds one side with an Event,
never a sleep, so it holds on any machine.

- a restart waits for the old training to let go of its program, and takes it; a training
  stopped while still queued (a restart, then a quit) is dropped: it never runs (the app's
  restart then quit, no second run folder: tests/test_threads.py);
- a warm never overlaps a training: a newer warm replaces a queued one and stops a running
  one, and the program kept is the newest form's; a training of the config a running warm
  makes lets it finish and takes its program;
- the probe of a reused program is rebound only once the old run's jobs have ended;
- a divergence cancels the run's queued jobs (its end does not wait for them);
- TensorFlow's process-wide switch (op determinism) is set by the engine thread alone;
- a helper job that waits for the engine is refused, and a bounded wait that runs out says
  what it waited for.
"""

from __future__ import annotations

import threading

from rnntui import engine as engines
from rnntui.config import preset
from rnntui.core.control import Control
from rnntui.core.events import Compiled, Diverged, Finished, Progress
from rnntui.engine import programs as programs_module
from rnntui.engine.executor import UI, Executor, WaitTimeout
from rnntui.engine.trainer import Trainer
from rnntui.engine.warm import warm
from rnntui.insight import schedule

# Plain graph (jit off): the ordering is the subject, not the compiler.
TINY = dict(size=20_000, val_size=2_000, batch_size=20, epochs=1, learning_rate=0.3)
LONG = dict(size=2_000_000, val_size=2_000, batch_size=20, epochs=1000)
WAIT = 120  # seconds a held side may take on a loaded machine: a bound, not a speed claim


def warm_ahead(engine, config):
    """The app's warm (tui.jobs.Jobs.warm): a command its caller submits."""
    return engine.submit("warm", warm, engine, config)


def held_build(monkeypatch, state_size):
    """The build of programs of `state_size` waits for `release`: (entered, release)."""
    entered, release = threading.Event(), threading.Event()
    real = programs_module.ProgramCache.take_or_build

    def held(self, tf, config, *args):
        if config.model.state_size == state_size:
            entered.set()
            assert release.wait(WAIT)
        return real(self, tf, config, *args)

    monkeypatch.setattr(programs_module.ProgramCache, "take_or_build", held)
    return entered, release


def warm_held(monkeypatch, engine, config):
    """A warm of `config` (submitted as the app's, `makes=config`), held in its build:
    (its future, release), once it is there."""
    engine.ask(engine.programs.forget)
    entered, release = held_build(monkeypatch, config.model.state_size)
    running = engine.submit("warm", warm, engine, config, makes=config)
    assert entered.wait(WAIT)
    return running, release


def held_training(engine, config, **kwargs):
    """A training whose first Progress waits for `release`: (future, entered, release)."""
    entered, release = threading.Event(), threading.Event()
    events = []

    def on(event):
        events.append(event)
        if isinstance(event, Progress) and not entered.is_set():
            entered.set()
            assert release.wait(WAIT)

    trainer = Trainer(config, engine, on, jit=False, chunk=10, **kwargs)
    return engine.submit("train", trainer.run), entered, release, events


def test_a_restart_waits_for_the_old_training_and_takes_its_program():
    engine = engines.get()
    engine.ask(engine.programs.forget)
    config = preset("r2rt").with_values(**LONG)
    old_control = Control()
    old, entered, release, _ = held_training(engine, config, control=old_control)
    assert entered.wait(WAIT)  # the old training holds its program, mid-epoch
    built = engine.programs.built
    old_control.stop()  # F5 while it runs: stop, then the new training
    new_events: list = []
    new = engine.submit("train", Trainer(config.with_values(epochs=1, size=20_000), engine,
                                         new_events.append, jit=False, chunk=10).run)
    assert not new.running() and not new.done()  # queued behind the old one
    release.set()
    assert isinstance(old.result(WAIT), Finished) and old.result().stopped
    assert isinstance(new.result(WAIT), Finished)
    assert engine.programs.built == built  # nothing compiled twice
    assert next(e for e in new_events if isinstance(e, Compiled)).reused


def test_a_newer_warm_replaces_a_queued_one_and_stops_a_running_one(monkeypatch):
    engine = engines.get()
    engine.ask(engine.programs.forget)
    base = preset("r2rt").with_values(**TINY)
    a, b, c = (base.with_values(state_size=n) for n in (3, 5, 6))
    entered, release = held_build(monkeypatch, 3)  # the warm of A builds until released
    built = engine.programs.built
    first = warm_ahead(engine, a)
    assert entered.wait(WAIT)  # A is being made: edits come meanwhile
    second, third = warm_ahead(engine, b), warm_ahead(engine, c)
    assert second.cancelled()  # replaced by C while queued: never built
    release.set()
    assert first.result(WAIT) is False  # told to stop after its build: not compiled, not kept
    assert third.result(WAIT) is True
    assert engine.programs.built == built + 2  # A (let go), then C
    kept = engine.programs.kept
    assert kept is not None and kept.key[0].state_size == 6  # C's, not A's
    ran = engines.train(c, jit=None)  # F5 on the form as it is: its program is ready
    assert isinstance(ran, Finished) and engine.programs.built == built + 2


def test_a_training_drops_the_warms_queued_and_stops_the_one_running(monkeypatch):
    engine = engines.get()
    base = preset("r2rt").with_values(**TINY)
    entered, release = held_build(monkeypatch, 7)
    kept = engine.ask(lambda: engine.programs.kept)
    running = warm_ahead(engine, base.with_values(state_size=7))
    assert entered.wait(WAIT)
    queued = warm_ahead(engine, base.with_values(state_size=9))
    train = engine.submit("train", lambda: engine.programs.kept)
    assert queued.cancelled() and not train.done()
    release.set()
    assert running.result(WAIT) is False
    assert train.result(WAIT) is kept  # the warm kept nothing over what the training takes


def test_a_training_of_the_config_a_warm_makes_lets_it_finish_and_takes_its_program(
        monkeypatch):
    """F5 the instant the app shows idle: the warm of the form's config is running, and the
    training of that very config waits for it instead of building it again."""
    engine = engines.get()
    config = preset("r2rt").with_values(state_size=11, **TINY)
    running, release = warm_held(monkeypatch, engine, config)
    built = engine.programs.built
    events: list = []
    train = engine.submit("train", Trainer(config, engine, events.append, jit=False).run,
                          makes=config)
    release.set()
    assert running.result(WAIT) is True  # not told to stop: made and kept
    assert isinstance(train.result(WAIT), Finished)
    assert engine.programs.built == built + 1  # the warm's build, and no other
    assert next(e for e in events if isinstance(e, Compiled)).reused


def test_a_warm_a_training_waits_for_leaves_its_compiles_to_that_training(monkeypatch,
                                                                         helper_jobs):
    """F5 while the warm makes the program of an XLA config: the warm sends neither XLA's
    compile nor the evaluation's to the helper (they would share the GIL with the
    training's setup and first call); the training, which takes the program, makes them
    after its first call."""
    engine = engines.get()
    config = preset("r2rt").with_values(state_size=12, **LONG)
    running, release = warm_held(monkeypatch, engine, config)
    control, events = Control(), []

    def on(event):
        events.append(event)
        if isinstance(event, Progress):
            control.stop()

    train = engine.submit_training("train", control, Trainer(config, engine, on,
                                                             control=control).run,
                                   makes=config)
    assert engine.awaited  # the warm runs (held), the training queued takes its program
    release.set()
    assert running.result(WAIT) is True
    assert isinstance(train.result(WAIT), Finished)
    assert next(e for e in events if isinstance(e, Compiled)).reused
    assert "compile" not in helper_jobs and "warm" not in helper_jobs, helper_jobs
    assert engine.programs.kept.steps.jit  # an XLA program, whose warm it was


def test_a_training_stopped_while_queued_is_dropped():
    engine = engines.get()
    hold, ran = threading.Event(), []
    blocker = engine.submit("call", hold.wait, WAIT)  # the old training, winding down
    control = Control()
    queued = engine.submit_training("train", control, ran.append, "trained")
    control.stop()  # a quit (or F8) while the restart's training waits
    hold.set()
    assert blocker.result(WAIT) is True
    assert engine.wait_idle(WAIT) and queued.cancelled() and ran == []


def test_the_probe_is_rebound_only_once_the_old_runs_jobs_have_ended(monkeypatch):
    """Run 1's last measurement is held in the helper; run 2 (the same program, so the same
    probe) must not rebind it until that job is over."""
    engine = engines.get()
    engine.ask(engine.programs.forget)
    config = preset("r2rt").with_values(**TINY)
    measuring, release = threading.Event(), threading.Event()
    seen = {"in_job": False, "rebound_in_job": None}
    real_final, real_rebind = schedule.Insights.final, None

    def held_final(self, step):
        seen["in_job"] = True
        measuring.set()
        assert release.wait(WAIT)
        try:
            return real_final(self, step)
        finally:
            seen["in_job"] = False

    monkeypatch.setattr(schedule.Insights, "final", held_final)
    first = engine.submit("train", Trainer(config, engine, jit=False, chunk=10).run)
    assert measuring.wait(WAIT)  # run 1's final measurement is out, in the helper
    from rnntui.insight import probe as probe_module

    real_rebind = probe_module.Probe.rebind

    def rebind(self, *args):
        seen["rebound_in_job"] = seen["in_job"]
        return real_rebind(self, *args)

    monkeypatch.setattr(probe_module.Probe, "rebind", rebind)
    monkeypatch.setattr(schedule.Insights, "final", real_final)
    second = engine.submit("train", Trainer(config, engine, jit=False, chunk=10).run)
    assert not second.running()  # run 1 has not let go yet
    release.set()
    assert isinstance(first.result(WAIT), Finished)
    assert isinstance(second.result(WAIT), Finished)
    assert seen["rebound_in_job"] is False


def test_a_divergence_cancels_the_runs_queued_jobs():
    """The helper is held by another job, so the run's validations queue; the run diverges
    and ends at once: its queued jobs were cancelled, not waited for."""
    engine = engines.get()
    hold = threading.Event()
    blocker = engine.executor.submit(hold.wait, 4 * WAIT, run="held", priority=UI)
    config = preset("r2rt").with_values(size=40_000, val_size=2_000, batch_size=20,
                                        epochs=50, learning_rate=1e6, optimizer="sgd")
    run = engine.submit("train", Trainer(config, engine, jit=False, chunk=100).run)
    try:  # (had it waited for its queued jobs, it would wait for the held helper)
        assert isinstance(run.result(WAIT), Diverged)
    finally:
        hold.set()
    assert blocker.result(WAIT) is True


def test_an_executor_runs_by_priority_then_order_and_cancels_a_runs_jobs():
    executor = Executor()
    hold, done = threading.Event(), []
    executor.submit(hold.wait, WAIT, run="x")
    jobs = [executor.submit(done.append, name, run=run, priority=p)
            for name, run, p in (("later", "a", 2), ("run", "a", 1), ("cancelled", "b", 1),
                                 ("ui", "a", 0))]
    assert executor.cancel("b") == 1 and jobs[2].cancelled()
    hold.set()
    assert executor.drain("a", WAIT)
    assert done == ["ui", "run", "later"]
    executor.close(WAIT)


def test_op_determinism_is_set_by_the_engine_thread_alone(monkeypatch):
    from rnntui.engine import tfload

    callers = []
    real = tfload.set_determinism
    monkeypatch.setattr(tfload, "set_determinism",
                        lambda tf, on: (callers.append(threading.current_thread().name),
                                        real(tf, on))[1])
    config = preset("r2rt").with_values(deterministic=True, **TINY)
    engine = engines.get()
    warm_ahead(engine, config).result(WAIT)
    engines.train(config.with_values(deterministic=False), jit=False)
    assert callers and set(callers) == {"rnntui-engine"}


def test_a_helper_job_that_waits_for_the_engine_is_refused():
    engine = engines.get()
    for wait in (engine.call, engine.ask):  # the engine may be waiting for that very job
        asked = engine.executor.submit(wait, threading.get_ident, run="ui", priority=UI)
        try:
            asked.result(WAIT)
        except RuntimeError as err:
            assert "rnntui-helper" in str(err) and "never answer" in str(err)
        else:
            raise AssertionError(f"{wait.__name__} from the helper was not refused")
    drained = engine.executor.submit(engine.executor.drain, "x", run="ui", priority=UI)
    assert isinstance(drained.exception(WAIT), RuntimeError)
    assert engine.call(engine.call, lambda: 7) == 7  # from the engine's own job: inline


def test_a_bounded_wait_that_runs_out_names_what_it_waited_for(caplog):
    engine = engines.get()
    hold = threading.Event()
    blocker = engine.submit("call", hold.wait, WAIT)
    helper = Executor(name="rnntui-test-helper")
    held = helper.submit(hold.wait, WAIT, run="held")
    ran = []
    try:
        try:
            engine.ask(ran.append, 1, timeout=0.05)
        except WaitTimeout as err:  # queued behind the held command: cancelled, never run
            assert str(err) == ("waited 0.05 s for list.append in rnntui-engine: not started,"
                                " so cancelled; rnntui-engine is running call (Event.wait)")
        else:
            raise AssertionError("the ask did not run out")
        assert not helper.drain("held", 0.05)
        assert ("waited 0.05 s for the helper's jobs of run 'held': the helper still running"
                " Event.wait") in caplog.text
        try:
            helper.close(0.05)
        except WaitTimeout as err:
            assert str(err) == ("waited 0.05 s for rnntui-test-helper to end: still running"
                                " Event.wait")
        else:
            raise AssertionError("the close did not run out")
    finally:
        hold.set()
    assert blocker.result(WAIT) is True and held.result(WAIT) is True and ran == []
    helper.close(WAIT)
