"""The callback that keeps the run folder current while the Trainer trains: metrics.jsonl lines, status.json
with step, speed and ETA, and the stop file honoured between steps."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from studio.base import runfolder
from studio.base.process_rank import any_rank


def run_log_callback():
    """Defined lazily so importing studio.training.recipe stays cheap."""
    from transformers import TrainerCallback

    class RunLogCallback(TrainerCallback):
        """Writes metrics.jsonl lines and keeps status.json current; honours the stop file.

        With several processes only the writer (global rank 0) writes and reads the stop file;
        its decision to stop reaches every rank at the same step.
        """

        def __init__(self, run_dir: Path, batch_per_step: int, writer: bool = True, kept: tuple[str, ...] = ()):
            self.run_dir = Path(run_dir)
            self.kept = kept
            self.writer = runfolder.MetricsWriter(run_dir)
            self.writes = writer
            self.batch_per_step = batch_per_step
            self.stopped = False
            self._t0 = None
            self._step0 = 0
            self._last_status = 0.0

        def _speed(self, state):
            if self._t0 is None:
                return None, None
            done = state.global_step - self._step0
            el = time.time() - self._t0
            if done <= 0 or el <= 0:
                return None, None
            sps = done / el
            eta = (state.max_steps - state.global_step) / sps if state.max_steps else None
            return sps * self.batch_per_step, eta

        def on_train_begin(self, args, state, control, **kw):
            self._t0 = time.time()
            self._step0 = state.global_step
            self._status(state, force=True)

        def _status(self, state, force=False, **extra):
            if not self.writes:
                return
            now = time.time()
            if not force and now - self._last_status < 1.0:
                return
            self._last_status = now
            sps, eta = self._speed(state)
            runfolder.write_status(self.run_dir, "stopping" if self.stopped else "running", if_active=True,
                                step=state.global_step, max_steps=state.max_steps,
                                epoch=round(state.epoch or 0.0, 4), samples_per_second=sps, eta_seconds=eta, **extra)

        def on_step_end(self, args, state, control, **kw):
            if not self.stopped and any_rank(self.writes and runfolder.stop_requested(self.run_dir), args.device):
                self.stopped = True
                control.should_save = True
                control.should_training_stop = True
            self._status(state)

        def on_log(self, args, state, control, logs=None, **kw):
            if not self.writes:
                return
            self.writer.append(metrics_record(dict(logs or {}), state, *self._speed(state), kept=self.kept))
            self._status(state, force=True)

    return RunLogCallback


def metrics_record(logs: dict[str, Any], state, sps: float | None, eta: float | None, kept: tuple[str, ...] = (),
                   ) -> dict[str, Any]:
    """One metrics.jsonl line from the Trainer's logs: an evaluation, the run's summary or a training step (its
    loss, learning rate and gradient norm, and the `kept` metrics a task's trainer measures while it trains, such
    as the rewards of reinforcement learning)."""
    rec: dict[str, Any] = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 4)}
    if any(k.startswith("eval_") for k in logs):
        rec["kind"] = "eval"
        rec.update({k: v for k, v in logs.items()
                    if k.startswith("eval_")
                    and not k.endswith(("_runtime", "_samples_per_second", "_steps_per_second"))})
    elif "train_runtime" in logs:
        rec["kind"] = "summary"
        rec.update({k: logs[k] for k in ("train_runtime", "train_samples_per_second", "train_loss") if k in logs})
    else:
        rec["kind"] = "train"
        rec.update({k: logs[k] for k in ("loss", "learning_rate", "grad_norm", *kept) if k in logs})
        rec["samples_per_second"] = sps
        rec["eta_seconds"] = eta
    return rec
