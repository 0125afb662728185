"""Evals: how much a tuned run kept (or gained) of general ability, scored with lm-evaluation-harness beside its base.

    config       BenchmarkConfig: questions per benchmark, few-shot examples, base beside tuned, chat template
    task_files   local benchmark files (C-Eval / CMMLU / MMLU multiple choice, generation with references) as
                 lm-eval tasks
    jobs         a run's benchmark job: checked and started from the page or CLI, its state, stop, wait
    worker       `python -m studio.evals.worker RUN_DIR`: the job's process (lm-eval loads only there)
    harness      lm-eval over the run's model and its base, with progress and time left
    results      the scores as a table: benchmark, base, tuned, change

Imports: base, data, tasks, serve, runs.
"""

from studio.evals.config import BenchmarkConfig

__all__ = ["BenchmarkConfig"]
