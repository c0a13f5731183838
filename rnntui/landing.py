"""The trainer's shadow jobs (Steps.on_shadow): sent with the weights of their step, and
landed in the order they went, as events: an epoch end's EpochEnd, checkpoint, Predictions
and Insight; a look mid-epoch's Predictions and Insight (rnntui.train)."""

from __future__ import annotations

import math

from . import source
from .checkpoint import Checkpoint
from .combos import ComboTable
from .events import Diverged, EpochEnd, Event
from .insight import lag_effects
from .trainrun import Pending, RunFigures

# A loss this large (nats) is divergence even while finite: the model gives the true class a
# probability below e^-50. A huge learning rate grows the loss to ~1e6 without any NaN.
DIVERGED_LOSS = 50.0
# Shadow jobs out at once, and what they may hold (weights and checkpoints), before an
# epoch end waits for the oldest: the first validations wait for the evaluation's compile
# (~1 s), which 0.1-s epochs must not (bench/between_chunks.py).
MAX_OUT, MAX_OUT_BYTES = 16, 256 << 20


class Landing:
    """The Trainer's half that sends shadow jobs and lands their events; it needs the
    trainer's `config`, `emit` and checkpoint `_writer`."""

    def _send(self, r: RunFigures, xs, ys, combos: ComboTable, measure: bool,
              epoch: int | None = None, ckpt: Checkpoint | None = None) -> Event | None:
        """A shadow job (Steps.on_shadow) on the weights of now: the evaluation over these
        windows, its Predictions, and an Insight if `measure`. It lands (`_land`) in the
        order it went; past MAX_OUT jobs or MAX_OUT_BYTES held, the oldest is waited for
        here. Returns Diverged (an epoch end landed here diverged), or None."""
        step = r.step
        weights = ckpt.weights if ckpt is not None else r.model.get_weights()

        def job():
            loss, probs = r.steps.shadow_evaluate(xs, ys)
            seen = r.insights.take(step, combos.window) if measure else None
            return loss, combos.event(step, probs, ys), seen

        held = sum(w.nbytes for w in weights) + (
            sum(a.nbytes for a in ckpt.optimizer) if ckpt is not None else 0)
        r.out.append(Pending(step, r.steps.on_shadow(weights, job), held, epoch, r.train_loss,
                             ckpt))
        while len(r.out) > MAX_OUT or sum(p.nbytes for p in r.out) > MAX_OUT_BYTES:
            ended = self._land_one(r)
            if ended is not None:
                return ended
        return None

    def _land(self, r: RunFigures, wait: bool = True, through_look: bool = False):
        """Emit the events of the shadow jobs out, oldest first: all of them (waiting), only
        those done (`wait` False), or those up to the last look mid-epoch (`through_look`).
        Returns Diverged, or None."""
        while r.out and (wait or r.out[0].future.done()):
            if through_look and not r.looking():
                break
            ended = self._land_one(r)
            if ended is not None:
                return ended
        return None

    def _land_one(self, r: RunFigures) -> Event | None:
        """The oldest job out, once done (waiting for it). An epoch end's: EpochEnd, then its
        checkpoint, Predictions and Insight; a look's: Predictions and Insight. Returns
        Diverged, or None."""
        p = r.out.popleft()
        loss, predictions, seen = p.future.result()
        if p.epoch is not None:
            r.val_loss = loss
            r.epochs_done += 1
            effects = seen.effects if seen else None
            v = source.verdict(loss, self.config.data, r.floors, effects)
            self.emit(EpochEnd(p.epoch, p.step, p.train_loss, loss, v, lag_effects(effects)))
            if not math.isfinite(loss) or loss > DIVERGED_LOSS:
                r.out.clear()  # what comes after it is of a diverged model
                return self.emit(Diverged(p.step, loss))
            if p.checkpoint is not None:
                self._writer.put(p.checkpoint)
        self.emit(predictions)
        self.emit(seen)
        return None

