"""The Trainer for instruction tuning: perplexity beside every evaluation's loss, AdaLoRA's penalty off while
evaluating, and answers to a few fixed validation prompts written at every evaluation."""

from __future__ import annotations

import json
import math
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from studio.base.process_rank import shards_model
from studio.tasks.base import TrainerParts
from studio.tasks.chat import ensure_chat_template, sample_callback
from studio.tasks.sft.tokens import collator, flat_collator


def add_perplexity(metrics: dict[str, float]) -> dict[str, float]:
    """<prefix>_perplexity = exp(<prefix>_loss) for every loss in an evaluation's metrics."""
    for k in [k for k in metrics if k.endswith("_loss")]:
        loss = metrics[k]
        if loss is not None and math.isfinite(loss):
            metrics[k[:-len("_loss")] + "_perplexity"] = math.exp(loss) if loss < 700 else float("inf")
    return metrics


@contextmanager
def without_regulariser(model):
    """AdaLoRA adds its orthogonality penalty to the loss in evaluation too; loss and perplexity must be the
    language model's own, so the penalty is off while evaluating."""
    configs = [c for c in (getattr(model, "peft_config", None) or {}).values() if hasattr(c, "orth_reg_weight")]
    saved = [c.orth_reg_weight for c in configs]
    for c in configs:
        c.orth_reg_weight = 0.0
    try:
        yield model
    finally:
        for c, w in zip(configs, saved):
            c.orth_reg_weight = w


def _trainer_cls():
    from transformers import Trainer

    class SFTTrainer(Trainer):
        """Adds perplexity to every evaluation before it is logged, checked for the best model and returned, and
        keeps packed rows' seq_lengths for the collator."""

        def _set_signature_columns_if_needed(self):
            # The Trainer drops every column the model's forward does not name before the collator sees a batch;
            # without seq_lengths the flattening collator gives a packed row one position range, and each of its
            # conversations attends to the ones packed before it (TRL's SFTTrainer keeps the column the same way).
            super()._set_signature_columns_if_needed()
            if "seq_lengths" not in self._signature_columns:
                self._signature_columns = [*self._signature_columns, "seq_lengths"]

        def evaluation_loop(self, *args, **kwargs):
            with without_regulariser(self.model):
                out = super().evaluation_loop(*args, **kwargs)
            add_perplexity(out.metrics)
            return out

    return SFTTrainer


def sample_rows(df: pd.DataFrame, n: int) -> list[dict[str, Any]]:
    """The first n validation conversations as fixed prompts: {prompt, messages (without the answer), reference}."""
    rows = []
    for _, r in df.head(n).iterrows():
        msgs = json.loads(r["messages"])
        rows.append({"prompt": r["text"], "messages": msgs[:-1], "reference": r["reference"]})
    return rows


def trainer_parts(cfg, tokenizer, labels, splits):
    # Evaluation holds batch x length x vocabulary logits: batches bigger than training's (the studio's default
    # for other tasks) would make evaluation the run's memory peak, past what the memory check counted.
    batching = getattr(cfg.task_args, "batching", "padded")
    return TrainerParts(trainer_cls=_trainer_cls(), args={"per_device_eval_batch_size": cfg.training.batch_size},
                        collator=flat_collator(tokenizer) if batching != "padded" else None,
                        flat_fallback=collator(tokenizer) if batching == "padding_free" else None)


def run_callbacks(cfg, tokenizer, labels, splits, run_dir):
    """Answers to a few fixed validation prompts at every evaluation, into metrics.jsonl (the Train tab's table)."""
    n = cfg.task_args.sample_prompts
    if not n or "validation" not in splits:
        return []
    if shards_model(cfg.training):
        # Each rank holds a shard: generating needs all of them in step, token by token, which greedy answers of
        # different lengths break (the ranks would wait on each other for ever).
        print("[studio] sample generations off: the model is sharded over the GPUs (FSDP or DeepSpeed)", flush=True)
        return []
    return [sample_callback(Path(run_dir), ensure_chat_template(tokenizer), sample_rows(splits["validation"], n),
                            cfg.task_args.max_new_tokens)]
