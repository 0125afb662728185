"""Seq2seq tokens: sources and targets become input ids and labels, the collator pads them into batches, and
decode turns generated ids (or labels) back into text."""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd


def _drops_leading_cls(tokenizer) -> bool:
    """BERT-style tokenizers open every text with [CLS]; a target needs no classification token (the decoder
    starts from its own start token), while real BOS tokens (BART's <s>) stay."""
    return tokenizer.bos_token_id is None and tokenizer.cls_token_id is not None


def encode_targets(tokenizer, targets: list[str], max_target_length: int) -> list[list[int]]:
    ids = tokenizer(text_target=targets, truncation=True, max_length=max_target_length + 1)["input_ids"]
    if _drops_leading_cls(tokenizer):
        ids = [x[1:] if x and x[0] == tokenizer.cls_token_id else x for x in ids]
    return [x[:max_target_length] for x in ids]


def tokenize(splits: dict[str, pd.DataFrame], tokenizer, labels, cfg):
    """Sources truncated to max_length, targets to max_target_length; no padding (the collator pads labels with -100)."""  # noqa: E501
    import datasets

    out = {}
    for name, df in splits.items():
        ds = datasets.Dataset.from_dict({"source": df["source"].tolist(), "target": df["target"].tolist()})

        def enc(batch):
            e = tokenizer(batch["source"], truncation=True, max_length=cfg.training.max_length,
                          return_token_type_ids=False)
            e["labels"] = encode_targets(tokenizer, batch["target"], cfg.task_args.max_target_length)
            return e

        # In memory, nothing to cache: a fresh fingerprint skips hashing the tokenizer.
        out[name] = ds.map(enc, batched=True, remove_columns=["source", "target"], desc=f"tokenising {name}",
                           new_fingerprint=uuid.uuid4().hex)
    return out


def collator(tokenizer, model=None):
    from transformers import DataCollatorForSeq2Seq

    return DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100)


def decode(tokenizer, ids) -> list[str]:
    """Token ids (generated, or labels with -100 padding) as clean text."""
    if isinstance(ids, tuple):
        ids = ids[0]
    ids = np.asarray(ids)
    ids = np.where(ids < 0, tokenizer.pad_token_id, ids)
    return [t.strip() for t in tokenizer.batch_decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=True)]
