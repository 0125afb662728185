"""Prompts for reinforcement learning: records with a prompt (text, or chat messages ending with the user's turn)
and, where a reward needs one, a reference answer (answer, solution, reference or target); a chat whose last turn
is the assistant's gives that turn as the reference. Splits, token lengths, the data check's bars, and the run's
check that the picked rewards find what they read."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studio.base.errors import ConfigError
from studio.base.text import Text
from studio.data import DataError, DataReport, PreparedData, describe_lengths, length_stats, overlap_warnings
from studio.data.bad_records import BadRecords, skipped_warnings
from studio.data.records import field_names
from studio.tasks.chat import chat_messages, ensure_chat_template, readable_rows, record_splits, render
from studio.tasks.rl.rewards import REWARDS, check_rewards

PROMPT_FIELDS = ("prompt", "messages", "question", "problem", "instruction", "query", "conversations")
REFERENCE_FIELDS = ("answer", "solution", "reference", "target", "ground_truth")


def detect_fields(records: list[tuple[str, dict]], name: str, text_column: str | None = None,
                  label_column: str | None = None) -> dict[str, str | None]:
    """Which field holds the prompt and which the reference answer (given names win over detection)."""
    keys = field_names(records, name, (("prompt", text_column), ("reference", label_column)))
    pick = lambda names: next((keys[n] for n in names if n in keys), None)  # noqa: E731
    prompt = keys[text_column.lower()] if text_column else pick(PROMPT_FIELDS)
    reference = keys[label_column.lower()] if label_column else pick(REFERENCE_FIELDS)
    if prompt is None:
        raise DataError(f"{name}: found no prompt among the fields {sorted(map(str, keys.values()))}; name the field "
                        f"with the prompts one of {', '.join(PROMPT_FIELDS[:4])} (text, or chat messages).")
    return {"prompt": prompt, "reference": reference if reference != prompt else None}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def prompt_messages(value: Any, where: str, field: str) -> tuple[list[dict[str, str]], str | None]:
    """(the conversation to answer, ending with the user's turn; the assistant's last turn where the chat had one)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                pass
        if isinstance(value, str):
            if not text:
                raise DataError(f"{where}: {field!r} is empty; give every record its prompt, or remove the record.")
            return [{"role": "user", "content": text}], None
    if _missing(value):
        raise DataError(f"{where}: no {field!r}; give every record its prompt, or remove the record.")
    msgs = chat_messages(value, where, field, answered=False)
    if msgs[-1]["role"] == "assistant":
        return msgs[:-1], msgs[-1]["content"]
    return msgs, None


def to_row(rec: dict, fields: dict, where: str) -> dict[str, str]:
    """One record as text (the last user turn), prompt (JSON messages) and reference ("" where it has none)."""
    msgs, answered = prompt_messages(rec.get(fields["prompt"]), where, fields["prompt"])
    ref = rec.get(fields["reference"]) if fields["reference"] else None
    if _missing(ref):
        ref = answered
    if ref is not None and not isinstance(ref, (str, int, float)):
        raise DataError(f"{where}: {fields['reference']!r} holds a {type(ref).__name__}, not an answer; give it as "
                        "text or a number.")
    text = next(m["content"] for m in reversed(msgs) if m["role"] == "user")
    return {"text": text, "prompt": json.dumps(msgs, ensure_ascii=False),
            "reference": "" if ref is None else str(ref).strip()}


def to_frame(records: list[tuple[str, dict]], fields: dict, p: Path, bad: BadRecords | None = None) -> pd.DataFrame:
    """One row per record that can be read (see to_row); the others go to `bad`, which settles the file."""
    rows = readable_rows(records, p, to_row, fields, bad or BadRecords())
    return pd.DataFrame([row for _, row in rows], columns=["text", "prompt", "reference"])


def prepare_data(cfg, tokenizer=None, max_length=None):
    """Read, check, de-duplicate (on the prompt) and split."""
    bad = BadRecords(cfg.skip_bad_records)

    def frame_of(records, path):
        return to_frame(records, detect_fields(records, path.name, cfg.text_column, cfg.label_column), path, bad)

    p, records, frames, source, dropped = record_splits(cfg, frame_of, "prompt", "prompts", bad)
    fields = detect_fields(records, p.name, cfg.text_column, cfg.label_column)
    train = set(frames["train"]["prompt"].str.casefold())
    shared = {f"train-{s}": int(frames[s]["prompt"].str.casefold().isin(train).sum())
              for s in ("validation", "test") if s in frames}
    report = DataReport(
        text_column=str(fields["prompt"]), label_column=str(fields["reference"] or ""),
        columns=sorted({str(k) for _, r in records[:1000] for k in r}), labels=[],
        rows={k: len(v) for k, v in frames.items()},
        label_counts={k: {"prompts": len(v), "with_reference": int((v["reference"] != "").sum())}
                      for k, v in frames.items()},
        dropped_duplicates=dropped, shared_between_splits=shared, split_source=source)
    bad.note(report)
    describe_lengths(report, frames["train"]["text"])
    if tokenizer is not None:
        report.token_lengths = length_stats(count_tokens(frames["train"], tokenizer), max_length)
    report.warnings = skipped_warnings(report) + _warnings(report, frames)
    return PreparedData(splits=frames, labels=[], report=report)


def _warnings(r, frames: dict[str, pd.DataFrame]) -> list:
    w = []
    if r.rows["train"] < 20:
        w.append(Text(f"Only {r.rows['train']} training prompts: a few hundred give the rewards room to climb.",
                      f"只有 {r.rows['train']} 条训练提示：几百条才能让奖励有上升的空间。"))
    if r.dropped_duplicates:
        w.append(Text(f"{r.dropped_duplicates} duplicate prompt(s) were dropped.",
                      f"删除了 {r.dropped_duplicates} 条重复的提示。"))
    missing = sum(int((df["reference"] == "").sum()) for df in frames.values())
    if 0 < missing:
        total = sum(len(df) for df in frames.values())
        w.append(Text(f"{missing} of {total} prompts have no reference answer: the answer reward leaves them out.",
                      f"{total} 条提示中有 {missing} 条没有参考答案：答案奖励不计这些提示。"))
    return w + overlap_warnings(r, Text("prompt", "提示"))


def count_tokens(df: pd.DataFrame, tokenizer, sample: int = 5000) -> list[int]:
    """Tokens of each formatted prompt with the turn the model is to answer opened (what generation starts from);
    the answers' own budget is task_args.max_new_tokens."""
    tokenizer = ensure_chat_template(tokenizer)
    return [len(tokenizer(render(tokenizer, json.loads(m), add_generation_prompt=True), add_special_tokens=False)
                ["input_ids"]) for m in df["prompt"].head(sample)]


def length_series(df: pd.DataFrame, tokenizer, sample: int = 5000) -> dict[str, list[int]]:
    """Tokens per prompt (as generation starts from it) and per reference answer."""
    tokenizer = ensure_chat_template(tokenizer)
    refs = [len(tokenizer(r, add_special_tokens=False)["input_ids"]) for r in df["reference"].head(sample) if r]
    out = {Text("prompt", "提示"): count_tokens(df, tokenizer, sample)}
    if refs:
        out[Text("reference answer", "参考答案")] = refs
    return out


def bars(prepared) -> tuple[str, str, dict[str, dict[str, int]]]:
    """Prompts per split, with and without a reference answer."""
    out = {split: {"with reference": int((df["reference"] != "").sum()),
                   "without": int((df["reference"] == "").sum())} for split, df in prepared.splits.items()}
    return Text("prompts", "提示"), Text("prompts", "提示"), out


def check_run(cfg, prepared) -> None:
    """Before a run: the rewards are known and set right, a reward that reads references finds some, and vLLM is
    there when asked for."""
    own = cfg.task_args
    names = check_rewards(own)
    for name in names:
        if REWARDS[name].needs_reference and not (prepared.splits["train"]["reference"] != "").any():
            raise ConfigError(f"The {name} reward compares replies with reference answers, and "
                              f"{Path(cfg.data.train).name} has none (a field named "
                              f"{', '.join(REFERENCE_FIELDS[:3])} or target); add them, or pick other rewards.")
    validation = prepared.splits.get("validation")
    if (validation is not None and all(REWARDS[n].needs_reference for n in names)
            and not (validation["reference"] != "").any()):
        # No reward could score a validation reply: the validation reward, which picks the best checkpoint, would
        # be missing.
        raise ConfigError(f"No validation prompt has a reference answer, and every reward picked ({', '.join(names)}) "
                          "needs one; give the validation prompts their answers, or add a reward that needs none "
                          "(format, length, json).")
    if own.vllm_generation and importlib.util.find_spec("vllm") is None:
        raise ConfigError("task_args.vllm_generation: vLLM is not installed here (pip install vllm, on a machine with "
                          "a CUDA GPU); untick it to generate with transformers.")
