"""Text classification: model, preprocessing, collation, metrics, prediction."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pandas as pd

NAME = "text-classification"
PEFT_TASK_TYPE = "SEQ_CLS"
BEST_METRICS = ("f1", "accuracy", "precision", "recall", "loss")
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
METHODS = None
HEAD_INIT = True
PLOT_METRICS = ("accuracy", "f1")
FILE_TYPES = (".csv", ".tsv", ".txt", ".json", ".jsonl", ".parquet")
PIPELINE_TAG = "text-classification"
CARD_KIND = "text classifier"
CARD_METRICS_NOTE = "Precision, recall and F1 are macro averages over the labels."


def card_usage(is_adapter: bool, labels: list[str] = ()) -> list[str]:
    """Python lines of the model card's usage example (PATH_OR_REPO stands for where the export lives)."""
    if is_adapter:
        # The base loads first, with its own head size: the adapter's head only fits once it knows the labels.
        return ["from peft import AutoPeftModelForSequenceClassification",
                "from transformers import AutoTokenizer", "",
                f"id2label = {dict(enumerate(labels))!r}",
                'model = AutoPeftModelForSequenceClassification.from_pretrained("PATH_OR_REPO", num_labels=len(id2label), id2label=id2label)',
                'tokenizer = AutoTokenizer.from_pretrained("PATH_OR_REPO")']
    return ["from transformers import pipeline", "",
            'classify = pipeline("text-classification", model="PATH_OR_REPO")',
            'print(classify("My card was charged twice, please refund it."))']


def format_prediction(text: str, pred: dict[str, Any]) -> str:
    """One line of `studio predict` output."""
    return f"{pred['label']}\t{pred['score']:.3f}\t{text}"


def prepare_data(cfg, tokenizer=None, max_length=None):
    from studio import data

    return data.prepare(cfg, tokenizer=tokenizer, max_length=max_length)


def load_tokenizer(path, **kw):
    from transformers import AutoTokenizer

    from studio.models import trust_remote_code

    kw.setdefault("trust_remote_code", trust_remote_code())
    tok = AutoTokenizer.from_pretrained(str(path), **kw)
    if tok.pad_token is None:  # decoder-only bases (SmolLM2, Llama) ship without one
        tok.pad_token = tok.eos_token or tok.unk_token
    return tok


def load_model(path, labels: list[str], tokenizer=None, **kw):
    from transformers import AutoModelForSequenceClassification

    from studio.models import trust_remote_code

    # Weights load from safetensors only: a pickle (pytorch_model.bin) can run code when unpickled.
    kw.setdefault("use_safetensors", True)
    kw.setdefault("trust_remote_code", trust_remote_code())
    id2label = {i: l for i, l in enumerate(labels)}
    model = AutoModelForSequenceClassification.from_pretrained(
        str(path), num_labels=len(labels), id2label=id2label, label2id={l: i for i, l in id2label.items()},
        ignore_mismatched_sizes=True, **kw)
    if tokenizer is not None and model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model


def tokenize(splits: dict[str, pd.DataFrame], tokenizer, labels: list[str], training):
    """Tokenise once with datasets (no padding: batches pad to their own longest text)."""
    import datasets

    max_length = training.max_length
    label2id = {l: i for i, l in enumerate(labels)}
    out = {}
    for name, df in splits.items():
        ds = datasets.Dataset.from_dict({"text": df["text"].tolist(), "labels": [label2id[l] for l in df["label"]]})

        def enc(batch):
            e = tokenizer(batch["text"], truncation=True, max_length=max_length)
            e["length"] = [len(x) for x in e["input_ids"]]
            return e

        # In memory, nothing to cache: a fresh fingerprint skips hashing the tokenizer (a second per split).
        out[name] = ds.map(enc, batched=True, remove_columns=["text"], desc=f"tokenising {name}",
                           new_fingerprint=uuid.uuid4().hex)
    return out


def collator(tokenizer, model=None):
    from transformers import DataCollatorWithPadding

    return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=None)


def _softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def compute_metrics(eval_pred) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    logits, y = eval_pred.predictions, eval_pred.label_ids
    if isinstance(logits, tuple):
        logits = logits[0]
    pred = np.asarray(logits).argmax(-1)
    p, r, f, _ = precision_recall_fscore_support(y, pred, average="macro", zero_division=0)
    return {"accuracy": float(accuracy_score(y, pred)), "precision": float(p), "recall": float(r), "f1": float(f)}


def trainer_parts(cfg, tokenizer, labels, splits, run_dir):
    from studio.tasks import TrainerParts

    return TrainerParts(compute_metrics=compute_metrics)


def test_report(trainer, test_ds, test_df: pd.DataFrame, labels: list[str], tokenizer=None, cfg=None):
    """Score the loaded (best) model on the test split."""
    pred = trainer.predict(test_ds)
    return report_from_logits(pred.predictions, pred.label_ids, labels, test_df["text"].tolist())


def report_from_logits(logits: np.ndarray, y: np.ndarray, labels: list[str], texts: list[str]) -> tuple[dict[str, Any], list[dict]]:
    """Metrics, per-class table and confusion matrix, plus every prediction for the error browser."""
    from sklearn.metrics import classification_report, confusion_matrix

    if isinstance(logits, tuple):
        logits = logits[0]
    probs = _softmax(np.asarray(logits, dtype=np.float64))
    pred = probs.argmax(-1)
    idx = list(range(len(labels)))
    per_class = classification_report(y, pred, labels=idx, target_names=labels, output_dict=True, zero_division=0)
    cm = confusion_matrix(y, pred, labels=idx)
    metrics = compute_metrics(type("P", (), {"predictions": logits, "label_ids": y})())
    report = {
        "task": NAME,
        "n": int(len(y)),
        "metrics": metrics,
        "per_class": {l: {k: float(v) for k, v in per_class[l].items()} for l in labels},
        "labels": labels,
        "confusion_matrix": cm.tolist(),
    }
    rows = [{"text": t, "label": labels[int(a)], "predicted": labels[int(b)], "confidence": float(pr[b]),
             "correct": bool(a == b)} for t, a, b, pr in zip(texts, y, pred, probs)]
    return report, rows


def predict(model, tokenizer, texts: list[str], max_length: int = 128, batch_size: int = 32, **_) -> list[dict[str, Any]]:
    """Label probabilities for each text, sorted most likely first."""
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
