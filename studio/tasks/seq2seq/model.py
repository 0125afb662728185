"""Seq2seq model loading: the shared padded tokenizer, and an encoder-decoder (AutoModelForSeq2SeqLM)."""

from __future__ import annotations

from studio.base.policy import trust_remote_code
from studio.tasks.loading import padded_tokenizer


def load_tokenizer(path, **kw):
    return padded_tokenizer(path, **kw)


def load_model(path, labels: list[str] | None = None, tokenizer=None, **kw):
    from transformers import AutoModelForSeq2SeqLM

    # Weights load from safetensors only: a pickle (pytorch_model.bin) can run code when unpickled.
    kw.setdefault("use_safetensors", True)
    kw.setdefault("trust_remote_code", trust_remote_code())
    model = AutoModelForSeq2SeqLM.from_pretrained(str(path), **kw)
    if tokenizer is not None and model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model
