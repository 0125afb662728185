"""trl's trainers tokenise themselves (chat template, truncation): here the rows become trl's conversational rows,
records without room for an answer are left out (and said), and batches are trl's own."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from studio.data import DataError
from studio.tasks.chat import ensure_chat_template, render
from studio.tasks.preference.data import PAIRED_LOSSES, check_pairs


def preference_rows(df: pd.DataFrame, unpaired: bool) -> list[dict[str, Any]]:
    """trl's conversational rows: prompt/chosen/rejected, or (unpaired, for KTO) prompt/completion/label with a
    pair giving one good and one bad row. An empty answer (a silent refusal) stays: trl trains on its end of turn."""
    out = []
    for _, r in df.iterrows():
        prompt = json.loads(r["prompt"])
        if unpaired:
            out += [{"prompt": prompt, "completion": [{"role": "assistant", "content": r[k]}], "label": k == "chosen"}
                    for k in ("chosen", "rejected") if isinstance(r[k], str)]
        else:
            out.append({"prompt": prompt, "chosen": [{"role": "assistant", "content": r["chosen"]}],
                        "rejected": [{"role": "assistant", "content": r["rejected"]}]})
    return out


def with_room_for_answers(df: pd.DataFrame, split: str, tokenizer, max_length: int) -> pd.DataFrame:
    """The records whose formatted prompt leaves at least one token of max_length for the answer (trl would drop
    the others silently, and a split left empty fails deep inside the trainer)."""
    tokenizer = ensure_chat_template(tokenizer)
    lengths = [len(tokenizer(render(tokenizer, json.loads(p), add_generation_prompt=True), add_special_tokens=False)
                   ["input_ids"]) for p in df["prompt"]]
    keep = [n < max_length for n in lengths]
    if not any(keep):
        raise DataError(f"Every {split} record's prompt is at least max_length={max_length} tokens long (the shortest: "
                        f"{min(lengths)}), so no answer token is left; raise training.max_length or shorten "
                        "the prompts.")
    if not all(keep):
        print(f"[studio] {split}: {keep.count(False)} of {len(keep)} records have prompts of max_length={max_length} "
              "tokens or more and were left out (no room for the answer)", flush=True)
    return df[keep].reset_index(drop=True)


def tokenize(splits: dict[str, pd.DataFrame], tokenizer, labels, cfg):
    """trl's trainers tokenise themselves (chat template, truncation to max_length): the rows stay text here."""
    import datasets

    training = cfg.training
    unpaired = cfg.task_args.preference_loss not in PAIRED_LOSSES
    check_pairs(cfg.task_args.preference_loss, splits)
    splits = {name: with_room_for_answers(df, name, tokenizer, training.max_length) for name, df in splits.items()}
    out = {name: datasets.Dataset.from_list(preference_rows(df, unpaired)) for name, df in splits.items()}
    if unpaired:  # KTO reads in order (see trainer_parts): shuffled once here, seeded, so a pair's rows part
        out["train"] = out["train"].shuffle(seed=training.seed)
    return out


def collator(tokenizer, model=None):
    """None: each trl trainer pads its own way (two sequences per pair for DPO and ORPO)."""
    return None
