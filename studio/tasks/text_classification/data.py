"""Text classification's data: reading and checking a table of texts and labels, cleaning it, the stratified split,
and the rows the review screens show."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

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
from studio.data.bad_records import BadRecords, skipped_warnings
from studio.data.reading import row_places

LABEL_NAMES = ("label", "labels", "category", "class", "intent", "target", "sentiment", "tag", "topic", "y",
               "label_text", "output")


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


def _readable(raw: pd.DataFrame, path: str, header: bool, names: list[str] | None, label_col: str,
              bad: BadRecords) -> pd.DataFrame:
    """The rows of a file that can be read, its file settled in `bad`: with label_names, a row whose label is no
    class id is a bad record where other rows' labels are ids (where none is, or where an id has no name,
    label_names does not fit the file, which _name_label_ids says as a whole)."""
    file = Path(path).name
    if names is not None and label_col in raw.columns:
        labels = raw[label_col].map(_label_str)
        ids = labels.str.fullmatch(r"\d+", na=False).astype(bool)
        if ids.any():
            wrong = (labels.notna() & ~ids).to_numpy()
            places = row_places(raw, path, header)
            for i in np.flatnonzero(wrong):
                bad.add(file, places[i], f"{file} {places[i]}: label {labels.iloc[i]!r} is not a class id, but "
                        "label_names is set and the other labels are ids; write the row's label as its id.")
            raw = raw[~wrong]
    bad.settle(file, len(raw))
    return raw


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
    bad = BadRecords(cfg.skip_bad_records, unit="row")
    raw_train = read_table(cfg.train, "Training", header=cfg.header, bad=bad)
    text_col, label_col = _check_columns(raw_train, train_name, cfg.text_column, cfg.label_column)
    frames, source, dropped_empty = _read_files(cfg, raw_train, text_col, label_col, bad)
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
    bad.note(report)
    describe_lengths(report, frames["train"]["text"])
    if tokenizer is not None:
        report.token_lengths = token_length_stats(frames["train"]["text"], tokenizer, max_length)
    report.warnings = skipped_warnings(report, "row") + _warnings(report, max_length)
    return PreparedData(splits=frames, labels=labels, report=report)


def _read_files(cfg, raw_train: pd.DataFrame, text_col: str, label_col: str, bad: BadRecords | None = None):
    """(frames, source, dropped_empty) of the training file and any validation/test files, cleaned; the rows that
    cannot be read go to `bad`, which settles each file."""
    bad = bad or BadRecords(unit="row")
    names = cfg.names_of_ids()
    train_name = Path(cfg.train).name
    frames, source = {}, {"train": train_name}
    raw_train = _readable(raw_train, cfg.train, cfg.header, names, label_col, bad)
    frames["train"], dropped_empty = _clean(raw_train, train_name, text_col, label_col)
    frames["train"] = _name_label_ids(frames["train"], names, train_name, label_col)
    for split in ("validation", "test"):
        path = getattr(cfg, split)
        if path:
            raw = read_table(path, split.capitalize(), header=cfg.header, bad=bad)
            nm = Path(path).name
            for col in (text_col, label_col):
                if col not in raw.columns:
                    raise DataError(f"{nm}: no column {col!r} (the training file's); the columns are "
                                    f"{list(raw.columns)}.")
            raw = _readable(raw, path, cfg.header, names, label_col, bad)
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
        w.append(Text(f"Classes are imbalanced: {hi!r} has {counts[hi]} training rows, {lo!r} only {counts[lo]}; "
                      "watch macro F1 rather than accuracy.",
                      f"类别不平衡：{hi!r} 有 {counts[hi]} 行训练数据，{lo!r} 只有 {counts[lo]} 行；"
                      "请关注 macro F1 而不是准确率。"))
    small = [l for l, c in counts.items() if c < 8]
    if small:
        w.append(Text(f"{len(small)} class(es) have fewer than 8 training rows ({', '.join(map(repr, small[:5]))}); "
                      "they will be learned poorly.",
                      f"{len(small)} 个类别的训练数据少于 8 行（{', '.join(map(repr, small[:5]))}）；"
                      "它们会学得很差。"))
    w += cleaning_warnings(r)
    if r.conflicting_duplicates:
        w.append(Text(f"{r.conflicting_duplicates} text(s) appear with more than one label.",
                      f"{r.conflicting_duplicates} 条文本带有不止一个标签。"))
    w += overlap_warnings(r, "text")
    if r.label_merges:
        pairs = ", ".join(f"{a!r}->{b!r}" for a, b in list(r.label_merges.items())[:5])
        w.append(Text(f"Labels differing only in case or spacing were merged: {pairs}.",
                      f"只有大小写或空格不同的标签已合并：{pairs}。"))
    return w + long_text_warnings(r) + truncation_warnings(r, max_length)
