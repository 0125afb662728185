"""Token classification's test report: entity-level metrics, a per-type table, and one row per sentence with its
gold and predicted entities."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from studio.tasks.token_classification.training import scores, word_sequences


def entity_spans(tags: list[str]) -> list[tuple[str, int, int]]:
    """(type, first word, last word + 1) of each entity, read the way seqeval scores them."""
    from seqeval.metrics.sequence_labeling import get_entities

    return [(t, s, e + 1) for t, s, e in get_entities(list(tags))]


def _entities(tokens: list[str], tags: list[str]) -> list[dict[str, Any]]:
    return [{"entity": t, "text": " ".join(tokens[s:e]), "start": s, "end": e} for t, s, e in entity_spans(tags)]


def _marked(tokens: list[str], tags: list[str]) -> str:
    """The sentence with each entity's type after it, like format_prediction."""
    words = list(tokens)
    for t, _, e in entity_spans(tags):
        words[e - 1] = f"{words[e - 1]}[{t}]"
    return " ".join(words)


def test_report(trainer, test_ds, test_df: pd.DataFrame, labels: list[str], tokenizer=None, cfg=None):
    """Score the loaded (best) model on the test split: metrics, a per-type table, and one row per sentence."""
    pred = trainer.predict(test_ds)
    seen = None
    if tokenizer is not None and cfg is not None:
        seen = [labelled_words(tokenizer, list(map(str, t)), cfg.training.max_length) for t in test_df["tokens"]]
    return report_from_predictions(pred.predictions, pred.label_ids, labels, test_df, seen)


def labelled_words(tokenizer, tokens: list[str], max_length: int) -> list[int]:
    """Indexes of the words that got a labelled sub-token (truncation drops the last ones; a word the tokenizer
    turns into nothing is skipped), in the order the labels come."""
    word_ids = tokenizer(tokens, is_split_into_words=True, truncation=True, max_length=max_length).word_ids()
    return sorted({w for w in word_ids if w is not None})


def report_from_predictions(pred: np.ndarray, label_ids: np.ndarray, labels: list[str], test_df: pd.DataFrame,
                            seen: list[list[int]] | None = None):
    from seqeval.metrics import classification_report

    gold, predicted, probs = word_sequences(pred, label_ids, labels)
    per_type = classification_report(gold, predicted, output_dict=True, zero_division=0)
    types = sorted({l[2:] for l in labels if l != "O"})
    report = {"task": "token-classification", "n": len(gold), "metrics": scores(gold, predicted), "labels": labels,
              "entity_types": types,
              "per_class": {t: {k: float(v) for k, v in per_type[t].items()} for t in types if t in per_type}}
    rows = []
    for i, (tokens, g, p, pr) in enumerate(zip(test_df["tokens"], gold, predicted, probs)):
        tokens = list(map(str, tokens))
        # the words the labels belong to: by default each sentence's first len(g) words (truncation cuts the tail)
        tokens = [tokens[k] for k in seen[i]] if seen is not None else tokens[:len(g)]
        ge, pe = _entities(tokens, g), _entities(tokens, p)
        rows.append({"text": " ".join(tokens), "tokens": tokens, "gold": ge, "predicted_entities": pe,
                     # label / predicted / confidence in the shape of the classification rows: the error browser
                     # shows them as they are (the least sure word's probability is the sentence's confidence).
                     "label": _marked(tokens, g), "predicted": _marked(tokens, p),
                     "confidence": float(min(pr)) if pr else 1.0, "correct": ge == pe})
    return report, rows
