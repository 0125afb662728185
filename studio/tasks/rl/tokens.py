"""trl's GRPO trainer applies the chat template and generates itself: here the rows become its conversational
prompt rows (with the reference answer the rewards read), and prompts longer than max_length are left out (and
said), since trl never cuts a prompt."""

from __future__ import annotations

import json

import pandas as pd

from studio.data import DataError
from studio.tasks.rl.data import count_tokens


def within_length(df: pd.DataFrame, split: str, tokenizer, max_length: int) -> pd.DataFrame:
    """The records whose formatted prompt fits max_length tokens (a longer one would reach the model whole)."""
    lengths = count_tokens(df, tokenizer, sample=len(df))
    keep = [n <= max_length for n in lengths]
    if not any(keep):
        raise DataError(f"Every {split} prompt is longer than max_length={max_length} tokens (the shortest: "
                        f"{min(lengths)}); raise training.max_length or shorten the prompts.")
    if not all(keep):
        print(f"[studio] {split}: {keep.count(False)} of {len(keep)} prompts are longer than max_length={max_length} "
              "tokens and were left out", flush=True)
    return df[keep].reset_index(drop=True)


def tokenize(splits: dict[str, pd.DataFrame], tokenizer, labels, cfg):
    """Rows of trl's conversational prompts and their reference answers ("" where a record has none)."""
    import datasets

    out = {}
    for name, df in splits.items():
        df = within_length(df, name, tokenizer, cfg.training.max_length)
        out[name] = datasets.Dataset.from_list([{"prompt": json.loads(p), "reference": r}
                                                for p, r in zip(df["prompt"], df["reference"])])
    return out


def collator(tokenizer, model=None):
    """None: trl's GRPO trainer batches its own prompts and generations."""
    return None
