"""Sweeps: let Optuna find the settings, every trial an ordinary run in the registry and the queue.

A sweep is a base config, a search space over config fields and its settings (trials, time budget,
sampler, pruning). It lives in `<runs>/sweeps/<id>/`: sweep.json (what was asked), status.json (where it
stands), optuna.sqlite (Optuna's study: trials, parameters, scores) and sweep.log. A detached driver
process (`python -m studio.sweeps.driver run DIR`) asks Optuna for settings, creates each trial as a normal run
tagged with the sweep, waits for it, and tells Optuna its best validation score (pruned and failed trials
are told as such). A trial reports each evaluation to the study and stops when Optuna prunes it
(studio.training.trial_pruning). Stop, kill and resume reach the running trial; the folder is the truth, so a restarted
server shows the sweep where it is, and `resume` continues an interrupted one where it stopped.

The space, per field (YAML or JSON):
    training.learning_rate: {low: 1.0e-5, high: 1.0e-3, log: true}
    training.epochs: {low: 1, high: 4}              # whole numbers for int fields (step 1 unless given)
    method: {choices: [lora, dora]}
    method_args.r: {choices: [8, 16, 32]}


    settings   SweepSettings: trials, a time budget, the sampler, pruning
    space      the search space and a trial's settings in a copy of the base config
    folders    a sweep's folder and status
    driver     creating a sweep, and the driver process that runs its trials
    control    its true status, stop, kill, resume, the list
    results    its trials, the best one, Optuna's figures

Imports: base, methods, tasks, config, training, runs.
"""

from studio.sweeps.control import kill, list_sweeps, resume, status, stop, sync, wait
from studio.sweeps.driver import Driver, best_trial, create, launch
from studio.sweeps.folders import (
                                   ACTIVE,
                                   LOG_FILE,
                                   STUDY_FILE,
                                   SWEEP_FILE,
                                   is_sweep_id,
                                   read_status,
                                   storage_url,
                                   sweep_dir,
                                   sweeps_dir,
                                   write_status,
)
from studio.sweeps.results import describe, figures, load_study, trials_table
from studio.sweeps.settings import MIN_BUDGET_MINUTES, SAMPLERS, SweepSettings, field_help_settings, settings_from
from studio.sweeps.space import Param, apply_params, default_space, parse_space, preset

__all__ = ["kill", "list_sweeps", "resume", "status", "stop", "sync", "wait", "Driver", "best_trial", "create",
           "launch", "ACTIVE", "LOG_FILE", "STUDY_FILE", "SWEEP_FILE", "is_sweep_id", "read_status", "storage_url",
           "sweep_dir",
           "sweeps_dir", "write_status", "describe", "figures", "load_study", "trials_table",
           "MIN_BUDGET_MINUTES", "SAMPLERS", "SweepSettings", "field_help_settings", "settings_from",
           "Param", "apply_params", "default_space", "parse_space", "preset"]
