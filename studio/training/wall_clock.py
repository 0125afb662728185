"""A run trains at most as long as its server allows (the policy's wall_minutes, recorded in its status when it was
created or resumed): past it, the run saves a checkpoint and stops, saying why. A resume queues it again at the back
of the queue, for another stretch within the same limit, so one person's long run cannot hold the device from
everyone else's."""

from __future__ import annotations

import time

from studio.base import runfolder
from studio.base.process_rank import any_rank


def wall_seconds(run_dir) -> float | None:
    minutes = (runfolder.read_status(run_dir).get("limits") or {}).get("wall_minutes")
    return float(minutes) * 60 if isinstance(minutes, (int, float)) and minutes > 0 else None


def callback(limit_s: float):
    from transformers import TrainerCallback

    class StopAtWallClock(TrainerCallback):
        def __init__(self):
            self.t0 = time.time()
            self.stopped_at: int | None = None

        def on_train_begin(self, args, state, control, **kw):
            self.t0 = time.time()

        def on_step_end(self, args, state, control, **kw):
            if self.stopped_at is None and any_rank(time.time() - self.t0 > limit_s, args.device):
                self.stopped_at = state.global_step
                control.should_save = True  # the checkpoint a resume continues from
                control.should_training_stop = True

    return StopAtWallClock()


class WallClock:
    """The run feature: the server's limit on how long one run trains at a stretch."""

    name = "wall_clock"

    def callbacks(self, run) -> list:
        limit = wall_seconds(run.folder)
        return [callback(limit)] if limit else []

    def stopped(self, run, trainer) -> dict | None:
        step = next((cb.stopped_at for cb in trainer.callback_handler.callbacks
                     if getattr(cb, "stopped_at", None) is not None), None)
        if step is None:
            return None
        minutes = wall_seconds(run.folder) / 60
        return {"status": "stopped", "best_metric_name": run.cfg.selection_metric(),
                "best_metric": trainer.state.best_metric,
                "reason": f"Stopped at step {step}: this server lets a run train for {minutes:g} minutes at a stretch "
                          "(wall_minutes). Its checkpoint is saved; resume queues it again to continue from there."}
