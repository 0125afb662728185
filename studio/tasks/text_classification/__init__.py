"""Text classification: a text in, one of a fixed set of labels out.

Data: a table (CSV, TSV, JSON, JSONL, Parquet) with a text column and a label column, detected by name
or shape. Labels are cleaned (case and spacing variants merged, ids named by label_names), duplicates
dropped, and the split is stratified so every split keeps the class balance. Every split is a
DataFrame with columns text and label.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studio.base.settings import setting
from studio.base.text import Text
from studio.data import (
    TEXT_NAMES,
    DataError,
    DataReport,
    LabelledRows,
    PreparedData,
    cleaning_warnings,
    describe_lengths,
    is_text_like,
    long_text_warnings,
    overlap_warnings,
    read_table,
    split_rows,
    token_length_stats,
    truncation_warnings,
)
from studio.tasks.base import TEXT, DataFacts, MetricFacts, ModelFacts, PredictionRows, Task, TaskTexts, TrainerParts
from studio.tasks.loading import labelled_model, padded_tokenizer
from studio.tasks.text_classification.augmentation import WordAugmentation

LABEL_NAMES = ("label", "labels", "category", "class", "intent", "target", "sentiment", "tag", "topic", "y",
               "label_text", "output")


def card_usage(is_adapter: bool, labels: list[str] = ()) -> list[str]:
    """Python lines of the model card's usage example (PATH_OR_REPO stands for where the export lives)."""
    if is_adapter:
        # The base loads first, with its own head size: the adapter's head only fits once it knows the labels.
        return ["from peft import AutoPeftModelForSequenceClassification",
                "from transformers import AutoTokenizer", "",
                f"id2label = {dict(enumerate(labels))!r}",
                'model = AutoPeftModelForSequenceClassification.from_pretrained("PATH_OR_REPO", '
                'num_labels=len(id2label), id2label=id2label)',
                'tokenizer = AutoTokenizer.from_pretrained("PATH_OR_REPO")']
    return ["from transformers import pipeline", "",
            'classify = pipeline("text-classification", model="PATH_OR_REPO")',
            'print(classify("My card was charged twice, please refund it."))']


def format_prediction(text: str, pred: dict[str, Any]) -> str:
    """One line of `studio predict` output."""
    return f"{pred['label']}\t{pred['score']:.3f}\t{text}"


# ------------------------------------------------------------------ data --
def detect_columns(df: pd.DataFrame, source: str = "data") -> tuple[str, str]:
    """Guess (text, label) columns: known names first, then shape."""
    cols = list(df.columns)
    lower = {c.lower(): c for c in cols}
    text = next((lower[n] for n in TEXT_NAMES if n in lower), None)
    label = next((lower[n] for n in LABEL_NAMES if n in lower and lower[n] != text), None)
    stringy = [c for c in cols if is_text_like(df[c])]
    if text is None:
        cands = [c for c in stringy if c != label]
        if cands:
            text = max(cands, key=lambda c: df[c].astype(str).str.len().mean())
    if label is None:
        cands = [c for c in cols if c != text]
        if cands:
            label = min(cands, key=lambda c: df[c].nunique(dropna=True))
    if text is None or label is None:
        raise DataError(f"{source}: could not find both a text and a label column among {cols}; "
                        "name them text and label, or choose them explicitly.")
    return text, label


def guess_columns(df: pd.DataFrame) -> tuple[str | None, str | None]:
    """detect_columns for a picker: (None, None) where it cannot tell."""
    try:
        return detect_columns(df)
    except DataError:
        return None, None


def _looks_headerless(df: pd.DataFrame, text_col: str) -> bool:
    # A header cell that reads like a sentence is a data row promoted to header.
    name = str(text_col)
    return len(name) > 30 and name.count(" ") >= 3 and name.lower() not in TEXT_NAMES


def _check_columns(df: pd.DataFrame, name: str, text_col: str | None, label_col: str | None) -> tuple[str, str]:
    cols = list(df.columns)
    for role, col in (("text", text_col), ("label", label_col)):
        if col is not None and col not in cols:
            raise DataError(f"{name}: no column named {col!r} for the {role}; choose one of its columns {cols}.")
    detected_label = label_col is None
    if text_col is None or label_col is None:
        t, l = detect_columns(df, name)
        text_col = text_col or t
        label_col = label_col or l
        if text_col == label_col:
            raise DataError(f"{name}: the text and label columns must differ; choose them explicitly.")
    elif text_col == label_col:
        raise DataError(f"{name}: the text and label columns are both {text_col!r}; choose two different columns.")
    if len(cols) < 2:
        raise DataError(f"{name} has a single column {cols[0]!r}; it needs a text and a label column "
                        "(check the separator: TSV files need the .tsv extension).")
    if any(_looks_headerless(df, c) for c in cols) or (detected_label and _name_is_a_value(df, label_col)):
        raise DataError(f"{name} seems to have no header row: its first line ({', '.join(map(str, cols))[:60]!r}) "
                        "looks like data; read it without a header row (data.header: false) or add a first line naming "
                        "the columns, e.g. text,label.", fix="header")
    return text_col, label_col


def _name_is_a_value(df: pd.DataFrame, col: str) -> bool:
    # A label column named like one of its own labels ("pos" over pos/neg) is a data row promoted to header.
    name = str(col).strip().casefold()
    return any(v is not None and v.casefold() == name for v in map(_label_str, df[col].dropna().unique()[:1000]))


def _label_str(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, (list, dict)):
        return None
    s = str(v).strip()
    s = re.sub(r"\s+", " ", s)
    return s or None


def _clean(df: pd.DataFrame, name: str, text_col: str, label_col: str) -> tuple[pd.DataFrame, int]:
    tcol = df[text_col]
    nonnull = tcol.dropna()
    if len(nonnull) == 0:
        raise DataError(f"{name}: text column {text_col!r} is empty in every row; choose the column that "
                        "holds the texts.")
    if not is_text_like(tcol) :
        kind = "numbers" if pd.api.types.is_numeric_dtype(tcol) else f"{type(nonnull.iloc[0]).__name__} values"
        raise DataError(f"{name}: column {text_col!r} holds {kind}, not text; choose the column that holds the texts.")
    labels = df[label_col].map(_label_str)
    if labels.isna().all():
        raise DataError(f"{name}: label column {label_col!r} is empty in every row; choose the column that "
                        "holds the labels.")
    texts = tcol.map(lambda v: v.strip() if isinstance(v, str) else None)
    out = pd.DataFrame({"text": texts, "label": labels})
    keep = out["text"].notna() & (out["text"] != "") & out["label"].notna()
    return out[keep].reset_index(drop=True), int((~keep).sum())


def _name_label_ids(frame: pd.DataFrame, names: list[str] | None, file: str, label_col: str) -> pd.DataFrame:
    """Labels that are class ids ("0", "1") -> the names label_names gives them, in id order."""
    if names is None:
        return frame
    ids = frame["label"].str.fullmatch(r"\d+")
    if not ids.all():
        raise DataError(f"{file}: label {frame['label'][~ids].iloc[0]!r} in column {label_col!r} is not a class id, "
                        "but label_names is set; leave label_names empty for a file that holds label names.")
    out_of_range = frame["label"].astype(int) >= len(names)
    if out_of_range.any():
        raise DataError(f"{file}: label id {frame['label'][out_of_range].iloc[0]} has no name: label_names gives "
                        f"{len(names)} names (ids 0 to {len(names) - 1}); list every id's name in order.")
    return frame.assign(label=frame["label"].astype(int).map(lambda i: names[i]))


def _merge_label_variants(frames: dict[str, pd.DataFrame]) -> dict[str, str]:
    """Map case/spacing variants of a label to its most frequent spelling."""
    counts = pd.concat([f["label"] for f in frames.values()]).value_counts()
    groups: dict[str, list[str]] = {}
    for lab in counts.index:
        groups.setdefault(lab.casefold(), []).append(lab)
    merges = {}
    for variants in groups.values():
        if len(variants) > 1:
            canon = max(variants, key=lambda v: (counts[v], v))
            for v in variants:
                if v != canon:
                    merges[v] = canon
    if merges:
        for f in frames.values():
            f["label"] = f["label"].replace(merges)
    return merges


def _sort_labels(labels) -> list[str]:
    labels = list(labels)
    try:
        return [str(x) for x in sorted(labels, key=lambda s: float(s))]
    except ValueError:
        return sorted(labels)


# ---------------------------------------------------------------- prepare --
def prepare_data(cfg, tokenizer=None, max_length=None) -> PreparedData:
    """Read, check, clean and split the data of a run config (a DataConfig)."""
    train_name = Path(cfg.train).name
    raw_train = read_table(cfg.train, "Training", header=cfg.header)
    text_col, label_col = _check_columns(raw_train, train_name, cfg.text_column, cfg.label_column)
    frames, source, dropped_empty = _read_files(cfg, raw_train, text_col, label_col)
    merges = _merge_label_variants(frames)
    before = sum(len(f) for f in frames.values())
    conflicting = 0
    for k, f in frames.items():
        conflicting += int(f.drop_duplicates().duplicated("text").sum())
        frames[k] = f.drop_duplicates().reset_index(drop=True)
    dropped_dup = before - sum(len(f) for f in frames.values())
    _check_classes(frames, source, label_col)
    frames, source = split_rows(frames, source, cfg, train_name, stratify="label")
    labels = _sort_labels(set(frames["train"]["label"]))
    tr = set(frames["train"]["text"].str.casefold())
    shared = {f"train-{k}": int(frames[k]["text"].str.casefold().isin(tr).sum()) for k in ("validation", "test")
              if k in frames}
    report = DataReport(
        text_column=text_col, label_column=label_col, columns=list(raw_train.columns), labels=labels,
        rows={k: len(v) for k, v in frames.items()},
        label_counts={k: {l: int(c) for l, c in v["label"].value_counts().reindex(labels, fill_value=0).items()}
                      for k, v in frames.items()},
        dropped_empty=dropped_empty, dropped_duplicates=dropped_dup, conflicting_duplicates=conflicting,
        label_merges=merges, shared_between_splits=shared, split_source=source,
    )
    describe_lengths(report, frames["train"]["text"])
    if tokenizer is not None:
        report.token_lengths = token_length_stats(frames["train"]["text"], tokenizer, max_length)
    report.warnings = _warnings(report, max_length)
    return PreparedData(splits=frames, labels=labels, report=report)


def _read_files(cfg, raw_train: pd.DataFrame, text_col: str, label_col: str):
    """(frames, source, dropped_empty) of the training file and any validation/test files, cleaned."""
    names = cfg.names_of_ids()
    train_name = Path(cfg.train).name
    frames, source = {}, {"train": train_name}
    frames["train"], dropped_empty = _clean(raw_train, train_name, text_col, label_col)
    frames["train"] = _name_label_ids(frames["train"], names, train_name, label_col)
    for split in ("validation", "test"):
        path = getattr(cfg, split)
        if path:
            raw = read_table(path, split.capitalize(), header=cfg.header)
            nm = Path(path).name
            for col in (text_col, label_col):
                if col not in raw.columns:
                    raise DataError(f"{nm}: no column {col!r} (the training file's); the columns are "
                                    f"{list(raw.columns)}.")
            frames[split], n = _clean(raw, nm, text_col, label_col)
            frames[split] = _name_label_ids(frames[split], names, nm, label_col)
            dropped_empty += n
            source[split] = nm
    return frames, source, dropped_empty


# ------------------------------------------------------- rows to review --
def labelled_rows(cfg, unlabelled_ok: bool = False) -> LabelledRows:
    """Every data row of the training file with its text and label, in file order (rows without text left out).

    unlabelled_ok: a pool for active learning; its label column may be missing (found only by name or
    data.label_column) or partly empty."""
    name = Path(cfg.train).name
    raw = read_table(cfg.train, "Training", header=cfg.header)
    chosen = cfg.label_column if cfg.label_column in raw.columns else None
    if unlabelled_ok and chosen is None and not _named_label_column(raw):
        text_col, label_col = _pool_text_column(raw, name, cfg.text_column), None
    else:
        text_col, label_col = _check_columns(raw, name, cfg.text_column, cfg.label_column)
    texts = raw[text_col].map(lambda v: v.strip() if isinstance(v, str) else None)
    if not is_text_like(raw[text_col]) or texts.isna().all():
        raise DataError(f"{name}: column {text_col!r} holds no texts; choose the column that holds the texts.")
    labels = raw[label_col].map(_label_str) if label_col else pd.Series([None] * len(raw), dtype=object)
    if not unlabelled_ok and labels.isna().all():
        raise DataError(f"{name}: label column {label_col!r} is empty in every row; choose the column that "
                        "holds the labels.")
    stored: dict[str, Any] = {}
    names = cfg.names_of_ids()
    if names is not None:
        frame = _name_label_ids(pd.DataFrame({"label": labels.dropna()}), names, name, str(label_col))
        labels = labels.copy()
        labels[frame.index] = frame["label"]
        stored = {n: i for i, n in enumerate(names)}
    keep = texts.notna() & (texts != "")
    merges = _merge_label_variants({"train": pd.DataFrame({"label": labels[keep].dropna()})})
    return LabelledRows(texts=texts[keep].tolist(),
                        labels=[None if pd.isna(v) else merges.get(v, v) for v in labels[keep]],
                        rows=np.flatnonzero(keep.to_numpy()).tolist(), text_column=str(text_col),
                        label_column=None if label_col is None else str(label_col), stored=stored)


def _named_label_column(df: pd.DataFrame) -> bool:
    return any(str(c).lower() in LABEL_NAMES for c in df.columns)


def _pool_text_column(df: pd.DataFrame, name: str, chosen: str | None) -> str:
    cols = [str(c) for c in df.columns]
    if chosen is not None:
        if chosen not in cols:
            raise DataError(f"{name}: no column named {chosen!r} for the text; choose one of its columns {cols}.")
        return chosen
    lower = {c.lower(): c for c in cols}
    named = next((lower[n] for n in TEXT_NAMES if n in lower), None)
    texty = [c for c in cols if is_text_like(df[c])]
    if named is None and not texty:
        raise DataError(f"{name} has no column of texts (its columns are {cols}); a pool needs one, e.g. named text.")
    return named or max(texty, key=lambda c: df[c].astype(str).str.len().mean())


def _check_classes(frames: dict[str, pd.DataFrame], source: dict[str, str], label_col: str) -> None:
    train, train_name = frames["train"], source["train"]
    if len(train) == 0:
        raise DataError(f"{train_name} has no rows with both a text and a label.")
    classes = train["label"].unique()
    if len(classes) < 2:
        raise DataError(f"{train_name}: column {label_col!r} has a single class {classes[0]!r}; "
                        "a classifier needs at least two labels, so add rows of another class or choose another "
                        "label column.")
    for split in ("validation", "test"):
        if split in frames:
            extra = sorted(set(frames[split]["label"]) - set(classes))
            if extra:
                raise DataError(f"{source[split]}: label {extra[0]!r} never occurs in the training data; "
                                "add training rows for it or remove it from the file.")


def _warnings(r: DataReport, max_length: int | None) -> list[str]:
    w = []
    counts = r.label_counts["train"]
    nz = [c for c in counts.values() if c > 0]
    if nz and max(nz) >= 10 * min(nz):
        lo = min(counts, key=counts.get)
        hi = max(counts, key=counts.get)
        w.append(f"Classes are imbalanced: {hi!r} has {counts[hi]} training rows, {lo!r} only {counts[lo]}; "
                 "watch macro F1 rather than accuracy.")
    small = [l for l, c in counts.items() if c < 8]
    if small:
        w.append(f"{len(small)} class(es) have fewer than 8 training rows ({', '.join(map(repr, small[:5]))}); "
                 "they will be learned poorly.")
    w += cleaning_warnings(r)
    if r.conflicting_duplicates:
        w.append(f"{r.conflicting_duplicates} text(s) appear with more than one label.")
    w += overlap_warnings(r, "text")
    if r.label_merges:
        pairs = ", ".join(f"{a!r}->{b!r}" for a, b in list(r.label_merges.items())[:5])
        w.append(f"Labels differing only in case or spacing were merged: {pairs}.")
    return w + long_text_warnings(r) + truncation_warnings(r, max_length)

# ----------------------------------------------------------------- model --
def load_tokenizer(path, **kw):
    return padded_tokenizer(path, **kw)


def load_model(path, labels: list[str], tokenizer=None, **kw):
    from transformers import AutoModelForSequenceClassification

    return labelled_model(AutoModelForSequenceClassification, path, labels, tokenizer, **kw)


def tokenize(splits: dict[str, pd.DataFrame], tokenizer, labels: list[str], cfg):
    """Tokenise once with datasets (no padding: batches pad to their own longest text)."""
    import datasets

    max_length = cfg.training.max_length
    label2id = {l: i for i, l in enumerate(labels)}
    out = {}
    for name, df in splits.items():
        ds = datasets.Dataset.from_dict({"text": df["text"].tolist(), "labels": [label2id[l] for l in df["label"]]})

        def enc(batch):
            e = tokenizer(batch["text"], truncation=True, max_length=max_length)
            e["length"] = [len(x) for x in e["input_ids"]]
            return e

        # In memory, nothing to cache: a fresh fingerprint skips hashing the tokenizer (a second per split).
        out[name] = ds.map(enc, batched=True, remove_columns=["text"], desc=f"tokenising {name}",
                           new_fingerprint=uuid.uuid4().hex)
    return out


def collator(tokenizer, model=None):
    from transformers import DataCollatorWithPadding

    return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=None)


def _softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def compute_metrics(eval_pred) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    logits, y = eval_pred.predictions, eval_pred.label_ids
    if isinstance(logits, tuple):
        logits = logits[0]
    pred = np.asarray(logits).argmax(-1)
    p, r, f, _ = precision_recall_fscore_support(y, pred, average="macro", zero_division=0)
    return {"accuracy": float(accuracy_score(y, pred)), "precision": float(p), "recall": float(r), "f1": float(f)}


def metrics_from_logits(logits: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """The test metrics of any model's logits (a distillation teacher's on the student's test split)."""
    return compute_metrics(type("P", (), {"predictions": logits, "label_ids": y})())


def trainer_parts(cfg, tokenizer, labels, splits):
    return TrainerParts(compute_metrics=compute_metrics)


def test_report(trainer, test_ds, test_df: pd.DataFrame, labels: list[str], tokenizer=None, cfg=None):
    """Score the loaded (best) model on the test split."""
    pred = trainer.predict(test_ds)
    return report_from_logits(pred.predictions, pred.label_ids, labels, test_df["text"].tolist())


def report_from_logits(logits: np.ndarray, y: np.ndarray, labels: list[str],
                       texts: list[str]) -> tuple[dict[str, Any], list[dict]]:
    """Metrics, per-class table and confusion matrix, plus every prediction for the error browser."""
    from sklearn.metrics import classification_report, confusion_matrix

    if isinstance(logits, tuple):
        logits = logits[0]
    probs = _softmax(np.asarray(logits, dtype=np.float64))
    pred = probs.argmax(-1)
    idx = list(range(len(labels)))
    per_class = classification_report(y, pred, labels=idx, target_names=labels, output_dict=True, zero_division=0)
    cm = confusion_matrix(y, pred, labels=idx)
    metrics = metrics_from_logits(logits, y)
    report = {
        "task": "text-classification",
        "n": int(len(y)),
        "metrics": metrics,
        "per_class": {l: {k: float(v) for k, v in per_class[l].items()} for l in labels},
        "labels": labels,
        "confusion_matrix": cm.tolist(),
    }
    rows = [{"text": t, "label": labels[int(a)], "predicted": labels[int(b)], "confidence": float(pr[b]),
             "correct": bool(a == b)} for t, a, b, pr in zip(texts, y, pred, probs)]
    return report, rows


def predict(model, tokenizer, inputs: list[str], max_length: int = 128, batch_size: int = 32,
            **_) -> list[dict[str, Any]]:
    """Label probabilities for each text, sorted most likely first."""
    texts = inputs
    import torch

    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    device = next(model.parameters()).device
    out = []
    model.eval()
    order = np.argsort([len(t) for t in texts])  # similar lengths per batch: less padding
    results: list[Any] = [None] * len(texts)
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            idx = order[i:i + batch_size]
            enc = tokenizer([texts[j] for j in idx], truncation=True, max_length=max_length, padding=True,
                            return_tensors="pt").to(device)
            logits = model(**enc).logits.float()
            probs = torch.softmax(logits, dim=-1).cpu().numpy()
            for j, p in zip(idx, probs):
                results[j] = p
    for p in results:
        ranked = sorted(((labels[k], float(p[k])) for k in range(len(labels))), key=lambda kv: -kv[1])
        out.append({"label": ranked[0][0], "score": ranked[0][1], "probabilities": dict(ranked)})
    return out


@dataclass
class Settings:
    """The settings text classification alone reads (cfg.task_args)."""

    head_init: str = setting("prototype", "Start the classification head from class prototypes (the mean of the "
                             "training texts of each class) or from random weights. Prototypes reach good accuracy "
                             "in far fewer steps.", choices=("prototype", "random"),
                             label=Text("Classifier head starts from", "分类头的初始值"))


class ClassifierHead:
    """training.head_init.PrototypeHead and training.base_scores.UntrainedBase: the head starts from class
    prototypes, so the untrained base is already a nearest-class-mean classifier worth scoring."""

    def prototype_head(self, task_args) -> bool:
        return task_args.head_init == "prototype"

    def base_note(self, cfg) -> Text | None:
        if not self.prototype_head(cfg.task_args):
            return None  # a random head scores chance
        return Text("the base model with its prototype head (class means of training texts), before any training",
                    "带原型分类头（训练文本的类别均值）的基础模型，未经任何训练")


class Playground:
    """serve.Playground: label probabilities for a typed text, or for a whole file."""

    panel = "classify"
    labels_files = True
    format_prediction = staticmethod(format_prediction)


class Card:
    """export.ModelCard."""

    pipeline_tag = "text-classification"
    model_kind = "text classifier"
    metrics_note = "Precision, recall and F1 are macro averages over the labels."
    onnx = True
    usage = staticmethod(card_usage)


class Teaching:
    """distill.SoftLabels: a teacher's class probabilities teach a student."""

    metrics_from_logits = staticmethod(metrics_from_logits)


TASK = Task(
    name="text-classification",
    warm_imports=("sklearn.metrics",),
    inputs=TEXT,
    texts=TaskTexts(title=Text("Text classification", "文本分类"),
                    data_hint=Text("a text column and a label column (CSV, TSV, JSON, JSONL, Parquet)",
                                   "一个文本列和一个标签列（CSV、TSV、JSON、JSONL、Parquet）"),
                    inputs=(Text("Text column", "文本列"),), answer=Text("Label column", "标签列"),
                    answer_info=Text("The class each text belongs to.", "每条文本所属的类别。"),
                    input_noun=Text("text", "文本"), answer_noun=Text("label", "标签")),
    data=DataFacts(samples=("support_tickets.csv", "sentiment_reviews.jsonl", "hotel_reviews_zh.csv"),
                   file_types=(".csv", ".tsv", ".txt", ".json", ".jsonl", ".parquet"),
                   label_noun=Text("label", "标签")),
    model=ModelFacts(peft_task_type="SEQ_CLS", auto_class="AutoModelForSequenceClassification",
                     default_model="sentence-transformers/all-MiniLM-L6-v2",
                     catalog_models=("minilm", "minilm-l3", "smollm2", "multilingual-e5-small"),
                     multilingual_model="multilingual-e5-small"),
    metrics=MetricFacts(best=("f1", "accuracy", "precision", "recall", "loss"),
                        test=("accuracy", "f1", "precision", "recall"),
                        plot=("accuracy", "f1"),
                        labels={"eval_f1": Text("validation F1 (macro)", "验证 F1（宏平均）")}),
    predictions=PredictionRows(columns=("text", "label", "predicted", "confidence"), correct="correct",
                               confidence="confidence", label="label"),
    settings=Settings,
    prepare_data=prepare_data, load_tokenizer=load_tokenizer, load_model=load_model, tokenize=tokenize,
    collator=collator, trainer_parts=trainer_parts, test_report=test_report, predict=predict,
    guess_columns=guess_columns, labelled_rows=labelled_rows,
    capabilities=(ClassifierHead(), Playground(), Card(), Teaching(), WordAugmentation()),
)
