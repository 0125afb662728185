"""Seq2seq model loading: the shared padded tokenizer, and an encoder-decoder (AutoModelForSeq2SeqLM)."""

from __future__ import annotations

from studio.tasks.loading import padded_tokenizer, pretrained_model


def load_tokenizer(path, **kw):
    return padded_tokenizer(path, **kw)


def load_model(path, labels: list[str] | None = None, tokenizer=None, **kw):
    from transformers import AutoModelForSeq2SeqLM

    return pretrained_model(AutoModelForSeq2SeqLM, path, tokenizer, **kw)
