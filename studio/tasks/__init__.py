"""One module per task; each provides the same small set of functions.

A task module defines NAME, PEFT_TASK_TYPE, BEST_METRICS and load_tokenizer,
load_model, tokenize, collator, compute_metrics, test_report and predict.
"""

from __future__ import annotations

import importlib
from types import ModuleType

TASK_MODULES = {
    "text-classification": "studio.tasks.text_classification",
}


def get_task(name: str) -> ModuleType:
    try:
        return importlib.import_module(TASK_MODULES[name])
    except KeyError:
        raise ValueError(f"Unknown task {name!r}; choose one of {', '.join(TASK_MODULES)}.") from None
