"""Extractive QA's tokens: question + context windows, each labelled with the answer's token span, and the
padding collator."""

from __future__ import annotations

import uuid

import pandas as pd

NO_SPAN = (-1, -1)  # the offsets of a token that is not the context's (the question, special tokens)


def encode(tokenizer, questions: list[str], contexts: list[str], max_length: int, stride: int):
    """Question + context features, long contexts in overlapping windows; each feature knows its example and the
    character span of each of its context tokens (NO_SPAN elsewhere)."""
    if not getattr(tokenizer, "is_fast", True):
        raise ValueError("Question answering needs a fast tokenizer (one with offsets); pick another base model.")
    enc = tokenizer(questions, contexts, truncation="only_second", max_length=max_length,
                    stride=min(stride, max_length // 2), return_overflowing_tokens=True,
                    return_offsets_mapping=True, padding=False)
    offsets = []
    for i in range(len(enc["input_ids"])):
        seq = enc.sequence_ids(i)
        offsets.append([list(o) if seq[k] == 1 else list(NO_SPAN) for k, o in enumerate(enc["offset_mapping"][i])])
    enc["offset_mapping"] = offsets
    enc["example_id"] = list(enc.pop("overflow_to_sample_mapping"))
    return enc


def span_labels(offsets: list[list[int]], start: int, end: int) -> tuple[int, int]:
    """(first token, last token) of the answer's characters [start, end) in a feature, or (0, 0) when the window
    does not hold the whole answer."""
    inside = [k for k, (s, e) in enumerate(offsets) if (s, e) != NO_SPAN]
    if not inside or offsets[inside[0]][0] > start or offsets[inside[-1]][1] < end:
        return 0, 0
    first = next(k for k in inside if offsets[k][1] > start)
    last = next(k for k in reversed(inside) if offsets[k][0] < end)
    return first, last


def tokenize(splits: dict[str, pd.DataFrame], tokenizer, labels, cfg):
    """Every split as windowed features with the answer's token span (start_positions, end_positions)."""
    import datasets

    out = {}
    for name, df in splits.items():
        enc = encode(tokenizer, df["question"].tolist(), df["context"].tolist(), cfg.training.max_length,
                     cfg.task_args.doc_stride)
        starts = df["answer_start"].astype(int).tolist()
        ends = [s + len(a) for s, a in zip(starts, df["answer"])]
        spans = [span_labels(o, starts[x], ends[x]) for o, x in zip(enc["offset_mapping"], enc["example_id"])]
        cols = {k: enc[k] for k in enc.keys()}
        cols.update(start_positions=[s for s, _ in spans], end_positions=[e for _, e in spans],
                    length=[len(ids) for ids in enc["input_ids"]])
        # In memory, nothing to cache: a fresh fingerprint skips hashing the tokenizer.
        out[name] = datasets.Dataset.from_dict(cols).map(lambda r: r, new_fingerprint=uuid.uuid4().hex)
    return out


def collator(tokenizer, model=None):
    from transformers import DataCollatorWithPadding

    return DataCollatorWithPadding(tokenizer)
