"""Text classification's tokenizer and model: the shared loaders, with a sequence-classification head sized to the
labels."""

from __future__ import annotations

from studio.tasks.loading import labelled_model, padded_tokenizer


def load_tokenizer(path, **kw):
    return padded_tokenizer(path, **kw)


def load_model(path, labels: list[str], tokenizer=None, **kw):
    from transformers import AutoModelForSequenceClassification

    return labelled_model(AutoModelForSequenceClassification, path, labels, tokenizer, **kw)
