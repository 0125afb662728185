"""Conversations as token ids with labels on the answers only (-100 elsewhere), and how they share a batch:
padded, padding-free (end to end with each one's positions) or packed."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from studio.tasks.chat import ensure_chat_template, segments

IGNORE = -100


def encode(tokenizer, messages: list[dict], max_length: int) -> dict[str, Any]:
    """input_ids and labels (-100 outside answers), each piece tokenised on its own the way a prompt is at
    generation time. Too long: cut the end; if that leaves no answer token, keep the last max_length tokens."""
    ids: list[int] = []
    labels: list[int] = []
    for text, answer in segments(tokenizer, messages):
        piece = tokenizer(text, add_special_tokens=False)["input_ids"]
        ids += piece
        labels += piece if answer else [IGNORE] * len(piece)
    truncated = len(ids) > max_length
    if truncated:
        head = labels[:max_length]
        if any(l != IGNORE for l in head):
            ids, labels = ids[:max_length], head
        else:
            ids, labels = ids[-max_length:], labels[-max_length:]
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels, "length": len(ids),
            "truncated": truncated}


def tokenize(splits: dict[str, pd.DataFrame], tokenizer, labels, cfg):
    """Encode every conversation once (no padding: batches pad to their own longest)."""
    import datasets

    tokenizer = ensure_chat_template(tokenizer)
    training = cfg.training
    out = {}
    for name, df in splits.items():
        rows = [encode(tokenizer, json.loads(m), training.max_length) for m in df["messages"]]
        cut = sum(r.pop("truncated") for r in rows)
        if cut:
            print(f"[studio] {name}: {cut} of {len(rows)} conversations are longer than max_length="
                  f"{training.max_length} tokens and were truncated", flush=True)
        cols = {k: [r[k] for r in rows] for k in ("input_ids", "attention_mask", "labels", "length")}
        out[name] = datasets.Dataset.from_dict(cols)
    if getattr(cfg.task_args, "batching", "padded") == "packed":
        out["train"] = packed(out["train"], training.max_length)
    return out


def packed(ds, max_length: int):
    """Conversations packed into rows of at most max_length tokens by TRL's best-fit-decreasing packing (each keeps
    its own positions: seq_lengths, which the flattening collator turns into position ids)."""
    from trl import pack_dataset

    rows = pack_dataset(ds.select_columns(["input_ids", "labels"]), max_length, strategy="bfd")
    return rows.add_column("length", [len(ids) for ids in rows["input_ids"]])


class FlatCollator:
    """TRL's padding-free collator: a batch's conversations (or packed rows) end to end in one row with each one's
    position ids, which transformers' attention masks turn into one block per conversation (no attention across
    them, with SDPA, eager or flash-attention alike). The batch also says use_cache=False: with a KV cache (the
    default even in training) transformers skips that packed-sequence mask, and every conversation would attend
    to the ones before it."""

    def __init__(self, pad_token_id: int):
        from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

        self.flatten = DataCollatorForLanguageModeling(pad_token_id=pad_token_id, padding_free=True)

    def __call__(self, features: list[dict]) -> dict:
        return {**self.flatten(features), "use_cache": False}


def flat_collator(tokenizer) -> FlatCollator:
    return FlatCollator(tokenizer.pad_token_id)


class PadCollator:
    """Pads input_ids with the pad token, attention_mask with 0 and labels with -100 (right side)."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, features: list[dict]) -> dict:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        fill = {"input_ids": self.pad_token_id, "attention_mask": 0, "labels": IGNORE}
        return {k: torch.tensor([list(f[k]) + [v] * (width - len(f[k])) for f in features], dtype=torch.long)
                for k, v in fill.items()}


def collator(tokenizer, model=None):
    return PadCollator(tokenizer.pad_token_id)
