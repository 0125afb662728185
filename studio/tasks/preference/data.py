"""Preference data in the shapes the field publishes it: prompt + chosen + rejected (text or message lists, with
or without a separate prompt), Anthropic HH transcripts, or unpaired prompt + completion + label (KTO), as
splits of text, prompt (JSON messages), chosen and rejected; their token lengths and the data check's bars."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
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
    transcript_turns,
)

PROMPT_FIELDS = ("prompt", "instruction", "question", "query", "input")


CHOSEN_FIELDS = ("chosen", "preferred", "accepted", "response_chosen", "chosen_response")


REJECTED_FIELDS = ("rejected", "dispreferred", "response_rejected", "rejected_response")


COMPLETION_FIELDS = ("completion", "response", "answer", "output")


LABEL_FIELDS = ("label", "desirable", "kto_label", "good")


TRUE_WORDS = {"true", "1", "yes", "good", "desirable", "chosen"}


FALSE_WORDS = {"false", "0", "no", "bad", "undesirable", "rejected"}


PAIRED_LOSSES = ("dpo", "orpo")    # these need both answers of every record; kto also learns from one


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def detect_fields(records: list[tuple[str, dict]], name: str, text_column: str | None = None,
                  label_column: str | None = None) -> dict[str, str | None]:
    """Which fields hold the prompt, the chosen and rejected answers, or an unpaired completion and its label."""
    keys = field_names(records, name, (("prompt", text_column), ("chosen answer", label_column)))
    pick = lambda names: next((keys[n] for n in names if n in keys), None)  # noqa: E731
    fields = {"prompt": keys[text_column.lower()] if text_column else pick(PROMPT_FIELDS),
              "chosen": keys[label_column.lower()] if label_column else pick(CHOSEN_FIELDS),
              "rejected": pick(REJECTED_FIELDS), "completion": pick(COMPLETION_FIELDS), "label": pick(LABEL_FIELDS)}
    if fields["chosen"] and fields["rejected"]:
        return {**fields, "completion": None, "label": None}
    if fields["completion"] and fields["label"] and fields["prompt"]:
        return {**fields, "chosen": None, "rejected": None}
    found = sorted(map(str, keys.values()))
    if fields["chosen"] or fields["rejected"]:
        lacking = "rejected" if fields["chosen"] else "chosen"
        raise DataError(f"{name}: there is no {lacking!r} field beside {fields['chosen'] or fields['rejected']!r} "
                        f"(fields: {found}); give every prompt a chosen and a rejected answer, or use prompt, "
                        "completion and a true/false label for unpaired answers (KTO).")
    raise DataError(f"{name}: found neither chosen and rejected answers nor prompt, completion and label fields among "
                    f"{found}; preference data needs prompt, chosen and rejected (or completion and label).")


def _answer_turns(value: Any, field: str, where: str) -> list[dict[str, str]] | str:
    """A chosen/rejected value: plain text, or the messages of a whole conversation (lists, JSON, transcripts),
    whose last answer may be empty (a silent refusal: trained on as the end of the turn alone)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            try:
                value = json.loads(stripped)
            except json.JSONDecodeError:
                return stripped
        else:
            turns = transcript_turns(value)
            return chat_messages(turns, where, field, silent_answer=True) if turns else stripped
    if isinstance(value, list):
        return chat_messages(value, where, field, silent_answer=True)
    raise DataError(f"{where}: {field!r} holds {type(value).__name__} values; give text or a list of messages.")


def _prompt_messages(value: Any, field: str, where: str) -> list[dict[str, str]]:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list):
        msgs = [{"role": str(m.get("role", "user")), "content": str(m.get("content", "")).strip()}
                for m in value if isinstance(m, dict)]
        if not msgs or not any(m["role"] == "user" and m["content"] for m in msgs):
            raise DataError(f"{where}: {field!r} has no user message with text; give every record its prompt.")
        return msgs
    if _missing(value) or not str(value).strip():
        raise DataError(f"{where}: {field!r} is empty; give every record its prompt, or remove the record.")
    return [{"role": "user", "content": str(value).strip()}]


def _split_shared(chosen: list[dict], rejected: list[dict], where: str) -> tuple[list[dict], str, str]:
    """Two whole conversations: the turns they share are the prompt, each one's last answer what differs."""
    if chosen[:-1] != rejected[:-1]:
        raise DataError(f"{where}: the chosen and rejected conversations differ before their last answer; they must "
                        "share the prompt and differ only in the final assistant turn.")
    return chosen[:-1], chosen[-1]["content"], rejected[-1]["content"]


def _label(value: Any, field: str, where: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    word = str(value).strip().lower()
    if word in TRUE_WORDS | FALSE_WORDS:
        return word in TRUE_WORDS
    raise DataError(f"{where}: {field!r} is {value!r}; give true for a good answer and false for a bad one.")


def _answer_text(value: Any, field: str, where: str) -> str:
    if _missing(value) or not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: the {field!r} answer is empty; give every record both answers, or remove it.")
    return value.strip()


def to_row(rec: dict, fields: dict, where: str) -> dict[str, str | None]:
    """One record as text, prompt (JSON messages), chosen and rejected (one of them None when unpaired; an answer
    that ends a conversation may be empty)."""
    if fields["completion"]:
        prompt = _prompt_messages(rec.get(fields["prompt"]), fields["prompt"], where)
        answer = _answer_text(rec.get(fields["completion"]), fields["completion"], where)
        good = _label(rec.get(fields["label"]), fields["label"], where)
        chosen, rejected = (answer, None) if good else (None, answer)
    else:
        c = _answer_turns(rec.get(fields["chosen"]) if not _missing(rec.get(fields["chosen"])) else "",
                          fields["chosen"], where)
        r = _answer_turns(rec.get(fields["rejected"]) if not _missing(rec.get(fields["rejected"])) else "",
                          fields["rejected"], where)
        if (isinstance(c, list) and isinstance(r, list)
            and not (fields["prompt"] and not _missing(rec.get(fields["prompt"])))):
            prompt, chosen, rejected = _split_shared(c, r, where)
        else:
            if not fields["prompt"]:
                raise DataError(f"{where}: no prompt field, and the answers are plain text; add a 'prompt' field.")
            prompt = _prompt_messages(rec.get(fields["prompt"]), fields["prompt"], where)
            chosen = c[-1]["content"] if isinstance(c, list) else c
            rejected = r[-1]["content"] if isinstance(r, list) else r
        # A plain-text answer must have text (an empty cell is as likely a missing answer as a silent one).
        chosen = chosen if isinstance(c, list) else _answer_text(chosen, fields["chosen"], where)
        rejected = rejected if isinstance(r, list) else _answer_text(rejected, fields["rejected"], where)
    text = next((m["content"] for m in reversed(prompt) if m["role"] == "user"), prompt[-1]["content"])
    return {"text": text, "prompt": json.dumps(prompt, ensure_ascii=False), "chosen": chosen, "rejected": rejected}


def to_frame(records: list[tuple[str, dict]], fields: dict, p: Path, bad: BadRecords | None = None) -> pd.DataFrame:
    read = readable_rows(records, p, to_row, fields, bad or BadRecords())
    df = pd.DataFrame([row for _, row in read], columns=["text", "prompt", "chosen", "rejected"])
    same = df[df["chosen"].notna()
              & (df["chosen"].str.split().str.join(" ") == df["rejected"].str.split().str.join(" "))]
    if len(same):
        first = read[int(same.index[0])][0]
        raise DataError(f"{p.name}: {len(same)} record(s) have the same chosen and rejected answer (first: {first}), "
                        "which teaches nothing; fix the rejected answer or remove the record.")
    return df


def prepare_data(cfg, tokenizer=None, max_length=None):
    """Read, check, normalise to prompt/chosen/rejected, de-duplicate and split."""
    bad = BadRecords(cfg.skip_bad_records)

    def frame_of(records, path):
        return to_frame(records, detect_fields(records, path.name, cfg.text_column, cfg.label_column), path, bad)

    p, records, frames, source, dropped = record_splits(cfg, frame_of, ["prompt", "chosen", "rejected"],
                                                        "prompt, chosen and rejected records", bad)
    fields = detect_fields(records, p.name, cfg.text_column, cfg.label_column)
    train_prompts = set(frames["train"]["prompt"].str.casefold())
    shared = {f"train-{s}": int(frames[s]["prompt"].str.casefold().isin(train_prompts).sum())
              for s in ("validation", "test") if s in frames}
    report = DataReport(
        text_column=str(fields["prompt"] or fields["chosen"]),
        label_column=str(fields["chosen"] or fields["completion"]),
        columns=sorted({str(k) for _, r in records[:1000] for k in r}), labels=[],
        rows={k: len(v) for k, v in frames.items()}, label_counts={k: pair_counts(v) for k, v in frames.items()},
        dropped_duplicates=dropped, shared_between_splits=shared, split_source=source)
    bad.note(report)
    describe_lengths(report, frames["train"]["prompt"] + frames["train"]["chosen"].fillna(""))
    if tokenizer is not None:
        series = length_series(frames["train"], tokenizer)
        report.token_lengths = length_stats(_longest(series), max_length)
    report.warnings = _warnings(report, max_length)
    if tokenizer is not None and max_length:
        report.warnings += _no_room_warnings(series["prompt"], max_length, len(frames["train"]))
    return PreparedData(splits=frames, labels=[], report=report)


def pair_counts(df: pd.DataFrame) -> dict[str, int]:
    """Records with both answers, and unpaired ones with only a good or only a bad answer."""
    chosen, rejected = df["chosen"].notna(), df["rejected"].notna()
    return {"pairs": int((chosen & rejected).sum()), "good only": int((chosen & ~rejected).sum()),
            "bad only": int((~chosen & rejected).sum())}


def _warnings(r: DataReport, max_length: int | None) -> list[str]:
    w = []
    if r.rows["train"] < 20:
        w.append(Text(f"Only {r.rows['train']} training records: the model will learn little; a few hundred pairs is "
                      "a good start.",
                      f"只有 {r.rows['train']} 条训练记录：模型学不到多少东西；几百对是不错的起点。"))
    if r.dropped_duplicates:
        w.append(Text(f"{r.dropped_duplicates} duplicate record(s) were dropped.",
                      f"删除了 {r.dropped_duplicates} 条重复的记录。"))
    w += skipped_warnings(r)
    unpaired = r.label_counts["train"]["good only"] + r.label_counts["train"]["bad only"]
    if unpaired:
        w.append(Text(f"{unpaired} training record(s) have one answer only: KTO learns from them; DPO and ORPO need "
                      "pairs.",
                      f"{unpaired} 条训练记录只有一个回答：KTO 能从中学习；DPO 和 ORPO 需要成对的回答。"))
    w += overlap_warnings(r, Text("prompt", "提示")) + long_text_warnings(r, Text("training record", "训练记录"))
    return w + truncation_warnings(r, max_length, Text("prompt-and-answer sequences", "提示加回答的序列"),
                                   Text(" and will be truncated; raise max_length to keep whole answers",
                                        "，将被截断；请调大 max_length 以保留完整的回答"))


def length_series(df: pd.DataFrame, tokenizer, sample: int = 5000) -> dict[str, list[int]]:
    """Tokens per record as training sees them: the formatted prompt and each answer (with its end of turn)."""
    tokenizer = ensure_chat_template(tokenizer)
    count = lambda s: (len(tokenizer(s, add_special_tokens=False)["input_ids"])  # noqa: E731
                       if isinstance(s, str) else 0)
    out: dict[str, list[int]] = {Text("prompt", "提示"): [], Text("chosen", "更优回答"): [],
                                 Text("rejected", "较差回答"): []}
    for _, r in df.head(sample).iterrows():
        prompt = render(tokenizer, json.loads(r["prompt"]), add_generation_prompt=True)
        out["prompt"].append(count(prompt))
        out["chosen"].append(count(r["chosen"]))
        out["rejected"].append(count(r["rejected"]))
    return out


def count_tokens(df: pd.DataFrame, tokenizer, sample: int = 5000) -> list[int]:
    """Tokens of the prompt with its longer answer: the longest sequence training builds from a record."""
    return _longest(length_series(df, tokenizer, sample))


def _longest(s: dict[str, list[int]]) -> list[int]:
    return [p + max(c, r) for p, c, r in zip(s["prompt"], s["chosen"], s["rejected"])]


def _no_room_warnings(prompts: list[int], max_length: int, records: int) -> list[Text]:
    """Records whose prompt alone fills max_length: training leaves them out (tokens.with_room_for_answers)."""
    full = sum(1 for n in prompts if n >= max_length)
    if not full:
        return []
    counted = len(prompts)
    of = f"{full:,} of {counted:,}" + (f" counted (of {records:,})" if counted < records else "")
    of_zh = f"{counted:,} 条" + (f"（共 {records:,} 条）" if counted < records else "") + f"中有 {full:,} 条"
    return [Text(f"{of} training records ({full / counted:.0%}) have prompts of max_length={max_length} tokens or "
                 "more: training leaves them out, since no answer token would fit. Raise max_length, or leave it "
                 "empty to take it from the data.",
                 f"{of_zh}训练记录（{full / counted:.0%}）的提示本身就达到 max_length={max_length} 个词元：训练会把它们"
                 "排除在外，因为放不下任何回答词元。请调大 max_length，或留空以按数据选取。")]


def bars(prepared) -> tuple[str, str, dict[str, dict[str, int]]]:
    return (Text("records", "记录"), Text("records", "记录"),
            {split: pair_counts(df) for split, df in prepared.splits.items()})


def check_pairs(loss: str, splits: dict[str, pd.DataFrame]) -> None:
    if loss in PAIRED_LOSSES:
        lone = int(sum((df["chosen"].isna() | df["rejected"].isna()).sum() for df in splits.values()))
        if lone:
            raise DataError(f"{lone} record(s) have one answer only; {loss.upper()} learns from pairs, so give them "
                            "both answers or set task_args.preference_loss to kto, which also learns from "
                            "single answers.")


def check_run(cfg, prepared) -> None:
    """DPO and ORPO need both answers of every record: said before a run exists."""
    check_pairs(cfg.task_args.preference_loss, prepared.splits)
