"""The trainer: truncated backprop with an explicit carried state, K batches per compiled call
(rnntui.engine.steps), the state carried from chunk to chunk and epoch to epoch.

It knows nothing of who listens: events go to a callback, control comes from `Control`.
It runs in the engine's thread (rnntui.engine.engine), which owns TensorFlow; the work
beside it (validation, measurements, compiles that can wait) goes to the engine's helper
as shadow jobs (rnntui.engine.shadow). Setup, one epoch, and the finish are its parts.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..config import Config, ConfigError, validate
from ..core.control import Control
from ..core.events import Compiled, Diverged, Event, Finished, Insight, Progress
from ..data import source
from ..data.feed import EpochFeed
from ..insight.combos import ComboTable
from ..insight.measures import by_lag, lag_effects
from ..insight.probe import Probe
from ..insight.schedule import Insights
from .checkpoint import Checkpoint
from .executor import LATER
from .plan import Plan, jit_for, plan_for, steps_per_epoch, validation_windows
from .saves import Saves
from .shadow import DIVERGED_LOSS, ShadowJobs, compile_program, on_shadow
from .steps import first_steps
from .training import Training, first_line, read_lr, started

if TYPE_CHECKING:
    from .engine import Engine

PREDICT_EVERY_S = 1.0  # a look mid-epoch (predictions, insight) about once a second
_RUN_IDS = itertools.count(1)  # tags each training's jobs in the helper


class Trainer:
    """Runs one training of a config and reports it through `callback`, in the engine's
    thread. `run()` never raises for training problems: divergence ends with a Diverged
    event, any exception with a Failed event. It returns the final event."""

    def __init__(self, config: Config, engine: Engine,
                 callback: Callable[[Event], None] | None = None,
                 control: Control | None = None, chunk: int | None = None,
                 jit: bool | None = None, checkpoint_path: str | Path | None = None,
                 resume: Checkpoint | None = None, strategy: tuple | None = None,
                 insight: bool = True, owed: tuple[int, float] | None = None):
        """`checkpoint_path`: where to save a checkpoint at every epoch end and on stop.
        `resume`: a checkpoint to continue from (its step, data position and state).
        `owed`: (epoch, its training loss) of the epoch end `resume` was saved at, whose
        validation the run folder never got (a killed trainer): validated first.
        `jit`: XLA allowed (None: when the run is long enough to pay for its compile,
        plan.use_xla).
        `strategy`: distribute.make_strategy's result, made ahead (multiworker must be
        made before TensorFlow runs anything); by default the trainer makes it.
        `insight`: measure what the model learned (rnntui.insight) with the predictions
        and at epoch ends, and report the lag effects (off: no Insight events)."""
        self.config = validate(config)  # (its data file is read when the run starts)
        self.engine = engine
        self.callback = callback or (lambda event: None)
        self.control = control or Control()
        self.chunk, self.jit = chunk, jit
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        self.resume, self.owed = resume, owed
        self.strategy = strategy
        self.insight = insight
        self.run_id = next(_RUN_IDS)
        self._saves: Saves | None = None  # the run's checkpoints, made when it runs

    def emit(self, event: Event | None) -> Event | None:
        """Hand an event to the callback (None, a measurement not taken: nothing). A run
        that ends diverged or failed first waits for its checkpoints (engine.saves)."""
        if event is None:
            return None
        if event.kind in ("diverged", "failed") and self._saves is not None:
            event = self._saves.ending(event)
        self.callback(event)
        return event

    def run(self) -> Event:
        self.engine.check_thread()
        self._feed: EpochFeed | None = None
        self._program = None
        self._beside: tuple | None = None  # what compile_beside compiles in the helper
        self._saves = Saves(self.checkpoint_path, self.control)
        try:
            event = self._run()
        except Exception as exc:  # reported, never raised: the app and the CLI show it
            return self.emit(self._saves.failure(exc))
        finally:
            self._let_go()
        if self._program is not None:  # not after a failure: its state is unknown
            self.engine.programs.keep(self._program)
        return event

    def _let_go(self) -> None:
        """Whatever happened: no job of this run is left in the helper (the next training
        may rebind its probe), the data thread ends, and every checkpoint is on disk."""
        executor = self.engine.executor
        executor.cancel(self.run_id)
        if not executor.drain(self.run_id):  # a job still holds the shadow: not reusable
            self._program = None
        if self._feed is not None:
            self._feed.close()
        self._saves.close()

    def _run(self) -> Event:
        from .tfload import claim_gpus, pick_device, quiet_tensorflow, set_determinism

        self.config = source.resolve(self.config)
        tf = quiet_tensorflow(self.config)
        t = self.config.train
        set_determinism(tf, t.deterministic)
        if self.strategy is None:  # (one made ahead has claimed its GPUs already)
            claim_gpus(tf, self.config)
        if t.strategy == "none":
            device, name, notice = pick_device(tf, t.device)
            with tf.device(device):
                return self._run_on(tf, None, name, device.startswith("/GPU"), notice)
        from .distribute import make_strategy

        strategy, name, on_gpu, notice = self.strategy or make_strategy(tf, self.config)
        with strategy.scope():
            return self._run_on(tf, strategy, name, on_gpu, notice)

    def _run_on(self, tf, strategy, device_name: str, on_gpu: bool, notice: str) -> Event:
        """Setup, then one epoch after another, then the finish."""
        r = self._setup(tf, strategy, device_name, on_gpu, notice)
        for epoch in range(r.first_epoch, self.config.train.epochs):
            ended = self._epoch(tf, r, epoch)
            if ended is not None:  # diverged
                return ended
            if self.control.stopped:  # (the epoch's end was its checkpoint)
                self._saves.stop_saved()
                break
        return self._finish(r)

    # ---- setup ----------------------------------------------------------------------

    def _build(self, tf, strategy, k: int, kernel: str, mixed: bool):
        """(model, optimizer, steps, jit): the kept program or a new one, compiled, and
        restored from the resume checkpoint."""
        jit = jit_for(self.config, kernel, strategy is not None, self.jit)
        model, optimizer, steps, self._program = self.engine.programs.take_or_build(
            tf, self.config, strategy, k, kernel, mixed, jit)
        if self.resume is not None:
            self.resume.restore(self.checkpoint_path or Path("checkpoint"), model, optimizer)
        if compile_program(self.engine.executor, self.run_id, steps, self._beside,
                           self.config.train.deterministic):
            self._beside = None  # sent: the first chunk's _send_compiles leaves them out
        return model, optimizer, steps, jit

    def _compiled(self, tf, strategy, plan: Plan, xs, ys):
        """_build, then a fused cuDNN kernel's first real call (see accel.py), rebuilt with
        XLA if it fails: (model, optimizer, steps, the Compiled event)."""
        from .accel import cudnn_failed, describe, graph_uses_cudnn

        k, kernel, mixed = plan.chunk, plan.kernel, plan.mixed
        t0, notice, built = time.perf_counter(), "", self.engine.programs.built
        model, optimizer, steps, jit = self._build(tf, strategy, k, kernel, mixed)
        fused = graph_uses_cudnn(steps.traced())
        if fused:
            try:
                self._on_shadow(steps, model.get_weights(), steps.shadow_evaluate, xs, ys)
            except tf.errors.OpError as err:
                if not cudnn_failed(err):
                    raise
                kernel, fused = "xla", False
                notice = (f"cudnn: the cuDNN kernel failed on this GPU ({first_line(err)});"
                          " rebuilt with XLA")
                model, optimizer, steps, jit = self._build(tf, strategy, k, kernel, mixed)
        reused = self.engine.programs.built == built
        return model, optimizer, steps, Compiled(time.perf_counter() - t0,
                                                 describe(kernel, fused, jit, mixed), fused,
                                                 notice, reused)

    def _on_shadow(self, steps, weights, fn, *args):
        """fn(*args) on the shadow model with these weights, in the helper, waited for."""
        return on_shadow(self.engine.executor, self.run_id, steps, weights, fn, *args).result()

    def _insights(self, tf, steps, vx, vy) -> Insights:
        """What measures the model (on its shadow, where the helper measures): the reused
        program's probe when it fits (tracing it again at a restart cost a short run much
        of its time, bench/insight_cost.py), else a new one, kept with the program. None
        measured when insight is off, under multiworker (its workers hung with the probe's
        programs beside the collective ones), or for data that is not 0/1."""
        if (not self.insight or self.config.train.strategy == "multiworker"
                or source.insight_off(self.config.data)):
            return Insights(None)
        program = self._program
        kept = program.probe if program is not None else None
        if kept is not None and kept.rebind(self.config, vx, vy):
            return Insights(kept)
        probe = Probe(tf, steps.shadow if steps.shadow is not None else steps.model, self.config,
                      vx, vy)
        if program is not None:
            program.probe = probe
        return Insights(probe)

    def _setup(self, tf, strategy, device_name: str, on_gpu: bool, notice: str) -> Training:
        """Everything before the first chunk: Started, the compiled program, Compiled, the
        feed, the shadow jobs and what they read."""
        cfg, d = self.config, self.config.data
        vx, vy, vxw, vyw, looked = validation_windows(cfg)
        floors = (self.engine.executor.submit(source.realised_floors, cfg, vy, run=self.run_id)
                  if d.data_file else Future())
        plan = plan_for(cfg, on_gpu, strategy is not None, self.chunk)
        part = len(vx) // cfg.train.batch_size
        rules = () if d.data_file else d.rules  # a file has no rules: no combination table
        text = (not d.data_file, source.shows_text(d), source.samples(d))
        combos = ComboTable(vx, rules, d.base, vxw.shape, part, *text)
        look_combos = (ComboTable(vx, rules, d.base, vxw[:looked].shape, part, *text)
                       if looked < len(vxw) else combos)
        self._beside = (vxw, vxw[:looked], look_combos.prime if look_combos.sampled else None)
        ckpt = self.resume
        self._feed = EpochFeed(cfg, plan.chunk)
        self._feed.ahead(ckpt.epoch if ckpt else 0, ckpt.batch if ckpt else 0)
        model, optimizer, steps, compiled = self._compiled(tf, strategy, plan, vxw[:looked],
                                                           vyw[:looked])
        steps.eval_windows = looked  # parts of a look's windows from the first evaluation on
        # A file's floors (seconds): made in the helper during the compile, or here if not begun.
        fl = floors.result() if not floors.cancel() else source.realised_floors(cfg, vy)
        self.emit(started(cfg, plan, device_name, on_gpu, notice, fl))
        self.emit(compiled)
        off = source.insight_off(d) if self.insight else ""
        if off:  # said once, so the panels show why they stay empty
            self.emit(Insight(0, [], [], [], [], off=off))
        shadow = ShadowJobs(steps, self.engine.executor, self.run_id, self.emit,
                            lambda loss, seen: source.verdict(loss, cfg, fl, seen))
        insights = self._insights(tf, steps, vx, vy)
        insights.begin()
        shadow.epochs_done = ckpt.epoch if ckpt else 0
        if ckpt is not None and self.owed is not None:  # the checkpoint's own epoch end
            shadow.epochs_done = self.owed[0]
            shadow.send(model.get_weights(), ckpt.step, vxw, vyw, combos, None, *self.owed)
        return Training(fl, model, optimizer, steps, compiled.fused, insights, self._feed,
                        shadow, combos, look_combos, vxw, vyw, vxw[:looked], vyw[:looked],
                        steps_per_epoch(cfg), lr=read_lr(optimizer),
                        step=ckpt.step if ckpt else 0, first_epoch=ckpt.epoch if ckpt else 0,
                        first_batch=ckpt.batch if ckpt else 0,
                        waited_from=steps.compile_waited)

    # ---- an epoch ---------------------------------------------------------------------

    def _epoch(self, tf, r: Training, epoch: int) -> Event | None:
        """One epoch (or what is left of it after a resume, or before a stop): its chunks,
        then its end. Returns Diverged, or None."""
        b0 = r.first_batch if epoch == r.first_epoch else 0
        state = r.steps.zero_state()
        if b0 and self.resume is not None and self.resume.state:
            state = r.steps.import_state(self.resume.state)
        epoch_losses, done = [], b0
        first = first_steps(r.feed.chunk) if epoch == r.first_epoch else 0  # 1st loss sooner
        for c0, xs, ys in r.feed.chunks(epoch, b0, first):
            ended = self._pause_point(r)
            if ended is not None:
                return ended
            if self.control.stopped:
                break
            losses, state, ended = self._chunk(tf, r, epoch, xs, ys, state)
            if ended is not None:
                return ended
            epoch_losses.append(losses)
            done = c0 + len(losses)
        if epoch_losses:
            r.train_loss = float(np.mean(np.concatenate(epoch_losses)))
        if self.control.stopped and done < r.feed.batches:
            return self._stop_mid_epoch(r, epoch, done, state)
        return self._epoch_end(r, epoch)

    def _pause_point(self, r: Training) -> Event | None:
        """Between chunks: a pause parks here, after the jobs out have landed (what is on
        show is the model's as paused). Returns Diverged, or None."""
        if self.control.paused and r.shadow.out:
            ended = r.shadow.land()
            if ended is not None:
                return ended
        self.control.wait_while_paused()
        return None

    def _chunk(self, tf, r: Training, epoch: int, xs, ys, state):
        """One compiled call and its Progress; then the jobs done land, and a look goes out
        if one is due. Returns (its losses, the state, Diverged or None)."""
        t = self.config.train
        lr = self.control.take_learning_rate()
        if lr is not None:
            r.optimizer.learning_rate = lr
            r.lr = read_lr(r.optimizer)
        t1 = time.perf_counter()
        losses, norm, state = self._train_chunk(tf, r, xs, ys, state)
        self._send_compiles(r)
        r.step += len(losses)
        bad = ~np.isfinite(losses) | (np.abs(losses) > DIVERGED_LOSS)
        if bad.any():
            r.shadow.abandon()
            return losses, state, self.emit(Diverged(
                r.step - len(losses) + 1 + int(bad.argmax()), float(losses[bad][0])))
        now_rate = len(losses) / max(time.perf_counter() - t1, 1e-9)
        r.rate = now_rate if r.rate == 0 else 0.7 * r.rate + 0.3 * now_rate
        left = r.steps_per_epoch * t.epochs - r.step
        self.emit(Progress(r.step, epoch, losses.tolist(), norm, r.rate, r.rate * t.batch_size,
                           left / max(r.rate, 1e-9), r.lr))
        ended = r.shadow.land(wait=False)
        return losses, state, ended if ended is not None else self._look(r)

    def _look(self, r: Training) -> Event | None:
        """About once a second: a look at the model mid-epoch (predictions, and a
        measurement within the budget), one out at a time. Returns Diverged, or None."""
        if time.perf_counter() - r.last_look < r.shadow.look_every(PREDICT_EVERY_S):
            return None
        if r.shadow.look_out():
            ended = r.shadow.land(through_look=True)
            if ended is not None:
                return ended
        r.last_look = time.perf_counter()
        measure = r.insights.take if r.insights.tick_due() else None
        return r.shadow.send(r.model.get_weights(), r.step, r.look_xw, r.look_yw,
                             r.look_combos, measure)

    def _send_compiles(self, r: Training) -> None:
        """Once, after the first chunk (the first loss waits for nothing else): the
        evaluation's compile and the insight probe's tracing go to the helper, after the
        run's own jobs."""
        if r.compiles_sent:
            return
        r.compiles_sent = True
        if self._beside is not None:  # not compiled beside the training's (compile_beside)
            r.shadow.submit(None, r.steps.compile_evaluation, r.vxw, r.look_xw, priority=LATER)
        r.shadow.submit(None, r.insights.prepare, priority=LATER)

    def _train_chunk(self, tf, r: Training, xs, ys, state):
        """One compiled call; a cuDNN kernel failing at run time is one line on `cudnn`."""
        from .accel import cudnn_failed

        try:
            return r.steps.train(xs, ys, state, at=r.step)
        except tf.errors.OpError as err:
            if r.fused and cudnn_failed(err):
                raise ConfigError("cudnn", f"the cuDNN kernel failed at run time"
                                  f" ({first_line(err)}); rerun with --cudnn off") from err
            raise

    def _save(self, r: Training, epoch: int, batch: int, state) -> list[np.ndarray]:
        """A checkpoint of now (engine.saves); returns the weights it holds."""
        return self._saves.put(epoch, batch, r.step, r.model, r.optimizer,
                               r.steps.export_state(state))

    def _epoch_end(self, r: Training, epoch: int) -> Event | None:
        """An epoch's end: its checkpoint now, and its validation (and a measurement, within
        the budget; always at the last) to the helper, landed as EpochEnd when done."""
        last = epoch == self.config.train.epochs - 1
        weights = self._save(r, epoch + 1, 0, r.steps.zero_state())
        measure = r.insights.take if r.insights.end_due(r.train_loss, last) else None
        ended = r.shadow.send(weights, r.step, r.vxw, r.vyw, r.combos, measure, epoch,
                              r.train_loss)
        r.last_look = time.perf_counter()
        if ended is not None:
            return ended
        return r.shadow.land(wait=last)

    def _stop_mid_epoch(self, r: Training, epoch: int, done: int, state) -> Event | None:
        """A stop between chunks: the checkpoint of where it stands goes to the writer
        first (quitting waits for it); the looks not started are dropped; the epoch ends
        out land."""
        self._save(r, epoch, done, state)
        self._saves.stop_saved()
        r.shadow.drop_looks()
        r.stopped_mid_epoch = True
        return r.shadow.land()

    # ---- the finish -------------------------------------------------------------------

    def _finish(self, r: Training) -> Event:
        """The Finished event: the last validation loss, the verdict and the lag effects."""
        ended = r.shadow.land()
        if ended is not None:
            return ended
        weights = r.model.get_weights()
        val = r.shadow.val_loss
        if math.isnan(val) or r.stopped_mid_epoch:  # the model changed since its last
            val = self._on_shadow(r.steps, weights, r.steps.shadow_evaluate, r.vxw, r.vyw)[0]
        seen = (self._on_shadow(r.steps, weights, r.insights.final, r.step)
                if math.isfinite(val) else None)
        self._saves.flush()  # "finished" means its checkpoint is on disk
        wall = time.perf_counter() - r.start
        trained = r.step - (self.resume.step if self.resume else 0)
        return self.emit(Finished(
            r.step, r.shadow.epochs_done, r.train_loss, val,
            source.verdict(val, self.config, r.floors, seen), r.floors,
            r.training_rate(trained, wall), wall, stopped=self.control.stopped,
            lag_effects=lag_effects(seen.effects if seen else None),
            memory=by_lag(seen.memory if seen else None)))
