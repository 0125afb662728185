"""Token classification's tokenising: pre-split words become sub-tokens, each word's tag on its first sub-token,
and the collator pads labels with IGNORE."""

from __future__ import annotations

import uuid

import pandas as pd

IGNORE = -100  # label of the positions the loss skips: special tokens and every sub-token after a word's first


def align_labels(word_ids: list[int | None], word_tags: list[int]) -> list[int]:
    """Label the first sub-token of each word with its tag; special tokens and later sub-tokens get IGNORE."""
    out, prev = [], None
    for w in word_ids:
        out.append(IGNORE if w is None or w == prev else word_tags[w])
        prev = w
    return out


def tokenize(splits: dict[str, pd.DataFrame], tokenizer, labels: list[str], cfg):
    """Tokenise pre-split words once with datasets; no padding (the collator pads each batch)."""
    import datasets

    if not getattr(tokenizer, "is_fast", True):
        raise ValueError("Token classification needs a fast tokenizer (one with word_ids); pick another base model.")
    label2id = {l: i for i, l in enumerate(labels)}
    max_length = cfg.training.max_length
    out = {}
    for name, df in splits.items():
        ds = datasets.Dataset.from_dict({"tokens": [list(map(str, t)) for t in df["tokens"]],
                                         "tags": [[label2id[x] for x in t] for t in df["tags"]]})

        def enc(batch):
            e = tokenizer(batch["tokens"], is_split_into_words=True, truncation=True, max_length=max_length)
            e["labels"] = [align_labels(e.word_ids(i), tags) for i, tags in enumerate(batch["tags"])]
            e["length"] = [len(x) for x in e["input_ids"]]
            return e

        out[name] = ds.map(enc, batched=True, remove_columns=["tokens", "tags"], desc=f"tokenising {name}",
                           new_fingerprint=uuid.uuid4().hex)
    return out


def collator(tokenizer, model=None):
    from transformers import DataCollatorForTokenClassification

    return DataCollatorForTokenClassification(tokenizer, label_pad_token_id=IGNORE)
