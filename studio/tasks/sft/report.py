"""The test report: loss and perplexity over the test split, greedy answers to the first prompts compared with
their references (exact match, chrF)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from studio.tasks.chat import ensure_chat_template, generate
from studio.tasks.sft.training import sample_rows

TEST_GENERATIONS = 20          # test prompts answered for the report (generation is the slow part)


def _normalise(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip().strip(".!").strip().casefold()


def overlap_metrics(outputs: list[str], references: list[str]) -> dict[str, float]:
    """exact_match: share of answers equal to the reference (case, spacing and final period ignored);
    chrF: sacrebleu's character n-gram F-score (0-100) over all answers."""
    out = {"exact_match": float(np.mean([_normalise(o) == _normalise(r) for o, r in zip(outputs, references)]))
           if outputs else 0.0}
    try:
        import sacrebleu

        out["chrf"] = float(sacrebleu.corpus_chrf(outputs, [references]).score) if outputs else 0.0
    except ImportError:  # optional: the report keeps exact match
        pass
    return out


def test_report(trainer, test_ds, test_df: pd.DataFrame, labels, tokenizer=None, cfg=None):
    """Test loss and perplexity over the whole split; greedy answers to the first TEST_GENERATIONS prompts."""
    loop = trainer.evaluation_loop(trainer.get_test_dataloader(test_ds), description="test",
                                   prediction_loss_only=True, metric_key_prefix="test")
    loss = loop.metrics.get("test_loss")
    metrics = {"loss": loss, "perplexity": loop.metrics.get("test_perplexity")}
    rows = sample_rows(test_df, TEST_GENERATIONS)
    max_new = cfg.task_args.max_new_tokens if cfg is not None else 64
    outputs = generate(trainer.model, ensure_chat_template(tokenizer), [r["messages"] for r in rows], max_new)
    metrics.update(overlap_metrics(outputs, [r["reference"] for r in rows]))
    report = {"task": "sft", "n": int(len(test_df)), "generated": len(rows), "metrics": metrics, "labels": [],
              "max_new_tokens": max_new,
              "metric_notes": {"loss": "mean cross-entropy over answer tokens", "perplexity": "exp(loss)",
                               "exact_match": "share of generated answers equal to the reference",
                               "chrf": "character n-gram F-score (sacrebleu chrF, 0-100)"}}
    out_rows = [{"text": r["prompt"], "reference": r["reference"], "output": o,
                 "correct": _normalise(o) == _normalise(r["reference"])} for r, o in zip(rows, outputs)]
    return report, out_rows
