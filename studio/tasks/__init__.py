"""The task registry: one line per task. The contract each task keeps is studio.tasks.base.Task.

    from studio.tasks import get_task
    task = get_task(cfg.task)          # a Task: ask it, never compare its name

    base      the Task contract: facts, behaviour (typed by Protocols), capabilities features look for
    loading   a tokenizer that can pad, a base loaded safely, a model with a head sized to the labels
    chat      what every chat task shares (messages, template, causal LM, generation, chat playground and card)
    <task>/   one package per task in the same rooms (data, model, tokens, training, report, predict), its
              __init__ holding its Settings, capability classes and TASK = Task(...)

Imports: base, models, methods, data.
"""

from __future__ import annotations

import importlib

from studio.tasks.base import Task

TASK_MODULES = {
    "text-classification": "studio.tasks.text_classification",
    "token-classification": "studio.tasks.token_classification",
    "sft": "studio.tasks.sft",
    "seq2seq": "studio.tasks.seq2seq",
    "preference": "studio.tasks.preference",
    "extractive-qa": "studio.tasks.extractive_qa",
    "rl": "studio.tasks.rl",
}
DEFAULT_TASK = next(iter(TASK_MODULES))  # a config or a run that names no task is this one


def task_names() -> tuple[str, ...]:
    return tuple(TASK_MODULES)


def get_task(name: str | None) -> Task:
    """The registered task of that name (the default task for None or an empty name)."""
    try:
        module = TASK_MODULES[name or DEFAULT_TASK]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown task {name!r}; choose one of {', '.join(TASK_MODULES)}.") from None
    return importlib.import_module(module).TASK


def all_tasks() -> list[Task]:
    return [get_task(name) for name in TASK_MODULES]
