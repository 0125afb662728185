"""Extractive QA's data: SQuAD-style records read and checked (the nested SQuAD JSON, flat records, tables), the
split, and token counts of each question with its context."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studio.base.text import Text
from studio.data import (
    DataError,
    DataReport,
    PreparedData,
    check_file,
    describe_lengths,
    length_stats,
    overlap_warnings,
    split_rows,
)
from studio.data.bad_records import BadRecords, skipped_warnings
from studio.data.records import field_names, read_records

QUESTION_NAMES = ("question", "query", "q", "questions")
CONTEXT_NAMES = ("context", "passage", "paragraph", "document", "article", "text", "contexts")
ANSWER_NAMES = ("answers", "answer", "answer_text", "answer_texts", "label")
START_NAMES = ("answer_start", "answer_starts", "start", "answer_start_char")


# ------------------------------------------------------------------------------------------------- reading --
def read_qa_records(path: str, role: str = "Training", bad: BadRecords | None = None,
                    ) -> tuple[Path, list[tuple[str, dict]]]:
    """The file's question records with where each sits; the nested SQuAD JSON is flattened, each question then
    a record with its paragraph's context. With `bad`, records that cannot be parsed are counted there."""
    p = check_file(path, role)
    if p.suffix.lower() == ".json":
        try:
            raw = json.loads(p.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError:
            raw = None  # read_records says what is wrong
        if isinstance(raw, dict) and isinstance(raw.get("data"), list):
            return p, list(_squad_nested(raw["data"]))
    return read_records(path, role, bad)


def _squad_nested(articles: list) -> list[tuple[str, dict]]:
    out = []
    for a, article in enumerate(articles):
        for g, para in enumerate((article or {}).get("paragraphs") or []):
            for q, qa in enumerate(para.get("qas") or []):
                out.append((f"article {a + 1}, paragraph {g + 1}, question {q + 1}",
                            {"question": qa.get("question"), "context": para.get("context"),
                             "answers": qa.get("answers") or [], "id": qa.get("id")}))
    return out


def detect_fields(records: list[tuple[str, dict]], name: str, cfg) -> dict[str, str | None]:
    """Which fields hold the question, the context, the answers and (optionally) their start offsets."""
    given = (("question", cfg.text_column), ("context", cfg.context_column), ("answers", cfg.label_column))
    keys = field_names(records, name, given)
    pick = lambda chosen, names: keys[chosen.lower()] if chosen else next((keys[n] for n in names if n in keys), None)
    fields = {"question": pick(cfg.text_column, QUESTION_NAMES), "context": pick(cfg.context_column, CONTEXT_NAMES),
              "answers": pick(cfg.label_column, ANSWER_NAMES), "start": pick(None, START_NAMES)}
    missing = [role for role in ("question", "context", "answers") if not fields[role]]
    if missing:
        raise DataError(f"{name}: no {' or '.join(missing)} field among {sorted(map(str, keys.values()))}; name them "
                        "question, context and answers (SQuAD style), or choose them in the column pickers.")
    if len({fields["question"], fields["context"], fields["answers"]}) < 3:
        raise DataError(f"{name}: the question, context and answer fields must differ; choose three fields.")
    return fields


def _listed(value) -> list:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            return list(json.loads(value))
        except ValueError:
            return [value]
    return list(value) if isinstance(value, (list, tuple)) else [value]


def answers_of(rec: dict, fields: dict) -> list[tuple[str, int | None]]:
    """(text, start or None) of each answer a record gives, in the shapes datasets and SQuAD write them."""
    raw = rec.get(fields["answers"])
    if isinstance(raw, dict):  # {"text": [...], "answer_start": [...]}
        texts, starts = _listed(raw.get("text")), _listed(raw.get("answer_start"))
    elif isinstance(raw, (list, tuple, np.ndarray)) and len(raw) and isinstance(raw[0], dict):
        texts, starts = [a.get("text") for a in raw], [a.get("answer_start") for a in raw]
    else:
        texts, starts = _listed(raw), _listed(rec.get(fields["start"])) if fields["start"] else []
    starts = starts + [None] * (len(texts) - len(starts))
    return [(str(t), int(s) if isinstance(s, (int, float)) and not isinstance(s, bool) else None)
            for t, s in zip(texts, starts) if t is not None and str(t).strip()]


def locate(context: str, answer: str, start: int | None) -> int | None:
    """The answer's offset in the context: the given start where the text is there, else its first occurrence."""
    if start is not None and context[start:start + len(answer)] == answer:
        return start
    found = context.find(answer)
    return found if found >= 0 else None


def to_frame(records: list[tuple[str, dict]], fields: dict, name: str,
             bad: BadRecords | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The split's rows and what was left out ({"unanswerable": n, "not_found": n, "first_not_found": where});
    records that cannot be read go to `bad`, which settles the file."""
    bad = bad or BadRecords()
    rows, dropped = [], {"unanswerable": 0, "not_found": 0, "first_not_found": None}
    for where, rec in records:
        question, context = rec.get(fields["question"]), rec.get(fields["context"])
        if not isinstance(question, str) or not question.strip() or not isinstance(context, str) or not context.strip():
            bad.add(name, where, f"{name} {where}: the question or its context is empty; fill it or remove the "
                    "record.")
            continue
        answers = answers_of(rec, fields)
        located = [(a, locate(context, a, s)) for a, s in answers]
        kept = [(a, s) for a, s in located if s is not None]
        if not answers:
            dropped["unanswerable"] += 1
            continue
        if not kept:
            dropped["not_found"] += 1
            dropped["first_not_found"] = dropped["first_not_found"] or where
            continue
        rows.append({"text": question.strip(), "question": question.strip(), "context": context,
                     "answer": kept[0][0], "answer_start": kept[0][1],
                     "answers": json.dumps([a for a, _ in kept], ensure_ascii=False)})
    bad.settle(name, len(rows) + dropped["unanswerable"] + dropped["not_found"])
    cols = ["text", "question", "context", "answer", "answer_start", "answers"]
    return pd.DataFrame(rows, columns=cols), dropped


# ------------------------------------------------------------------------------------------------- prepare --
def prepare_data(cfg, tokenizer=None, max_length=None) -> PreparedData:
    """Read, check, de-duplicate and split question records (cfg: a data.DataConfig)."""
    bad = BadRecords(cfg.skip_bad_records)
    p, records = read_qa_records(cfg.train, "Training", bad)
    if not records:
        raise DataError(f"{p.name} has no records; add questions with their context and answer.")
    fields = detect_fields(records, p.name, cfg)
    frames, source, dropped = {}, {"train": p.name}, Counter()
    frames["train"], left = to_frame(records, fields, p.name, bad)
    dropped.update({k: v for k, v in left.items() if isinstance(v, int)})
    first_missing = left["first_not_found"]
    for split in ("validation", "test"):
        path = getattr(cfg, split)
        if path:
            sp, srecs = read_qa_records(path, split.capitalize(), bad)
            frames[split], left = to_frame(srecs, detect_fields(srecs, sp.name, cfg), sp.name, bad)
            dropped.update({k: v for k, v in left.items() if isinstance(v, int)})
            source[split] = sp.name
    if frames["train"].empty:
        raise DataError(f"{p.name}: no question has an answer found in its context ({dropped['unanswerable']} "
                        f"without an answer, {dropped['not_found']} whose answer is not in the context); an extractive "
                        "answer must be a span of its context.")
    before = sum(len(f) for f in frames.values())
    frames = {k: f.drop_duplicates(["question", "context"]).reset_index(drop=True) for k, f in frames.items()}
    duplicates = before - sum(len(f) for f in frames.values())
    frames, source = split_rows(frames, source, cfg, p.name, unit="question")
    report = bad.note(_report(frames, source, fields, records, duplicates))
    if tokenizer is not None:
        report.token_lengths = length_stats(count_tokens(frames["train"], tokenizer), max_length)
    report.warnings = skipped_warnings(report) + _warnings(report, dropped, first_missing, max_length)
    return PreparedData(splits=frames, labels=[], report=report)


def _report(frames, source, fields, records, duplicates: int) -> DataReport:
    train_pairs = set(zip(frames["train"]["question"].str.casefold(), frames["train"]["context"]))
    shared = {f"train-{k}": int(sum((q.casefold(), c) in train_pairs for q, c in zip(f["question"], f["context"])))
              for k, f in frames.items() if k != "train"}
    columns = sorted({str(k) for _, r in records[:1000] for k in r})
    report = DataReport(text_column=fields["question"], label_column=fields["answers"], columns=columns, labels=[],
                        rows={k: len(v) for k, v in frames.items()},
                        label_counts={k: {"questions": len(v)} for k, v in frames.items()},
                        dropped_duplicates=duplicates, shared_between_splits=shared, split_source=source,
                        context_column=fields["context"])
    describe_lengths(report, frames["train"]["context"])
    return report


def _warnings(r: DataReport, dropped: Counter, first_missing: str | None, max_length: int | None) -> list[str]:
    w = []
    if dropped["unanswerable"]:
        w.append(Text(f"{dropped['unanswerable']} question(s) without an answer (SQuAD 2.0's unanswerable ones) were "
                      "left out: the studio trains extractive answers.",
                      f"略去了 {dropped['unanswerable']} 个没有答案的问题（SQuAD 2.0 中无法回答的问题）："
                      "工作室训练的是抽取式答案。"))
    if dropped["not_found"]:
        w.append(Text(f"{dropped['not_found']} question(s) whose answer is not in their context were left out (the "
                      f"first: {first_missing}); check their answer text.",
                      f"略去了 {dropped['not_found']} 个答案不在其上下文中的问题（第一个：{first_missing}）；"
                      "请检查它们的答案文本。"))
    if r.dropped_duplicates:
        w.append(Text(f"{r.dropped_duplicates} repeated question(s) on the same context were dropped.",
                      f"删除了 {r.dropped_duplicates} 个针对同一上下文的重复问题。"))
    if r.rows["train"] < 100:
        w.append(Text(f"Only {r.rows['train']} training questions; a question-answering head needs a few hundred.",
                      f"只有 {r.rows['train']} 个训练问题；问答头需要几百个。"))
    w += overlap_warnings(r, Text("question", "问题"))
    tl = r.token_lengths or {}
    if max_length and tl.get("truncated_share", 0) > 0.05:
        w.append(Text(f"{tl['truncated_share']:.0%} of question + context pairs are longer than max_length="
                      f"{max_length} tokens: they are read in overlapping windows (task_args.doc_stride), which trains "
                      "and predicts more slowly.",
                      f"{tl['truncated_share']:.0%} 的问题加上下文超过 max_length={max_length} 个词元：它们会分成"
                      "相互重叠的窗口读取（task_args.doc_stride），训练和预测都会更慢。"))
    return w


def count_tokens(df: pd.DataFrame, tokenizer, sample: int = 5000) -> list[int]:
    """Tokens of each question with its context, as the model reads the pair (before windowing)."""
    head = df.head(sample)
    return [len(ids) for ids in tokenizer(head["question"].tolist(), head["context"].tolist())["input_ids"]]


def length_series(df: pd.DataFrame, tokenizer, sample: int = 5000) -> dict[str, list[int]]:
    head = df.head(sample)
    count = lambda texts: [len(ids)
                           for ids in tokenizer([str(t) for t in texts], add_special_tokens=False)["input_ids"]]
    return {Text("question", "问题"): count(head["question"]), Text("context", "上下文"): count(head["context"])}
