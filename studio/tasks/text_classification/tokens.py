"""Text classification's inputs: a split's texts and labels become token ids, and batches pad to their longest
text."""

from __future__ import annotations

import uuid

import pandas as pd


def tokenize(splits: dict[str, pd.DataFrame], tokenizer, labels: list[str], cfg):
    """Tokenise once with datasets (no padding: batches pad to their own longest text)."""
    import datasets

    max_length = cfg.training.max_length
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
