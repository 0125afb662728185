"""Instruction-tuning data: Alpaca-style records (instruction, optional input, output) or chat conversations
(role/content messages, ShareGPT's from/value, Human/Assistant transcripts) as splits of conversations, their
token lengths as training sees them, and the data check's bars."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from studio.base.text import Text
from studio.data import (
    DataError,
    DataReport,
    PreparedData,
    describe_lengths,
    length_stats,
    long_text_warnings,
    overlap_warnings,
    truncation_warnings,
)
from studio.data.bad_records import BadRecords, skipped_warnings
from studio.data.records import field_names
from studio.tasks.chat import (
    chat_messages,
    ensure_chat_template,
    readable_rows,
    record_splits,
    render,
    segments,
    transcript_turns,
)

CHAT_FIELDS = ("messages", "conversations", "conversation", "chat")


INSTRUCTION_FIELDS = ("instruction", "prompt", "question", "query")


INPUT_FIELDS = ("input", "context")


OUTPUT_FIELDS = ("output", "response", "answer", "completion")


def detect_fields(records: list[tuple[str, dict]], name: str, text_column: str | None = None,
                  label_column: str | None = None) -> dict[str, str | None]:
    """Which fields hold the chat, or the instruction, input and output (given names win over detection)."""
    keys = field_names(records, name, (("instruction or messages", text_column), ("output", label_column)))
    # Given names match the file's fields whatever their case.
    text_column = keys[text_column.lower()] if text_column else None
    label_column = keys[label_column.lower()] if label_column else None
    pick = lambda names: next((keys[n] for n in names if n in keys), None)  # noqa: E731
    named_chat = text_column and (text_column.lower() in CHAT_FIELDS or (
        label_column in (None, text_column) and _transcript_field(records, keys, text_column)))
    chat = text_column if named_chat else pick(CHAT_FIELDS)
    # Naming the chat field (as the Data tab does once it detected one) keeps the Alpaca fields of a mixed file.
    fields = {"chat": chat,
              "instruction": text_column if text_column and text_column != chat else pick(INSTRUCTION_FIELDS),
              "input": pick(INPUT_FIELDS), "output": label_column if label_column and label_column != chat
              else pick(OUTPUT_FIELDS), "system": pick(("system",))}
    if fields["chat"] is None and (fields["instruction"] is None or fields["output"] is None):
        transcript = _transcript_field(records, keys, text_column)
        if transcript is not None:
            return {**fields, "chat": transcript}
        raise DataError(f"{name}: found neither chat messages (a 'messages' list of role/content turns) nor "
                        f"instruction and output fields among {sorted(map(str, keys.values()))}; name the fields "
                        "instruction, input and output, or messages.")
    return fields


def _transcript_field(records: list[tuple[str, dict]], keys: dict[str, str], chosen: str | None) -> str | None:
    """The text field whose values are Human/Assistant transcripts (most of the first 50 records), if any."""
    names = [chosen] if chosen else [keys[k] for k in ("text", *CHAT_FIELDS) if k in keys]
    for name in names:
        values = [rec.get(name) for _, rec in records[:50] if isinstance(rec.get(name), str)]
        if values and sum(transcript_turns(v) is not None for v in values) >= 0.8 * len(values):
            return name
    return None


def _text(value: Any, field: str, where: str, required: bool = True) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        value = ""
    if not isinstance(value, str):
        raise DataError(f"{where}: {field!r} holds {type(value).__name__} values, not text; give it a string.")
    value = value.strip()
    if required and not value:
        what = "answer" if field in OUTPUT_FIELDS else "text"
        raise DataError(f"{where}: {field!r} is empty; give every record its {what}, or remove the record.")
    return value


def alpaca_messages(rec: dict, fields: dict, where: str) -> list[dict[str, str]]:
    instruction = _text(rec.get(fields["instruction"]), fields["instruction"], where)
    extra = _text(rec.get(fields["input"]), fields["input"], where, required=False) if fields["input"] else ""
    if fields["output"] not in rec:
        raise DataError(f"{where}: no {fields['output']!r} field; give every instruction its answer, or "
                        "remove the record.")
    output = _text(rec.get(fields["output"]), fields["output"], where)
    system = _text(rec.get(fields["system"]), "system", where, required=False) if fields["system"] else ""
    msgs = [{"role": "system", "content": system}] if system else []
    return msgs + [{"role": "user", "content": f"{instruction}\n\n{extra}" if extra else instruction},
                   {"role": "assistant", "content": output}]


def to_row(rec: dict, fields: dict, where: str) -> dict[str, str]:
    """One record as text (the last user turn), messages (JSON) and reference (the last answer)."""
    chat = rec.get(fields["chat"]) if fields["chat"] else None
    has_chat = chat is not None and not (isinstance(chat, float) and math.isnan(chat))
    if not has_chat and fields["instruction"] is None:
        raise DataError(f"{where}: no {fields['chat']!r} conversation; give every record its list of turns, "
                        "or remove the record.")
    msgs = chat_messages(chat, where, fields["chat"]) if has_chat else alpaca_messages(rec, fields, where)
    prompt = next(m["content"] for m in reversed(msgs) if m["role"] == "user")
    return {"text": prompt, "messages": json.dumps(msgs, ensure_ascii=False), "reference": msgs[-1]["content"]}


def to_frame(records: list[tuple[str, dict]], fields: dict, p: Path, bad: BadRecords | None = None) -> pd.DataFrame:
    """One row per record that can be read (see to_row); the others go to `bad`, which settles the file."""
    rows = readable_rows(records, p, to_row, fields, bad or BadRecords())
    return pd.DataFrame([row for _, row in rows], columns=["text", "messages", "reference"])


def prepare_data(cfg, tokenizer=None, max_length=None):
    """Read, check, normalise to conversations, de-duplicate and split."""
    bad = BadRecords(cfg.skip_bad_records)

    def frame_of(records, path):
        return to_frame(records, detect_fields(records, path.name, cfg.text_column, cfg.label_column), path, bad)

    p, records, frames, source, dropped = record_splits(cfg, frame_of, "messages",
                                                        "instruction/output records or chat conversations", bad)
    fields = detect_fields(records, p.name, cfg.text_column, cfg.label_column)
    train_prompts = set(_prompt_keys(frames["train"]))
    shared = {f"train-{s}": int(_prompt_keys(frames[s]).isin(train_prompts).sum())
              for s in ("validation", "test") if s in frames}
    report = DataReport(
        text_column=str(fields["chat"] or fields["instruction"]), label_column=str(fields["chat"] or fields["output"]),
        columns=sorted({str(k) for _, r in records[:1000] for k in r}), labels=[],
        rows={k: len(v) for k, v in frames.items()},
        # SFT has no classes: per split, the records and the assistant turns that are trained on.
        label_counts={k: {"records": len(v), "assistant_turns": _assistant_turns(v)} for k, v in frames.items()},
        dropped_duplicates=dropped, shared_between_splits=shared, split_source=source,
    )
    bad.note(report)
    describe_lengths(report, frames["train"]["messages"])
    if tokenizer is not None:
        report.token_lengths = length_stats(count_tokens(frames["train"], tokenizer), max_length)
    report.warnings = skipped_warnings(report) + _warnings(report, max_length)
    return PreparedData(splits=frames, labels=[], report=report)


def _prompt_keys(df: pd.DataFrame) -> pd.Series:
    """The whole conversation up to the answer, case-folded: a prompt repeated in another split is a leak."""
    return df["messages"].map(lambda m: json.dumps(json.loads(m)[:-1]).casefold())


def _assistant_turns(df: pd.DataFrame) -> int:
    return sum(m["role"] == "assistant" for c in df["messages"] for m in json.loads(c))


def _warnings(r, max_length: int | None) -> list[str]:
    w = []
    if r.rows["train"] < 20:
        w.append(Text(f"Only {r.rows['train']} training records: the model will learn little; a few hundred is "
                      "a good start.",
                      f"只有 {r.rows['train']} 条训练记录：模型学不到多少东西；几百条是不错的起点。"))
    if r.dropped_duplicates:
        w.append(Text(f"{r.dropped_duplicates} duplicate record(s) were dropped.",
                      f"删除了 {r.dropped_duplicates} 条重复的记录。"))
    w += overlap_warnings(r, Text("prompt", "提示")) + long_text_warnings(r, Text("training conversation", "训练对话"))
    return w + truncation_warnings(r, max_length, Text("conversations", "对话"),
                                   Text(" and will be truncated; raise max_length to keep whole answers",
                                        "，将被截断；请调大 max_length 以保留完整的回答"))


def count_tokens(df: pd.DataFrame, tokenizer, sample: int = 5000) -> list[int]:
    """Tokens of each whole formatted conversation (what training sees), over the first `sample` records."""
    tokenizer = ensure_chat_template(tokenizer)
    msgs = [json.loads(m) for m in df["messages"].head(sample)]
    return [len(tokenizer(render(tokenizer, m), add_special_tokens=False)["input_ids"]) for m in msgs]


def length_series(df: pd.DataFrame, tokenizer, sample: int = 5000) -> dict[str, list[int]]:
    """Tokens per conversation split as training sees it: prompt (every token without a label: system, user turns,
    the template's markup) and answer (the assistant turns the loss is on). Each pair adds up to count_tokens."""
    tokenizer = ensure_chat_template(tokenizer)
    prompts, answers = [], []
    for m in df["messages"].head(sample):
        pieces = [(len(tokenizer(text, add_special_tokens=False)["input_ids"]), answer)
                  for text, answer in segments(tokenizer, json.loads(m))]
        prompts.append(sum(n for n, answer in pieces if not answer))
        answers.append(sum(n for n, answer in pieces if answer))
    return {Text("prompt", "提示"): prompts, Text("answer", "回答"): answers}


def turn_bars(prepared) -> tuple[str, str, dict[str, dict[str, int]]]:
    """Conversations by their number of user turns, per split (a single question and answer is 1)."""
    out = {}
    for split, df in prepared.splits.items():
        turns = [sum(m["role"] == "user" for m in json.loads(c)) for c in df["messages"]]
        out[split] = {str(k): turns.count(k) for k in sorted(set(turns))}
    return Text("user turns per conversation", "每段对话的用户轮数"), Text("conversations", "对话"), out
