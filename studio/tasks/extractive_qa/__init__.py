"""Extractive question answering: a question and a passage in, the span of the passage that answers it out.

Data: SQuAD-style records, as the field publishes them: the nested SQuAD JSON (data -> paragraphs -> qas), flat
records with question, context and answers ({"text": [...], "answer_start": [...]}, as Hugging Face datasets
exports them, or a list of {text, answer_start}), or a table (CSV, TSV, JSONL, Parquet) with question, context and
answer columns (answer_start optional: the answer is found in its context). Questions without an answer (SQuAD
2.0's unanswerable ones) and answers that are not in their context are left out and counted, not a reason to
refuse the file. Every split is a DataFrame with columns question, context, answer (the first answer), answer_start
(its character offset), answers (every accepted answer, JSON) and text (the question, as a person reads it).

Training reads each question with its context (only the context is truncated); a context longer than max_length
is read in overlapping windows (task_args.doc_stride), each labelled with the answer's first and last token, or
the first token where the window does not hold it. The best span over every window is the prediction: start and
end logits added, the end not before the start, at most task_args.max_answer_length tokens. Scores are SQuAD's:
exact match and token F1 after lower-casing and dropping punctuation and articles, against the best of the
question's answers, as shares (0-1).
"""

from __future__ import annotations

import json
import re
import string
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studio.base.policy import trust_remote_code
from studio.base.settings import setting
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
from studio.data.records import field_names, read_records
from studio.tasks.base import (
    QUESTION_CONTEXT,
    DataFacts,
    MetricFacts,
    ModelFacts,
    PredictionRows,
    Task,
    TaskTexts,
    TrainerParts,
    split_bars,
)
from studio.tasks.loading import padded_tokenizer

QUESTION_NAMES = ("question", "query", "q", "questions")
CONTEXT_NAMES = ("context", "passage", "paragraph", "document", "article", "text", "contexts")
ANSWER_NAMES = ("answers", "answer", "answer_text", "answer_texts", "label")
START_NAMES = ("answer_start", "answer_starts", "start", "answer_start_char")
NO_SPAN = (-1, -1)  # the offsets of a token that is not the context's (the question, special tokens)


@dataclass
class Settings:
    """The settings extractive question answering alone reads (cfg.task_args)."""

    doc_stride: int = setting(64, "Tokens two windows of a long context share: a context longer than max_length is "
                              "read in overlapping windows so no answer is cut at a window's edge.", min=8, max=4096,
                              label=Text("Window overlap (tokens)", "窗口重叠（词元）"))
    max_answer_length: int = setting(30, "Longest answer in tokens a prediction may be.", min=1, max=512,
                                     label=Text("Longest answer (tokens)", "最长答案（词元）"))


# ------------------------------------------------------------------------------------------------- reading --
def read_qa_records(path: str, role: str = "Training") -> tuple[Path, list[tuple[str, dict]]]:
    """The file's question records with where each sits; the nested SQuAD JSON is flattened, each question then
    a record with its paragraph's context."""
    p = check_file(path, role)
    if p.suffix.lower() == ".json":
        try:
            raw = json.loads(p.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError:
            raw = None  # read_records says what is wrong
        if isinstance(raw, dict) and isinstance(raw.get("data"), list):
            return p, list(_squad_nested(raw["data"]))
    return read_records(path, role)


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


def to_frame(records: list[tuple[str, dict]], fields: dict, name: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The split's rows and what was left out ({"unanswerable": n, "not_found": n, "first_not_found": where})."""
    rows, dropped = [], {"unanswerable": 0, "not_found": 0, "first_not_found": None}
    for where, rec in records:
        question, context = rec.get(fields["question"]), rec.get(fields["context"])
        if not isinstance(question, str) or not question.strip() or not isinstance(context, str) or not context.strip():
            raise DataError(f"{name} {where}: the question or its context is empty; fill it or remove the record.")
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
    cols = ["text", "question", "context", "answer", "answer_start", "answers"]
    return pd.DataFrame(rows, columns=cols), dropped


# ------------------------------------------------------------------------------------------------- prepare --
def prepare_data(cfg, tokenizer=None, max_length=None) -> PreparedData:
    """Read, check, de-duplicate and split question records (cfg: a data.DataConfig)."""
    p, records = read_qa_records(cfg.train, "Training")
    if not records:
        raise DataError(f"{p.name} has no records; add questions with their context and answer.")
    fields = detect_fields(records, p.name, cfg)
    frames, source, dropped = {}, {"train": p.name}, Counter()
    frames["train"], left = to_frame(records, fields, p.name)
    dropped.update({k: v for k, v in left.items() if isinstance(v, int)})
    first_missing = left["first_not_found"]
    for split in ("validation", "test"):
        path = getattr(cfg, split)
        if path:
            sp, srecs = read_qa_records(path, split.capitalize())
            frames[split], left = to_frame(srecs, detect_fields(srecs, sp.name, cfg), sp.name)
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
    report = _report(frames, source, fields, records, duplicates)
    if tokenizer is not None:
        report.token_lengths = length_stats(count_tokens(frames["train"], tokenizer), max_length)
    report.warnings = _warnings(report, dropped, first_missing, max_length)
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
        w.append(f"{dropped['unanswerable']} question(s) without an answer (SQuAD 2.0's unanswerable ones) were left "
                 "out: the studio trains extractive answers.")
    if dropped["not_found"]:
        w.append(f"{dropped['not_found']} question(s) whose answer is not in their context were left out (the first: "
                 f"{first_missing}); check their answer text.")
    if r.dropped_duplicates:
        w.append(f"{r.dropped_duplicates} repeated question(s) on the same context were dropped.")
    if r.rows["train"] < 100:
        w.append(f"Only {r.rows['train']} training questions; a question-answering head needs a few hundred.")
    w += overlap_warnings(r, "question")
    tl = r.token_lengths or {}
    if max_length and tl.get("truncated_share", 0) > 0.05:
        w.append(f"{tl['truncated_share']:.0%} of question + context pairs are longer than max_length={max_length} "
                 "tokens: they are read in overlapping windows (task_args.doc_stride), which trains and predicts "
                 "more slowly.")
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


# --------------------------------------------------------------------------------------------------- model --
def load_tokenizer(path, **kw):
    return padded_tokenizer(path, **kw)


def load_model(path, labels: list[str] | None = None, tokenizer=None, **kw):
    """The base with a span head (a start and an end score per token); safetensors only."""
    from transformers import AutoModelForQuestionAnswering

    kw.setdefault("use_safetensors", True)
    kw.setdefault("trust_remote_code", trust_remote_code())
    return AutoModelForQuestionAnswering.from_pretrained(str(path), **kw)


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


# ---------------------------------------------------------------------------------------------- the spans --
def best_spans(start_logits, end_logits, example_ids: list[int], offsets: list, contexts: list[str],
               max_answer_length: int, top: int = 20) -> list[dict[str, Any]]:
    """Each example's best answer over its windows: {"answer", "start", "end", "score"}, score the span's
    probability under the window's start and end distributions."""
    best: dict[int, dict[str, Any]] = {}
    for f, x in enumerate(example_ids):
        s_log, e_log = np.asarray(start_logits[f], dtype=np.float64), np.asarray(end_logits[f], dtype=np.float64)
        n = min(len(offsets[f]), len(s_log))
        s_log, e_log = s_log[:n], e_log[:n]
        norm = _logsumexp(s_log) + _logsumexp(e_log)
        for s in np.argsort(s_log)[::-1][:top]:
            for e in np.argsort(e_log)[::-1][:top]:
                if e < s or e - s + 1 > max_answer_length or tuple(offsets[f][s]) == NO_SPAN \
                        or tuple(offsets[f][e]) == NO_SPAN:
                    continue
                score = float(np.exp(s_log[s] + e_log[e] - norm))
                if score > best.get(x, {}).get("score", -1.0):
                    a, b = offsets[f][s][0], offsets[f][e][1]
                    best[x] = {"answer": contexts[x][a:b], "start": int(a), "end": int(b), "score": score}
    return [best.get(x, {"answer": "", "start": 0, "end": 0, "score": 0.0}) for x in range(len(contexts))]


def _logsumexp(v: np.ndarray) -> float:
    m = float(v.max())
    return m + float(np.log(np.exp(v - m).sum()))


def normalise(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in str(text).lower() if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def span_f1(prediction: str, truth: str) -> float:
    pred, gold = normalise(prediction).split(), normalise(truth).split()
    common = sum((Counter(pred) & Counter(gold)).values())
    if not pred or not gold:
        return float(pred == gold)
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def scores(predictions: list[str], answers: list[list[str]]) -> dict[str, float]:
    """Exact match and token F1, each against the best of an example's answers, averaged (shares, 0-1)."""
    em = [max(float(normalise(p) == normalise(a)) for a in golds) for p, golds in zip(predictions, answers)]
    f1 = [max(span_f1(p, a) for a in golds) for p, golds in zip(predictions, answers)]
    return {"exact_match": float(np.mean(em)) if em else 0.0, "f1": float(np.mean(f1)) if f1 else 0.0}


def _split_answers(df: pd.DataFrame) -> list[list[str]]:
    return [json.loads(a) for a in df["answers"]]


def metrics_fn(features, df: pd.DataFrame, max_answer_length: int):
    """compute_metrics for the validation split: windows' logits -> each question's best span -> EM and F1."""
    contexts, answers = df["context"].tolist(), _split_answers(df)

    def compute(eval_pred) -> dict[str, float]:
        start, end = eval_pred.predictions[:2] if isinstance(eval_pred.predictions, tuple) else eval_pred.predictions
        spans = best_spans(start, end, features["example_id"], features["offset_mapping"], contexts, max_answer_length)
        return scores([s["answer"] for s in spans], answers)
    return compute


def in_order_trainer():
    """A Trainer that evaluates windows in dataset order: its metrics pair each window's logits with its question
    by position (length grouping, which the Trainer also applies to evaluation, would shuffle them)."""
    import torch
    from transformers import Trainer

    class SpanTrainer(Trainer):
        def _get_eval_sampler(self, eval_dataset):
            return torch.utils.data.SequentialSampler(eval_dataset)

    return SpanTrainer


def trainer_parts(cfg, tokenizer, labels, splits):
    features = tokenize({"validation": splits["validation"]}, tokenizer, labels, cfg)["validation"]
    return TrainerParts(compute_metrics=metrics_fn(features, splits["validation"], cfg.task_args.max_answer_length),
                        trainer_cls=in_order_trainer())


def test_report(trainer, test_ds, test_df: pd.DataFrame, labels, tokenizer=None, cfg=None):
    """Every test question answered by the loaded (best) model: EM and F1, one row per question."""
    pred = trainer.predict(test_ds)
    start, end = pred.predictions[:2]
    max_answer = cfg.task_args.max_answer_length if cfg is not None else 30
    spans = best_spans(start, end, test_ds["example_id"], test_ds["offset_mapping"], test_df["context"].tolist(),
                       max_answer)
    answers = _split_answers(test_df)
    report = {"task": "extractive-qa", "n": int(len(test_df)),
              "metrics": scores([s["answer"] for s in spans], answers),
              "metric_notes": {"exact_match": "share of questions whose predicted span equals an answer (SQuAD's "
                                              "normalisation)", "f1": "mean token F1 against the best answer"}}
    rows = [{"question": q, "context": c[:300], "answer": golds[0], "predicted": s["answer"],
             "exact": max(normalise(s["answer"]) == normalise(a) for a in golds),
             "f1": round(max(span_f1(s["answer"], a) for a in golds), 4), "score": round(s["score"], 4)}
            for q, c, golds, s in zip(test_df["question"], test_df["context"], answers, spans)]
    return report, rows


def predict(model, tokenizer, inputs: list[dict], max_length: int = 384, batch_size: int = 16,
            max_answer_length: int = 30, doc_stride: int = 64, **_) -> list[dict[str, Any]]:
    """The best answer span of each {"question", "context"}: its text, character offsets and probability."""
    import torch

    questions = [str(i.get("question", "")) for i in inputs]
    contexts = [str(i.get("context", "")) for i in inputs]
    enc = encode(tokenizer, questions, contexts, max_length, doc_stride)
    device = next(model.parameters()).device
    model.eval()
    starts, ends = [], []
    with torch.inference_mode():
        for i in range(0, len(enc["input_ids"]), batch_size):
            batch = tokenizer.pad({k: enc[k][i:i + batch_size]
                                   for k in ("input_ids", "attention_mask", "token_type_ids")
                                   if k in enc}, return_tensors="pt").to(device)
            out = model(**batch)
            starts += [row.float().cpu().numpy() for row in out.start_logits]
            ends += [row.float().cpu().numpy() for row in out.end_logits]
    return best_spans(starts, ends, enc["example_id"], enc["offset_mapping"], contexts, max_answer_length)


def format_prediction(text: str, pred: dict[str, Any]) -> str:
    """One line of `studio predict`: the answer, its probability, the question."""
    return f"{pred['answer']}\t{pred['score']:.3f}\t{text}"


def card_usage(is_adapter: bool, labels=()) -> list[str]:
    if is_adapter:
        return ["from peft import AutoPeftModelForQuestionAnswering",
                "from transformers import AutoTokenizer, pipeline",
                "", 'model = AutoPeftModelForQuestionAnswering.from_pretrained("PATH_OR_REPO").merge_and_unload()',
                'tokenizer = AutoTokenizer.from_pretrained("PATH_OR_REPO")',
                'answer = pipeline("question-answering", model=model, tokenizer=tokenizer)',
                'print(answer(question="How long is the warranty?", '
                'context="The kettle comes with a two-year warranty."))']
    return ["from transformers import pipeline", "",
            'answer = pipeline("question-answering", model="PATH_OR_REPO")',
            'print(answer(question="How long is the warranty?", context="The kettle comes with a two-year warranty."))']


# --------------------------------------------------------------------------------------------- capabilities --
class Playground:
    """serve.Playground: a question and a passage in, the answer highlighted in the passage."""

    panel = "answer"
    labels_files = False
    format_prediction = staticmethod(format_prediction)


class Card:
    """export.ModelCard."""

    pipeline_tag = "question-answering"
    model_kind = "extractive question-answering model"
    metrics_note = ("Exact match and F1 are SQuAD's: the predicted span against the best of each question's answers "
                    "after lower-casing and dropping punctuation and articles, as shares (0-1).")
    onnx = False
    usage = staticmethod(card_usage)


TASK = Task(
    name="extractive-qa",
    inputs=QUESTION_CONTEXT,
    texts=TaskTexts(title=Text("Extractive question answering", "抽取式问答"),
                    data_hint=Text("SQuAD-style records: a question, its context and the answer found in it (JSON, "
                                   "JSONL, CSV, TSV, Parquet)",
                                   "SQuAD 格式的记录：问题、上下文以及上下文中的答案（JSON、JSONL、CSV、"
                                   "TSV、Parquet）"),
                    inputs=(Text("Question column", "问题列"), Text("Context column", "上下文列")),
                    answer=Text("Answer column", "答案列"),
                    answer_info=Text("The answer: a span of the context (its text, and where it starts if given).",
                                     "答案：上下文中的一段文字（可附起始位置）。"),
                    input_noun=Text("question", "问题"), answer_noun=Text("answer", "答案")),
    data=DataFacts(samples=("qa_sample.jsonl",), file_types=(".json", ".jsonl", ".csv", ".tsv", ".parquet"),
                   counts_chart=Text("Questions per split", "各划分的问题数"),
                   lengths_chart=Text("Tokens per question and context", "问题与上下文的词元数"),
                   length_noun=Text("question + context", "问题与上下文")),
    model=ModelFacts(peft_task_type="QUESTION_ANS", auto_class="AutoModelForQuestionAnswering",
                     default_model="sentence-transformers/all-MiniLM-L6-v2",
                     catalog_models=("minilm", "minilm-l3", "multilingual-e5-small"),
                     multilingual_model="multilingual-e5-small",
                     # Prompt tuning prepends virtual tokens, so the span head scores positions that are not the
                     # input's and the labelled token positions no longer line up; every other method applies.
                     methods=("full", "freeze", "lora", "qlora", "dora", "adalora", "ia3", "prefix"),
                     # A fresh span head, like a fresh tag head, learns slowly at the adapters' usual rate.
                     learning_rates={"lora": 2e-3, "dora": 2e-3, "adalora": 2e-3}),
    metrics=MetricFacts(best=("f1", "exact_match", "loss"), test=("exact_match", "f1"), plot=("exact_match", "f1")),
    predictions=PredictionRows(columns=("question", "answer", "predicted", "f1", "score", "context"), correct="exact",
                               confidence="score"),
    settings=Settings,
    prepare_data=prepare_data, load_tokenizer=load_tokenizer, load_model=load_model, tokenize=tokenize,
    collator=collator, trainer_parts=trainer_parts, test_report=test_report, predict=predict,
    count_tokens=count_tokens, count_bars=split_bars, length_series=length_series,
    capabilities=(Playground(), Card()),
)
