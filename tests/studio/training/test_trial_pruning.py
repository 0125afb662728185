"""The sweep's pruner: behind the median of earlier trials at the same evaluation, never at the first one."""

from __future__ import annotations

import optuna

from studio.training.trial_pruning import WARMUP_EVALUATIONS, make_pruner


def _study(settings):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", pruner=make_pruner(settings))
    for _ in range(2):  # two finished trials that scored 0.8 at every evaluation
        t = study.ask()
        for step in (1, 2, 3):
            t.report(0.8, step)
        study.tell(t, 0.8)
    return study


def test_a_weak_trial_survives_its_first_evaluation_and_is_pruned_at_the_second():
    assert WARMUP_EVALUATIONS == 2
    study = _study({"prune": True})
    weak = study.ask()
    weak.report(0.1, 1)
    assert not weak.should_prune()      # a slow starter (more epochs, a higher learning rate) gets its chance
    weak.report(0.1, 2)
    assert weak.should_prune()


def test_a_trial_at_the_median_or_above_is_not_pruned():
    study = _study({"prune": True})
    good = study.ask()
    for step in (1, 2, 3):
        good.report(0.85, step)
        assert not good.should_prune()


def test_pruning_off_never_prunes():
    study = _study({"prune": False})
    weak = study.ask()
    for step in (1, 2, 3):
        weak.report(0.0, step)
        assert not weak.should_prune()
