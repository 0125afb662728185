"""Token classification's tokenizer (a leading space for byte-level BPE's pre-split words) and its model with a
token head sized to the tags."""

from __future__ import annotations

from studio.tasks.loading import labelled_model, padded_tokenizer


def load_tokenizer(path, **kw):
    tok = padded_tokenizer(path, **kw)
    if getattr(tok, "add_prefix_space", None) is False:
        # Byte-level BPE (RoBERTa, GPT-2) marks a word start by its leading space: pre-split words need one.
        tok = padded_tokenizer(path, add_prefix_space=True, **kw)
    return tok


def load_model(path, labels: list[str], tokenizer=None, **kw):
    from transformers import AutoModelForTokenClassification

    return labelled_model(AutoModelForTokenClassification, path, labels, tokenizer, **kw)
