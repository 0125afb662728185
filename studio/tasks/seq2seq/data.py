"""Seq2seq data: reading source/target pairs (any column layout, Hugging Face's translation records included),
checking and cleaning them, the split, and token counts. The data check's bars are the shared split_bars
(studio.tasks.base)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from studio.base.text import Text
from studio.data import (
    DataError,
    DataReport,
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

# (source, target) column names people use, most specific first; matched case-insensitively.
COLUMN_PAIRS = (("source", "target"), ("src", "tgt"), ("input", "output"), ("input_text", "target_text"),
                ("article", "highlights"), ("article", "summary"), ("document", "summary"), ("dialogue", "summary"),
                ("text", "summary"), ("text", "target"), ("question", "answer"), ("prompt", "completion"))
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}([_-][a-z]{2,4})?$", re.IGNORECASE)  # en, fr, pt_br, zh-hans


def prepare_data(cfg, tokenizer=None, max_length=None, max_target_length=None):
    """Read, check, clean and split source/target pairs; every split has columns text (= source), source, target."""
    train_name = Path(cfg.train).name
    bad = BadRecords(cfg.skip_bad_records, unit="row")
    raw_train = expand_pair_columns(_read(cfg.train, "Training", cfg.header, bad))
    src_col, tgt_col = detect_columns(raw_train, train_name, cfg.text_column, cfg.label_column)
    frames, source, dropped_empty = {}, {"train": train_name}, 0
    frames["train"], dropped_empty = _clean(raw_train, train_name, src_col, tgt_col)
    for split in ("validation", "test"):
        path = getattr(cfg, split)
        if path:
            raw, nm = expand_pair_columns(_read(path, split.capitalize(), cfg.header, bad)), Path(path).name
            for col in (src_col, tgt_col):
                if col not in raw.columns:
                    raise DataError(f"{nm}: no column {col!r} (the training file's); the columns are "
                                    f"{list(raw.columns)}; rename it or pick other columns.")
            frames[split], n = _clean(raw, nm, src_col, tgt_col)
            dropped_empty += n
            source[split] = nm
    before = sum(len(f) for f in frames.values())
    frames = {k: f.drop_duplicates(["source", "target"]).reset_index(drop=True) for k, f in frames.items()}
    dropped_dup = before - sum(len(f) for f in frames.values())
    if len(frames["train"]) == 0:
        raise DataError(f"{train_name} has no usable row with both a source and a target; add rows "
                        "(a few dozen at least).")
    frames, source = split_rows(frames, source, cfg, train_name)
    for f in {id(f): f for f in frames.values()}.values():  # a split that evaluates on another is the same frame
        f.insert(0, "text", f["source"])
    report = bad.note(_report(frames, source, raw_train, src_col, tgt_col, dropped_empty, dropped_dup))
    if tokenizer is not None:
        report.token_lengths = token_length_stats(frames["train"]["source"].tolist(), tokenizer, max_length)
        report.warnings += _target_length_warnings(frames["train"]["target"].tolist(), tokenizer, max_target_length)
    report.warnings = skipped_warnings(report, "row") + _pair_warnings(report, max_length) + report.warnings
    return PreparedData(splits=frames, labels=[], report=report)


def _read(path: str, role: str, header: bool, bad: BadRecords) -> pd.DataFrame:
    """A file's rows; the lines that cannot be parsed are bad records (a pair has nothing else that could be)."""
    raw = read_table(path, role, header=header, bad=bad)
    bad.settle(Path(path).name, len(raw))
    return raw


def expand_pair_columns(df: pd.DataFrame, max_keys: int = 8) -> pd.DataFrame:
    """Hugging Face's translation layout, {"translation": {"de": "...", "en": "..."}}: a column of small records
    becomes a column per key (de, en), so a language pair is found like any other (the first key is the source)."""
    for col in list(df.columns):
        values = df[col].dropna()
        if len(values) == 0 or not all(isinstance(v, dict) for v in values):
            continue
        keys = list(dict.fromkeys(str(k) for v in values for k in v))
        if not keys or len(keys) > max_keys:
            continue
        expanded = {(k if k not in df.columns else f"{col}.{k}"):
                    df[col].map(lambda v, k=k: v.get(k) if isinstance(v, dict) else None) for k in keys}
        df = df.drop(columns=[col]).assign(**expanded)
    return df


def detect_columns(df: pd.DataFrame, name: str, src: str | None = None, tgt: str | None = None) -> tuple[str, str]:
    """(source, target) columns: the ones given, else known name pairs, language-code pairs (en, fr), else the
    two text columns with the longer one as the source."""
    cols = list(df.columns)
    for role, col in (("source (text_column)", src), ("target (label_column)", tgt)):
        if col is not None and col not in cols:
            raise DataError(f"{name}: no column named {col!r} for the {role}; choose one of its columns {cols}.")
    if len(cols) < 2:
        raise DataError(f"{name} has a single column {cols[0]!r}; seq2seq needs a source and a target column "
                        "(check the separator: TSV files need the .tsv extension).")
    if src is None or tgt is None:
        src, tgt = _guess_pair(df, src, tgt)
    if src is None or tgt is None:
        texts = [c for c in cols if is_text_like(df[c])]
        raise DataError(f"{name}: could not tell the source and target columns apart among {cols} (text columns: "
                        f"{texts}); name them source and target, or set text_column and label_column.")
    if src == tgt:
        raise DataError(f"{name}: the source and target columns must differ (both are {src!r}); choose two columns.")
    return src, tgt


def _guess_pair(df: pd.DataFrame, src: str | None, tgt: str | None) -> tuple[str | None, str | None]:
    lower = {str(c).lower(): c for c in df.columns}
    for s, t in COLUMN_PAIRS:
        if s in lower and t in lower and src in (None, lower[s]) and tgt in (None, lower[t]):
            return lower[s], lower[t]
    # Row ids written as strings ("0", "17") are not texts, and a column named "id" is no Indonesian.
    texts = [c for c in df.columns if is_text_like(df[c]) and not _numbers_only(df[c])]
    langs = [c for c in texts if LANGUAGE_CODE.match(str(c))]
    if len(langs) == 2 and src in (None, *langs) and tgt in (None, *langs):
        first, second = langs  # translation files list the source language first
        return (src or (second if tgt == first else first)), (tgt or (first if src == second else second))
    others = [c for c in texts if c not in (src, tgt)]
    if src is not None and tgt is None and len(others) == 1:
        return src, others[0]
    if tgt is not None and src is None and len(others) == 1:
        return others[0], tgt
    if src is None and tgt is None and len(texts) == 2:
        longer = max(texts, key=lambda c: df[c].astype(str).str.len().mean())
        return longer, next(c for c in texts if c != longer)
    return src, tgt


def guess_columns(df: pd.DataFrame) -> tuple[str | None, str | None]:
    """(source, target) for a picker, (None, None) where it cannot tell."""
    return _guess_pair(expand_pair_columns(df), None, None)


def _numbers_only(col: pd.Series) -> bool:
    values = col.dropna().astype(str).str.strip()
    return len(values) > 0 and bool(values.str.fullmatch(r"[-+]?\d+(\.\d+)?").all())


def _clean(df: pd.DataFrame, name: str, src: str, tgt: str) -> tuple[pd.DataFrame, int]:
    """Stripped source/target strings; rows missing either are dropped and counted."""
    for role, col in (("source", src), ("target", tgt)):
        values = df[col].dropna()
        if len(values) == 0 or values.astype(str).str.strip().eq("").all():
            raise DataError(f"{name}: {role} column {col!r} is empty in every row; choose the column that holds the "
                            f"{role} texts.")
        if not is_text_like(df[col]):
            kind = "numbers" if pd.api.types.is_numeric_dtype(df[col]) else f"{type(values.iloc[0]).__name__} values"
            raise DataError(f"{name}: {role} column {col!r} holds {kind}, not text; choose the column that holds the "
                            f"{role} texts.")
    out = pd.DataFrame({"source": df[src].map(_text), "target": df[tgt].map(_text)})
    keep = out["source"].notna() & out["target"].notna()
    return out[keep].reset_index(drop=True), int((~keep).sum())


def _text(v: Any) -> str | None:
    if not isinstance(v, str):
        return None
    v = v.strip()
    return v or None


def _report(frames, source, raw_train, src_col, tgt_col, dropped_empty, dropped_dup):
    train_sources = set(frames["train"]["source"].str.casefold())
    shared = {f"train-{s}": int(frames[s]["source"].str.casefold().isin(train_sources).sum())
              for s in ("validation", "test") if s in frames}
    report = DataReport(
        text_column=src_col, label_column=tgt_col, columns=list(raw_train.columns), labels=[],
        rows={k: len(v) for k, v in frames.items()}, label_counts={k: {"rows": len(v)} for k, v in frames.items()},
        dropped_empty=dropped_empty, dropped_duplicates=dropped_dup, shared_between_splits=shared,
        split_source=source)
    describe_lengths(report, frames["train"]["source"])
    return report


def _pair_warnings(r, max_length: int | None) -> list[str]:
    w = []
    if r.rows["train"] < 50:
        w.append(Text(f"Only {r.rows['train']} training pairs; a seq2seq model needs a few hundred to learn a mapping "
                      "well.",
                      f"只有 {r.rows['train']} 对训练数据；seq2seq 模型需要几百对才能学好映射。"))
    source = Text("source text", "源文本")
    w += cleaning_warnings(r, Text("pair", "对数据"), Text("source or target", "源文本或目标文本"))
    w += overlap_warnings(r, source)
    return w + long_text_warnings(r, source) + truncation_warnings(r, max_length, Text("sources", "源文本"))


def _target_length_warnings(targets: list[str], tokenizer, max_target_length: int | None) -> list[str]:
    if not max_target_length:
        return []
    tl = token_length_stats(targets, tokenizer, max_target_length)
    if tl.get("truncated_share", 0) > 0.05:
        return [Text(f"{tl['truncated_share']:.0%} of targets are longer than max_target_length={max_target_length} "
                     f"tokens and will be truncated (95th percentile: {tl['p95']:.0f}); raise "
                     "task_args.max_target_length.",
                     f"{tl['truncated_share']:.0%} 的目标文本超过 max_target_length={max_target_length} 个词元，"
                     f"将被截断（第 95 百分位：{tl['p95']:.0f}）；请调大 task_args.max_target_length。")]
    return []


def length_series(df: pd.DataFrame, tokenizer, sample: int = 5000) -> dict[str, list[int]]:
    """Tokens per source and per target (special tokens included), as the model reads and writes them."""
    head = df.head(sample)
    count = lambda texts: [len(ids) for ids in tokenizer([str(t) for t in texts])["input_ids"]]  # noqa: E731
    return {Text("source", "源文本"): count(head["source"]), Text("target", "目标文本"): count(head["target"])}
