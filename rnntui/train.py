"""The trainer: truncated backprop with an explicit carried state, K batches per call.

Why it is fast: one XLA-compiled tf.function runs a tf.while_loop over a chunk of K
batches, so Python and the dispatcher are paid once per chunk, not once per batch (plain
Keras `fit` pays them per batch). The chunk has one fixed shape, padded at the end of an
epoch, with the loop's trip count as an argument: XLA compiles once.

It knows nothing of who listens: events go to a callback, control comes from `Control`.
TensorFlow is imported in `Trainer.run`, not at module load, so the app can import this.
Its parts elsewhere: what it compiles for (runplan), the program it takes or builds
(programs), its running figures (trainrun), and the validation and measurements that run
beside it on a shadow model, landed as events (landing).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import programs, source
from .checkpoint import Checkpoint, Writer
from .combos import ComboTable
from .config import Config, ConfigError, validate
from .control import Control
from .data import EpochFeed
from .events import (
    Compiled,
    Diverged,
    Event,
    Finished,
    Insight,
    Progress,
    Started,
)
from .insight import Insights, Probe, lag_effects
from .landing import DIVERGED_LOSS, Landing
from .runplan import choose_chunk, jit_for, steps_per_epoch, validation_windows
from .trainrun import RunFigures, failed, first_line, read_lr

PREDICT_EVERY_S = 1.0  # predictions events, about once a second


class Trainer(Landing):
    """Runs one training for a validated config and reports it through `callback`.

    `run()` never raises for training problems: divergence ends with a Diverged event,
    any exception with a Failed event. It returns the final event.
    """

    def __init__(self, config: Config, callback: Callable[[Event], None] | None = None,
                 control: Control | None = None, chunk: int | None = None,
                 jit: bool | None = None,
                 checkpoint_path: str | Path | None = None, resume: Checkpoint | None = None,
                 strategy: tuple | None = None, insight: bool = True,
                 graph_first: bool = False):
        """`checkpoint_path`: where to save a checkpoint at every epoch end and on stop.
        `resume`: a checkpoint to continue from (its step, data position and state).
        `jit`: XLA allowed (None: when the run is long enough to pay for its compile,
        runplan.use_xla).
        `strategy`: distribute.make_strategy's result, made ahead (multiworker must be
        made before TensorFlow runs anything); by default the trainer makes it.
        `graph_first`: a program XLA must compile trains its first chunk on the plain graph
        meanwhile (Steps.compile): the app's first loss ~1 s sooner (the fast preset: 0.86
        against 1.8 s), at ~0.25 s more for the run (3.0 against 2.75 s), so the command
        line compiles first.
        `insight`: measure what the model learned (rnntui.insight) with the predictions
        and at epoch ends, and report the lag effects (off: no Insight events)."""
        self.config = validate(config)
        self.callback = callback or (lambda event: None)
        self.control = control or Control()
        self.chunk = chunk
        self.jit = jit
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        self.resume = resume
        self.strategy = strategy
        self.insight = insight
        self.graph_first = graph_first

    def emit(self, event: Event | None) -> Event | None:
        """Hand an event to the callback (None, a measurement not taken: nothing)."""
        if event is not None:
            self.callback(event)
        return event

    def run(self) -> Event:
        self._feed: EpochFeed | None = None
        self._program: programs.Program | None = None
        self._writer = Writer(self.checkpoint_path) if self.checkpoint_path else None
        try:
            event = self._run()
        except Exception as exc:  # reported, never raised: the app and the CLI show it
            return self.emit(failed(exc))
        finally:
            if self._feed is not None:
                self._feed.close()
            if self._writer is not None:
                self._writer.close()
        if self._program is not None:  # not after a failure: its state is unknown
            programs.keep(self._program)
        return event

    def _run(self) -> Event:
        from .tfload import claim_gpus, pick_device, quiet_tensorflow, set_determinism

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

    def _build(self, tf, strategy, k: int, kernel: str, mixed: bool):
        """(model, optimizer, steps, jit) for a kernel, restored from the resume checkpoint."""
        jit = jit_for(self.config, kernel, strategy is not None, self.jit)
        model, optimizer, steps, program = programs.take_or_build(
            tf, self.config, strategy, k, kernel, mixed, jit)
        self._program = program  # kept for the next training when this one ends (run())
        if self.resume is not None:
            self.resume.restore(self.checkpoint_path or Path("checkpoint"), model, optimizer)
        return model, optimizer, steps, jit

    def _probe(self, tf, model, vx, vy) -> Probe:
        """The insight probe: the reused program's own when it fits (tracing it again at a
        restart cost a short run ~30% of its time, bench/insight_cost.py), else a new one,
        kept with the program."""
        program = self._program
        kept = program.probe if program is not None else None
        if kept is not None and kept.rebind(self.config, vx, vy):
            return kept
        probe = Probe(tf, model, self.config, vx, vy)
        if program is not None:
            program.probe = probe
        return probe

    def _compile(self, tf, strategy, k, kernel, mixed, vxw, vyw, pxw, vx, vy):
        """_build, then compile; the insight probe is made (traced later, `_helpers`):
        (model, optimizer, steps, jit, whether cuDNN is fused in, insights)."""
        from .accel import graph_uses_cudnn

        model, optimizer, steps, jit = self._build(tf, strategy, k, kernel, mixed)
        # Not under multiworker: its workers hung (test_distribute) with the probe's programs
        # beside the collective ones.
        measure = (self.insight and self.config.train.strategy != "multiworker"
                   and not source.insight_off(self.config.data))
        # On the shadow model, where the trainer measures (Steps.on_shadow).
        probed = steps.shadow if steps.shadow is not None else model
        insights = Insights(self._probe(tf, probed, vx, vy) if measure else None)
        # The evaluation's compile and the probe's tracing start once the first chunk has
        # trained on the XLA program (Trainer._helpers); training does not wait for them.
        # A deterministic run compiles XLA first: the graph's chunk would differ from XLA's.
        steps.compile(vxw, vyw, *([pxw] if len(pxw) < len(vxw) else []),
                      graph_first=self.graph_first and not self.config.train.deterministic)
        return model, optimizer, steps, jit, graph_uses_cudnn(steps.traced()), insights

    def _run_on(self, tf, strategy, device_name: str, on_gpu: bool, notice: str) -> Event:
        """Setup, then one epoch after another, then the finish: each its own method."""
        r = self._setup(tf, strategy, device_name, on_gpu, notice)
        try:
            for epoch in range(r.first_epoch, self.config.train.epochs):
                ended = self._epoch(tf, r, epoch)
                if ended is not None:  # diverged
                    return ended
                if self.control.stopped:
                    break
            return self._finish(tf, r)
        finally:
            r.steps.close()

    def _setup(self, tf, strategy, device_name: str, on_gpu: bool, notice: str) -> RunFigures:
        """Everything before the first chunk: the series, the kernel, Started, the compiled
        programs (rebuilt with XLA if the cuDNN kernel fails its first call), Compiled."""
        from .accel import choose_kernel, choose_precision, cudnn_failed, describe
        from .tfload import threads_notice

        cfg, d, t = self.config, self.config.data, self.config.train
        fl = source.floors(d)  # analytic for the generator, empirical for a file
        vx, vy, vxw, vyw, pn = validation_windows(cfg)
        per_epoch = steps_per_epoch(cfg)
        k = self.chunk or choose_chunk(cfg, per_epoch)
        kernel, why_kernel = choose_kernel(cfg, on_gpu, distributed=strategy is not None)
        mixed, why_mixed = choose_precision(cfg, on_gpu)
        if strategy is not None:
            from .distribute import chunk_for

            k = chunk_for(k, per_epoch)
        notice = "; ".join(n for n in (notice, why_kernel, why_mixed,
                                       threads_notice(cfg, on_gpu)) if n)
        self.emit(Started(cfg, device_name, fl, source.window_floor(d, t.num_steps),
                          per_epoch, per_epoch * t.epochs, k, notice))

        pxw, pyw = vxw[:pn], vyw[:pn]
        t0, compiled_notice = time.perf_counter(), ""
        built = self._compile(tf, strategy, k, kernel, mixed, vxw, vyw, pxw, vx, vy)
        if built[4]:  # fused: the first real call of the cuDNN kernel (see accel.py)
            try:
                built[2].evaluate(pxw, pyw)
            except tf.errors.OpError as err:
                if not cudnn_failed(err):
                    raise
                kernel = "xla"
                compiled_notice = (f"cudnn: the cuDNN kernel failed on this GPU"
                                   f" ({first_line(err)}); rebuilt with XLA")
                built = self._compile(tf, strategy, k, kernel, mixed, vxw, vyw, pxw, vx, vy)
        model, optimizer, steps, jit, fused, insights = built
        self.emit(Compiled(time.perf_counter() - t0, describe(kernel, fused, jit, mixed), fused,
                           compiled_notice))
        off = source.insight_off(d) if self.insight else ""
        if off:  # said once, so the panels show why they stay empty
            self.emit(Insight(0, [], [], [], [], off=off))

        self._feed = EpochFeed(cfg, k)
        part = len(vx) // t.batch_size
        rules = () if d.data_file else d.rules  # a file has no rules: no combination table
        combos = ComboTable(vx, rules, d.base, vxw.shape, part, not d.data_file)
        pcombos = (ComboTable(vx, rules, d.base, pxw.shape, part, not d.data_file)
                   if pn < len(vxw) else combos)
        insights.begin()
        ckpt = self.resume
        return RunFigures(fl, model, optimizer, steps, fused, insights, self._feed, combos, pcombos,
                    vxw, vyw, pxw, pyw, per_epoch, lr=read_lr(optimizer),
                    step=ckpt.step if ckpt else 0,
                    first_epoch=ckpt.epoch if ckpt else 0,
                    first_batch=ckpt.batch if ckpt else 0,
                    epochs_done=ckpt.epoch if ckpt else 0)

    def _capture(self, r: RunFigures, epoch: int, batch: int, state) -> Checkpoint | None:
        """A checkpoint of now (None without a checkpoint path)."""
        if self._writer is None:
            return None
        return Checkpoint.capture(epoch, batch, r.step, r.model, r.optimizer,
                                  r.steps.export_state(state))

    def _save(self, r: RunFigures, epoch: int, batch: int, state) -> None:
        """Capture a checkpoint here; it is written and synced in the writer's thread while
        training goes on (the epoch ends of a short-epoch run were ~40% of its time)."""
        ckpt = self._capture(r, epoch, batch, state)
        if ckpt is not None:
            self._writer.put(ckpt)

    def _epoch(self, tf, r: RunFigures, epoch: int) -> Event | None:
        """One epoch (or what is left of it after a resume, or before a stop): its chunks,
        then its end (a checkpoint, its validation sent to the shadow: see `_send`).
        Returns Diverged, or None."""
        t = self.config.train
        b0 = r.first_batch if epoch == r.first_epoch else 0
        state = r.steps.zero_state()
        if b0 and self.resume is not None and self.resume.state:
            state = r.steps.import_state(self.resume.state)
        epoch_losses, done = [], b0
        for c0, xs, ys in r.feed.chunks(epoch, b0):
            if self.control.paused and r.out:  # shown before it parks
                ended = self._land(r)
                if ended is not None:
                    return ended
            self.control.wait_while_paused()
            if self.control.stopped:
                break
            lr = self.control.take_learning_rate()
            if lr is not None:
                r.optimizer.learning_rate = lr
                r.lr = read_lr(r.optimizer)
            t1 = time.perf_counter()
            losses, norm, state = self._train_chunk(tf, r, xs, ys, state)
            self._helpers(tf, r)
            r.step += len(losses)
            done = c0 + len(losses)
            epoch_losses.append(losses)
            bad = ~np.isfinite(losses) | (np.abs(losses) > DIVERGED_LOSS)
            if bad.any():
                return self.emit(Diverged(r.step - len(losses) + 1 + int(bad.argmax()),
                                          float(losses[bad][0])))
            now_rate = len(losses) / max(time.perf_counter() - t1, 1e-9)
            r.rate = now_rate if r.rate == 0 else 0.7 * r.rate + 0.3 * now_rate
            left = r.steps_per_epoch * t.epochs - r.step
            self.emit(Progress(r.step, epoch, losses.tolist(), norm, r.rate,
                               r.rate * t.batch_size, left / max(r.rate, 1e-9),
                               r.lr))
            ended = self._land(r, wait=False)
            if ended is not None:
                return ended
            if time.perf_counter() - r.last_pred >= PREDICT_EVERY_S:
                # A look mid-epoch runs on the shadow too (the first waits for the
                # evaluation's compile), one out at a time: the one before lands first.
                if r.looking():
                    ended = self._land(r, through_look=True)
                    if ended is not None:
                        return ended
                ended = self._send(r, r.pxw, r.pyw, r.pcombos, r.insights.tick_due())
                if ended is not None:
                    return ended
                r.last_pred = time.perf_counter()
        if epoch_losses:
            r.train_loss = float(np.mean(np.concatenate(epoch_losses)))
        if self.control.stopped and done < r.feed.batches:
            # A partial epoch: save where it stands, and report the validation loss the model
            # has now.
            ended = self._land(r)
            if ended is None:
                self._save(r, epoch, done, state)
                r.val_loss = r.steps.evaluate(r.vxw, r.vyw)[0]
            return ended
        # The epoch's end: its checkpoint and weights as they are now; the validation runs
        # beside the next epoch's chunks and lands (EpochEnd) when it is done (`_land`).
        ckpt = self._capture(r, epoch + 1, 0, r.steps.zero_state())
        last = epoch == t.epochs - 1
        self._helpers(tf, r, now=last)  # (its measurement waits for the probe)
        ended = self._send(r, r.vxw, r.vyw, r.combos,
                           r.insights.end_due(r.train_loss, last), epoch=epoch, ckpt=ckpt)
        r.last_pred = time.perf_counter()
        if ended is not None:
            return ended
        return self._land(r) if last else self._land(r, wait=False)

    def _helpers(self, tf, r: RunFigures, now: bool = False) -> None:
        """Once, after the first chunk on the XLA program (the first loss waits for nothing
        else, and XLA compiling beside the graph is not held back), or `now`, before the
        run's last measurement: the evaluation's compile and the insight probe's tracing
        start, in threads below the training's priority."""
        if not r.helped and (now or not r.steps.on_graph()):
            r.helped = True
            r.steps.compile_evaluation()
            r.insights.prepare(tf)

    def _train_chunk(self, tf, r: RunFigures, xs, ys, state):
        """One compiled call; a cuDNN kernel failing at run time is one line on `cudnn`."""
        from .accel import cudnn_failed

        try:
            return r.steps.train(xs, ys, state)
        except tf.errors.OpError as err:
            if r.fused and cudnn_failed(err):
                raise ConfigError("cudnn", f"the cuDNN kernel failed at run time"
                                  f" ({first_line(err)}); rerun with --cudnn off") from err
            raise

    def _finish(self, tf, r: RunFigures) -> Event:
        """The Finished event: the last validation loss, the verdict and the lag effects."""
        self._helpers(tf, r, now=True)
        ended = self._land(r)
        if ended is not None:
            return ended
        if math.isnan(r.val_loss):  # stopped before the first epoch ended, or nothing left
            r.val_loss = r.steps.evaluate(r.vxw, r.vyw)[0]
        wall = time.perf_counter() - r.start
        trained = r.step - (self.resume.step if self.resume else 0)
        effects = (r.steps.on_shadow(r.model.get_weights(), r.insights.final, r.step).result()
                   if math.isfinite(r.val_loss) else None)
        if self._writer is not None:
            self._writer.flush()  # "finished" means its checkpoint is on disk
        return self.emit(Finished(
            r.step, r.epochs_done, r.train_loss, r.val_loss,
            source.verdict(r.val_loss, self.config.data, r.floors, effects), r.floors,
            trained / max(wall, 1e-9), wall, stopped=self.control.stopped,
            lag_effects=lag_effects(effects)))
