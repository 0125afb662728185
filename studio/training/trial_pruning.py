"""A sweep's trial reports its validation score to Optuna at each evaluation and stops when Optuna prunes it.

The sweep writes `sweep_trial.json` into each trial's run folder (studio.sweeps); a run without one trains
as any other. The trial's worker opens the sweep's study (SQLite in the runs folder) with the sweep's own
pruner, which Optuna does not store: the settings come from that file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from studio.base.process_rank import any_rank
from studio.base.runfolder import RunFolder

WARMUP_EVALUATIONS = 2  # the first evaluation a trial can be pruned at


def make_pruner(settings: dict[str, Any]):
    """The sweep's pruner: median of the other trials' scores at the same evaluation, after a few trials; or none."""
    import optuna

    if not settings.get("prune", True):
        return optuna.pruners.NopPruner()
    # Steps are evaluations (1, 2, ...), so trials of any batch size line up. Never at the first one: a trial with
    # more epochs or a higher learning rate starts slower and ends better (bench/RESULTS.md, "Sweeps").
    return optuna.pruners.MedianPruner(n_startup_trials=settings.get("startup_trials", 2),
                                       n_warmup_steps=settings.get("warmup_evaluations", WARMUP_EVALUATIONS))


def trial_of(run_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((RunFolder(Path(run_dir)).sweep_trial).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def callbacks(run_dir: Path, metric: str) -> list:
    """The pruning callback for a sweep's trial (none for other runs)."""
    trial = trial_of(run_dir)
    if trial is None:
        return []
    from transformers import TrainerCallback

    class ReportToSweep(TrainerCallback):
        """After each evaluation: report the selection metric to Optuna; stop the run when Optuna prunes it."""

        def __init__(self):
            import optuna

            optuna.logging.set_verbosity(optuna.logging.WARNING)
            study = optuna.load_study(study_name=trial["study"], storage=trial["storage"],
                                      pruner=make_pruner(trial.get("settings") or {}))
            self.trial = optuna.trial.Trial(study, trial["trial_id"])
            self.pruned_at: int | None = None

        def on_evaluate(self, args, state, control, metrics=None, **kw):
            value = (metrics or {}).get(f"eval_{metric}")
            prune = False
            if value is not None and state.is_world_process_zero:  # rank 0 reports and decides; every rank stops
                # The evaluation's number, counted from the log a resumed run restores with its checkpoint.
                done = sum(1 for h in state.log_history if f"eval_{metric}" in h)
                self.trial.report(float(value), max(done, 1))
                # At the last evaluation there is nothing left to save: the trial finishes and counts.
                prune = state.global_step < state.max_steps and self.trial.should_prune()
            if any_rank(prune, args.device):
                self.pruned_at = state.global_step
                control.should_training_stop = True

    return [ReportToSweep()]


def pruned_at(callbacks_: list) -> int | None:
    """The step at which the sweep pruned this run (None when it was not pruned)."""
    return next((cb.pruned_at for cb in callbacks_ if getattr(cb, "pruned_at", None) is not None), None)


class TrialPruning:
    """The run feature: a sweep's trial reports each evaluation to Optuna, and stops when Optuna prunes it."""

    name = "trial_pruning"

    def callbacks(self, run) -> list:
        return callbacks(run.folder, run.cfg.selection_metric())

    def stopped(self, run, trainer) -> dict | None:
        step = pruned_at(trainer.callback_handler.callbacks)
        if step is None:
            return None
        best = run.cfg.selection_metric()
        return {"status": "stopped", "pruned": True, "best_metric_name": best, "best_metric": trainer.state.best_metric,
                "reason": f"Pruned by its sweep at step {step}: its validation {best} was behind the median of earlier "
                          "trials at that point, so it stopped to leave the time to others."}
