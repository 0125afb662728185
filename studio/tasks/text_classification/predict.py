"""Text classification's predictions: label probabilities for new texts, the line `studio predict` prints for each,
and the model card's usage example."""

from __future__ import annotations

from typing import Any

import numpy as np


def predict(model, tokenizer, inputs: list[str], max_length: int = 128, batch_size: int = 32,
            **_) -> list[dict[str, Any]]:
    """Label probabilities for each text, sorted most likely first."""
    texts = inputs
    import torch

    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    device = next(model.parameters()).device
    out = []
    model.eval()
    order = np.argsort([len(t) for t in texts])  # similar lengths per batch: less padding
    results: list[Any] = [None] * len(texts)
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            idx = order[i:i + batch_size]
            enc = tokenizer([texts[j] for j in idx], truncation=True, max_length=max_length, padding=True,
                            return_tensors="pt").to(device)
            logits = model(**enc).logits.float()
            probs = torch.softmax(logits, dim=-1).cpu().numpy()
            for j, p in zip(idx, probs):
                results[j] = p
    for p in results:
        ranked = sorted(((labels[k], float(p[k])) for k in range(len(labels))), key=lambda kv: -kv[1])
        out.append({"label": ranked[0][0], "score": ranked[0][1], "probabilities": dict(ranked)})
    return out


def format_prediction(text: str, pred: dict[str, Any]) -> str:
    """One line of `studio predict` output."""
    return f"{pred['label']}\t{pred['score']:.3f}\t{text}"


def card_usage(is_adapter: bool, labels: list[str] = ()) -> list[str]:
    """Python lines of the model card's usage example (PATH_OR_REPO stands for where the export lives)."""
    if is_adapter:
        # The base loads first, with its own head size: the adapter's head only fits once it knows the labels.
        return ["from peft import AutoPeftModelForSequenceClassification",
                "from transformers import AutoTokenizer", "",
                f"id2label = {dict(enumerate(labels))!r}",
                'model = AutoPeftModelForSequenceClassification.from_pretrained("PATH_OR_REPO", '
                'num_labels=len(id2label), id2label=id2label)',
                'tokenizer = AutoTokenizer.from_pretrained("PATH_OR_REPO")']
    return ["from transformers import pipeline", "",
            'classify = pipeline("text-classification", model="PATH_OR_REPO")',
            'print(classify("My card was charged twice, please refund it."))']
