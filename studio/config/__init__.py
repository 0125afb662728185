"""Config: RunConfig, one run's settings, made of sections each documented once and checked on every read.

    run        RunConfig (task, model, method and their settings; data, training, augment and distill sections),
               reading JSON/YAML, validation, load_run_config
    training   TrainingConfig: the optimisation and launch settings every task shares
    machine    what this server must offer a run, checked where one is created or resumed

The sections of features live with them (data.DataConfig, augment.AugmentConfig, distill.DistillConfig), a task's
own settings with the task (Task.settings, a run's cfg.task_args).

Imports: base, methods, data, tasks, augment, distill.
"""

from studio.augment.config import AugmentConfig
from studio.base.settings import field_help
from studio.config.run import SECTIONS, TASKS, RunConfig, load_run_config
from studio.config.training import (
                                    BEST_METRICS,
                                    DISTRIBUTED,
                                    EVAL_STRATEGIES,
                                    MOVED_TO_TASK_ARGS,
                                    PRECISIONS,
                                    SCHEDULERS,
                                    TrainingConfig,
)
from studio.data.config import DataConfig
from studio.distill.config import DistillConfig

__all__ = ["AugmentConfig", "field_help", "SECTIONS", "TASKS", "RunConfig", "load_run_config", "BEST_METRICS",
           "DISTRIBUTED", "EVAL_STRATEGIES", "MOVED_TO_TASK_ARGS", "PRECISIONS", "SCHEDULERS", "TrainingConfig",
           "DataConfig", "DistillConfig"]
