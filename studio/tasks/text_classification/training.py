"""Text classification's trainer parts: the validation metrics (accuracy and macro precision, recall, F1)."""

from __future__ import annotations

import numpy as np

from studio.tasks.base import TrainerParts


def compute_metrics(eval_pred) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    logits, y = eval_pred.predictions, eval_pred.label_ids
    if isinstance(logits, tuple):
        logits = logits[0]
    pred = np.asarray(logits).argmax(-1)
    p, r, f, _ = precision_recall_fscore_support(y, pred, average="macro", zero_division=0)
    return {"accuracy": float(accuracy_score(y, pred)), "precision": float(p), "recall": float(r), "f1": float(f)}


def trainer_parts(cfg, tokenizer, labels, splits):
    return TrainerParts(compute_metrics=compute_metrics)
