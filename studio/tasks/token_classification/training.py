"""Token classification's trainer parts: the best tag per position (the logits kept small) and seqeval's entity
scores as compute_metrics."""

from __future__ import annotations

import numpy as np

from studio.tasks.base import TrainerParts
from studio.tasks.token_classification.tokens import IGNORE


def best_tags(logits):
    """Per position: [predicted tag id, its probability] (kept small: the full logits are not gathered)."""
    import torch

    if isinstance(logits, tuple):
        logits = logits[0]
    probs = torch.softmax(logits.float(), dim=-1)
    p, idx = probs.max(dim=-1)
    return torch.stack([idx.float(), p], dim=-1)


def word_sequences(pred: np.ndarray, label_ids: np.ndarray, labels: list[str]):
    """Gold tags, predicted tags and predicted probabilities per sentence, over the labelled positions."""
    pred = np.asarray(pred)
    gold_all, pred_all, prob_all = [], [], []
    for p, y in zip(pred, np.asarray(label_ids)):
        keep = y != IGNORE
        gold_all.append([labels[int(i)] for i in y[keep]])
        ids = p[..., 0] if p.ndim == 2 else p
        pred_all.append([labels[int(i)] for i in ids[keep]])
        prob_all.append(p[keep, 1].astype(float).tolist() if p.ndim == 2 else [1.0] * int(keep.sum()))
    return gold_all, pred_all, prob_all


def scores(gold: list[list[str]], pred: list[list[str]]) -> dict[str, float]:
    """Entity-level micro precision/recall/F1 (seqeval) and token accuracy."""
    from seqeval.metrics import f1_score, precision_score, recall_score

    n = sum(len(g) for g in gold)
    right = sum(a == b for g, p in zip(gold, pred) for a, b in zip(g, p))
    return {"precision": float(precision_score(gold, pred, zero_division=0)),
            "recall": float(recall_score(gold, pred, zero_division=0)),
            "f1": float(f1_score(gold, pred, zero_division=0)),
            "token_accuracy": float(right / n) if n else 0.0}


def metrics_fn(labels: list[str]):
    def compute_metrics(eval_pred) -> dict[str, float]:
        gold, pred, _ = word_sequences(eval_pred.predictions, eval_pred.label_ids, labels)
        return scores(gold, pred)
    return compute_metrics


def trainer_parts(cfg, tokenizer, labels, splits):
    return TrainerParts(compute_metrics=metrics_fn(labels),
                        preprocess_logits_for_metrics=lambda logits, _labels: best_tags(logits))
