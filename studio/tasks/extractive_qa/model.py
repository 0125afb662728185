"""Extractive QA's model: the shared tokenizer that can pad, the base with a span head."""

from __future__ import annotations

from studio.tasks.loading import padded_tokenizer, pretrained_model


def load_tokenizer(path, **kw):
    return padded_tokenizer(path, **kw)


def load_model(path, labels: list[str] | None = None, tokenizer=None, **kw):
    """The base with a span head (a start and an end score per token); safetensors only."""
    from transformers import AutoModelForQuestionAnswering

    return pretrained_model(AutoModelForQuestionAnswering, path, **kw)
