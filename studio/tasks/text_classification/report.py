"""Text classification's test report: metrics, the per-class table, the confusion matrix and every prediction."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from studio.tasks.text_classification.training import compute_metrics


def _softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def metrics_from_logits(logits: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """The test metrics of any model's logits (a distillation teacher's on the student's test split)."""
    return compute_metrics(type("P", (), {"predictions": logits, "label_ids": y})())


def test_report(trainer, test_ds, test_df: pd.DataFrame, labels: list[str], tokenizer=None, cfg=None):
    """Score the loaded (best) model on the test split."""
    pred = trainer.predict(test_ds)
    return report_from_logits(pred.predictions, pred.label_ids, labels, test_df["text"].tolist())


def report_from_logits(logits: np.ndarray, y: np.ndarray, labels: list[str],
                       texts: list[str]) -> tuple[dict[str, Any], list[dict]]:
    """Metrics, per-class table and confusion matrix, plus every prediction for the error browser."""
    from sklearn.metrics import classification_report, confusion_matrix

    if isinstance(logits, tuple):
        logits = logits[0]
    probs = _softmax(np.asarray(logits, dtype=np.float64))
    pred = probs.argmax(-1)
    idx = list(range(len(labels)))
    per_class = classification_report(y, pred, labels=idx, target_names=labels, output_dict=True, zero_division=0)
    cm = confusion_matrix(y, pred, labels=idx)
    metrics = metrics_from_logits(logits, y)
    report = {
        "task": "text-classification",
        "n": int(len(y)),
        "metrics": metrics,
        "per_class": {l: {k: float(v) for k, v in per_class[l].items()} for l in labels},
        "labels": labels,
        "confusion_matrix": cm.tolist(),
    }
    rows = [{"text": t, "label": labels[int(a)], "predicted": labels[int(b)], "confidence": float(pr[b]),
             "correct": bool(a == b)} for t, a, b, pr in zip(texts, y, pred, probs)]
    return report, rows
