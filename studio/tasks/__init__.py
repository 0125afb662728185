"""One module per task; each provides the same small set of names.

A task module defines:

  NAME              the task's name in configs and the CLI
  PEFT_TASK_TYPE    peft's TaskType for adapters ("SEQ_CLS", "TOKEN_CLS", "CAUSAL_LM", "SEQ_2_SEQ_LM")
  BEST_METRICS      validation metrics a run can be selected on; the first is the default
  DEFAULT_MODEL     the base model a config without `model` gets (a bundled one, so it runs offline)
  METHODS           method names that apply (None: all of studio.methods.METHODS)
  HEAD_INIT         whether training.head_init (prototype heads) applies
  PLOT_METRICS      eval metrics (without "eval_") drawn in the live score plot, in order
  METRIC_LABELS     optional {"eval_x": label} where a metric is not the usual one of its name (NER's entity F1)
  FILE_TYPES        file extensions its data can come in (the Data tab's upload filter)
  PIPELINE_TAG, CARD_KIND, CARD_METRICS_NOTE, card_usage(is_adapter, labels) -> list[str]
                    what the exported model card says (studio.export.model_card)
  format_prediction(text, pred) -> str   one line of `studio predict` output

  prepare_data(cfg: DataConfig, tokenizer=None, max_length=None) -> data.PreparedData
      read, check, clean and split; every split is a DataFrame with a "text" column (the input
      as a person reads it: used for token-length stats and previews) plus the task's own columns
  load_tokenizer(path) / load_model(path, labels, tokenizer)
  tokenize(splits, tokenizer, labels, training: TrainingConfig) -> {split: datasets.Dataset}
  collator(tokenizer, model)
  trainer_parts(cfg, tokenizer, labels, splits, run_dir) -> TrainerParts
  test_report(trainer, test_ds, test_df, labels, tokenizer, cfg) -> (report dict with "metrics", rows)
  predict(model, tokenizer, texts, **settings) -> one dict per text
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable

TASK_MODULES = {
    "text-classification": "studio.tasks.text_classification",
    "token-classification": "studio.tasks.token_classification",
    "sft": "studio.tasks.sft",
    "seq2seq": "studio.tasks.seq2seq",
}


@dataclass
class TrainerParts:
    """What a task adds to the recipe's Trainer: metrics, callbacks, and a Trainer/arguments class when the
    default one does not fit (seq2seq generates during evaluation)."""

    compute_metrics: Callable | None = None
    preprocess_logits_for_metrics: Callable | None = None
    callbacks: list = field(default_factory=list)
    trainer_cls: Any = None        # None: transformers.Trainer
    args_cls: Any = None           # None: transformers.TrainingArguments
    args: dict[str, Any] = field(default_factory=dict)


def get_task(name: str) -> ModuleType:
    try:
        module = TASK_MODULES[name]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown task {name!r}; choose one of {', '.join(TASK_MODULES)}.") from None
    return importlib.import_module(module)
