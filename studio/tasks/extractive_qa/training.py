"""Extractive QA's training: the windows' logits turned back into each question's best span, SQuAD's exact
match and F1 on the validation split, and a Trainer that evaluates windows in order."""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from studio.tasks.base import TrainerParts
from studio.tasks.extractive_qa.tokens import NO_SPAN, tokenize


# ---------------------------------------------------------------------------------------------- the spans --
def best_spans(start_logits, end_logits, example_ids: list[int], offsets: list, contexts: list[str],
               max_answer_length: int, top: int = 20) -> list[dict[str, Any]]:
    """Each example's best answer over its windows: {"answer", "start", "end", "score"}, score the span's
    probability under the window's start and end distributions."""
    best: dict[int, dict[str, Any]] = {}
    for f, x in enumerate(example_ids):
        s_log, e_log = np.asarray(start_logits[f], dtype=np.float64), np.asarray(end_logits[f], dtype=np.float64)
        n = min(len(offsets[f]), len(s_log))
        s_log, e_log = s_log[:n], e_log[:n]
        norm = _logsumexp(s_log) + _logsumexp(e_log)
        for s in np.argsort(s_log)[::-1][:top]:
            for e in np.argsort(e_log)[::-1][:top]:
                if e < s or e - s + 1 > max_answer_length or tuple(offsets[f][s]) == NO_SPAN \
                        or tuple(offsets[f][e]) == NO_SPAN:
                    continue
                score = float(np.exp(s_log[s] + e_log[e] - norm))
                if score > best.get(x, {}).get("score", -1.0):
                    a, b = offsets[f][s][0], offsets[f][e][1]
                    best[x] = {"answer": contexts[x][a:b], "start": int(a), "end": int(b), "score": score}
    return [best.get(x, {"answer": "", "start": 0, "end": 0, "score": 0.0}) for x in range(len(contexts))]


def _logsumexp(v: np.ndarray) -> float:
    m = float(v.max())
    return m + float(np.log(np.exp(v - m).sum()))


def normalise(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in str(text).lower() if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def span_f1(prediction: str, truth: str) -> float:
    pred, gold = normalise(prediction).split(), normalise(truth).split()
    common = sum((Counter(pred) & Counter(gold)).values())
    if not pred or not gold:
        return float(pred == gold)
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def scores(predictions: list[str], answers: list[list[str]]) -> dict[str, float]:
    """Exact match and token F1, each against the best of an example's answers, averaged (shares, 0-1)."""
    em = [max(float(normalise(p) == normalise(a)) for a in golds) for p, golds in zip(predictions, answers)]
    f1 = [max(span_f1(p, a) for a in golds) for p, golds in zip(predictions, answers)]
    return {"exact_match": float(np.mean(em)) if em else 0.0, "f1": float(np.mean(f1)) if f1 else 0.0}


def _split_answers(df: pd.DataFrame) -> list[list[str]]:
    return [json.loads(a) for a in df["answers"]]


def metrics_fn(features, df: pd.DataFrame, max_answer_length: int):
    """compute_metrics for the validation split: windows' logits -> each question's best span -> EM and F1."""
    contexts, answers = df["context"].tolist(), _split_answers(df)

    def compute(eval_pred) -> dict[str, float]:
        start, end = eval_pred.predictions[:2] if isinstance(eval_pred.predictions, tuple) else eval_pred.predictions
        spans = best_spans(start, end, features["example_id"], features["offset_mapping"], contexts, max_answer_length)
        return scores([s["answer"] for s in spans], answers)
    return compute


def in_order_trainer():
    """A Trainer that evaluates windows in dataset order: its metrics pair each window's logits with its question
    by position (length grouping, which the Trainer also applies to evaluation, would shuffle them)."""
    import torch
    from transformers import Trainer

    class SpanTrainer(Trainer):
        def _get_eval_sampler(self, eval_dataset):
            return torch.utils.data.SequentialSampler(eval_dataset)

    return SpanTrainer


def trainer_parts(cfg, tokenizer, labels, splits):
    features = tokenize({"validation": splits["validation"]}, tokenizer, labels, cfg)["validation"]
    return TrainerParts(compute_metrics=metrics_fn(features, splits["validation"], cfg.task_args.max_answer_length),
                        trainer_cls=in_order_trainer())
