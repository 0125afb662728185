"""Read, check, clean, split and describe labelled text data.

Every problem a user can fix comes back as a `DataError` whose one sentence
names the file, the row or column, and the fix. Nothing here writes outside
the datasets cache, so a failed check leaves nothing behind.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studio.config import DataConfig

SUPPORTED = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
TEXT_NAMES = ("text", "sentence", "content", "review", "utterance", "query", "question", "document", "body",
              "message", "comment", "tweet", "input", "prompt", "sentence1", "title")
LABEL_NAMES = ("label", "labels", "category", "class", "intent", "target", "sentiment", "tag", "topic", "y",
               "label_text", "output")


CONTROL_BYTES = (*range(0x00, 0x09), 0x0b, *range(0x0e, 0x1b), *range(0x1c, 0x20), 0x7f)
LONG_TEXT_CHARS = 10_000  # a text this long is almost certainly a document pasted into one cell


class DataError(ValueError):
    """Input data the user must fix; the message says where and how."""


def max_file_bytes() -> int:
    return int(float(os.environ.get("STUDIO_MAX_FILE_MB", "1024")) * 1024 * 1024)


def human_size(n: float) -> str:
    """Bytes as people read them: 812 KB, 3.4 MB."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit in ("bytes", "KB") or n >= 10 else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.0f} GB"


def too_big(name: str, size: int) -> str:
    return (f"{name} is {human_size(size)}, over this server's limit of {human_size(max_file_bytes())}; "
            "sample it down or raise STUDIO_MAX_FILE_MB.")


@dataclass
class DataReport:
    text_column: str
    label_column: str
    columns: list[str]
    labels: list[str]
    rows: dict[str, int]
    label_counts: dict[str, dict[str, int]]
    dropped_empty: int = 0
    dropped_duplicates: int = 0
    conflicting_duplicates: int = 0
    label_merges: dict[str, str] = field(default_factory=dict)
    shared_between_splits: dict[str, int] = field(default_factory=dict)
    split_source: dict[str, str] = field(default_factory=dict)
    long_texts: int = 0                # training texts over LONG_TEXT_CHARS characters
    longest_text: int = 0              # characters in the longest training text
    token_lengths: dict[str, float] | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PreparedData:
    splits: dict[str, pd.DataFrame]  # columns: text, label (str)
    labels: list[str]
    report: DataReport

    def label2id(self) -> dict[str, int]:
        return {l: i for i, l in enumerate(self.labels)}


# ---------------------------------------------------------------- reading --
def _check_file(path: str, role: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise DataError(f"{role} file {path} does not exist.")
    if p.is_dir():
        raise DataError(f"{role} path {path} is a folder; give a file.")
    ext = p.suffix.lower()
    if ext not in SUPPORTED:
        raise DataError(f"{p.name}: unsupported file type {ext or '(none)'}; use CSV, TSV, JSON, JSONL or Parquet.")
    size = p.stat().st_size
    if size == 0:
        raise DataError(f"{p.name} is empty; upload a file with a header row and at least a few labelled rows.")
    if size > max_file_bytes():
        raise DataError(too_big(p.name, size))
    if ext != ".parquet":
        _check_text_encoding(p)
    return p


def _check_text_encoding(p: Path) -> None:
    with open(p, "rb") as fh:
        head = fh.read(4096)
    # Control bytes (NUL, BEL, ...) never occur in text files; images, archives and executables are full of them.
    controls = sum(head.count(bytes([b])) for b in CONTROL_BYTES)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[:200].count(b"\x00") > 10 or controls > max(3, len(head) // 100):
        kind = "UTF-16 text" if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[1:200:2].count(b"\x00") > 50 else "binary data"
        raise DataError(f"{p.name} holds {kind}, not UTF-8 text; save it as UTF-8 (in Excel: Save As > CSV UTF-8).")
    decoder_pos = 0
    lines_before = 0
    import codecs

    dec = codecs.getincrementaldecoder("utf-8")()
    with open(p, "rb") as fh:
        while True:
            chunk = fh.read(1 << 20)
            try:
                dec.decode(chunk, final=not chunk)
            except UnicodeDecodeError as e:
                pos = decoder_pos + e.start
                line = lines_before + chunk.count(b"\n", 0, e.start) + 1
                raise DataError(f"{p.name} is not UTF-8 text (byte 0x{chunk[e.start]:02x} on line {line}, offset {pos}, probably Latin-1 or "
                                "Windows-1252); save it as UTF-8 (in Excel: Save As > CSV UTF-8).") from None
            if not chunk:
                break
            decoder_pos += len(chunk)
            lines_before += chunk.count(b"\n")


def read_table(path: str, role: str = "Training") -> pd.DataFrame:
    """Read one file through `datasets` into a DataFrame, or raise a DataError."""
    p = _check_file(path, role)
    ext = p.suffix.lower()
    builder = SUPPORTED[ext]
    kwargs: dict[str, Any] = {}
    if builder == "csv":
        kwargs["sep"] = "\t" if ext == ".tsv" or (ext == ".txt" and b"\t" in p.read_bytes()[:4096]) else ","
        kwargs["keep_default_na"] = False  # "NA" or "null" are legitimate texts/labels
        kwargs["na_values"] = [""]
    if builder == "json":
        columnar = _check_json_shape(p)
        if columnar is not None:  # datasets would read {"text": [...], "label": [...]} as one row of lists
            df = pd.DataFrame(columnar)
            df.columns = [str(c).strip() for c in df.columns]
            return df
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    try:
        ds = datasets.load_dataset(builder, data_files=str(p), split="train",
                                   cache_dir=str(_datasets_cache()), **kwargs)
    except Exception as e:  # datasets wraps the parser's error; dig out the cause
        raise DataError(_explain_read_error(p, e)) from None
    df = ds.to_pandas()
    if len(df.columns) == 0 or len(df) == 0:
        raise DataError(f"{p.name} has a header but no data rows; add labelled rows below the header.")
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _datasets_cache() -> Path:
    from studio.models import cache_dir

    return cache_dir() / "datasets"


def _check_json_shape(p: Path) -> dict | None:
    """Check a JSON file holds records; returns the data when it is columnar ({"text": [...], ...})."""
    import json

    text = p.read_text(encoding="utf-8-sig")
    stripped = text.lstrip()
    if not stripped:
        raise DataError(f"{p.name} is empty; upload a file with labelled records.")
    if p.suffix.lower() == ".jsonl" or (stripped[0] == "{" and "\n{" in stripped):
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{p.name} line {i} is not valid JSON ({e.msg}); fix or remove that line.") from None
            if not isinstance(rec, dict):
                raise DataError(f"{p.name} line {i} is not a JSON object; each line must be a record like "
                                '{"text": "...", "label": "..."}.')
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{p.name} is not valid JSON (line {e.lineno}: {e.msg}).") from None
    if isinstance(data, dict):
        lists = [k for k, v in data.items() if isinstance(v, list)]
        if lists and all(isinstance(data[k], list) for k in data):
            sizes = {k: len(v) for k, v in data.items()}
            if len(set(sizes.values())) > 1:
                raise DataError(f"{p.name} holds columns of different lengths ({sizes}); give every column one value per row.")
            if not max(sizes.values()):
                raise DataError(f"{p.name} has no data rows; add labelled rows.")
            return data  # columnar {"text": [...], "label": [...]} is fine
        raise DataError(f"{p.name} is a single JSON object, not a list of records; write it as "
                        '[{"text": "...", "label": "..."}, ...] or as JSON Lines.')
    if not isinstance(data, list) or not data or not all(isinstance(r, dict) for r in data):
        raise DataError(f"{p.name} must be a non-empty list of records like "
                        '[{"text": "...", "label": "..."}, ...].')


def _explain_read_error(p: Path, e: Exception) -> str:
    chain, cur = [], e
    while cur is not None and len(chain) < 8:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    msgs = " | ".join(f"{type(c).__name__}: {c}" for c in chain)
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", msgs)
    if m:
        return (f"{p.name} line {m.group(2)} has {m.group(3)} fields where the header has {m.group(1)}; "
                "quote texts that contain the separator, or remove the extra fields.")
    if "EOF inside string" in msgs or "EOF while parsing" in msgs or "unexpected end of data" in msgs:
        m = re.search(r"starting at row (\d+)", msgs)
        where = f" (a quote opened near row {m.group(1)})" if m else ""
        return f"{p.name} has a quote that is never closed{where}; close it or remove the stray quote character."
    if "corresponds to no data" in msgs or "BatchSize must be greater than 0" in msgs:
        return f"{p.name} has no data rows; add labelled rows (below the header line in CSV/TSV)."
    if "No columns to parse" in msgs or "EmptyDataError" in msgs:
        return f"{p.name} has no header or data; the first line must name the columns, e.g. text,label."
    if "UnicodeDecodeError" in msgs:
        return f"{p.name} is not UTF-8 text; save it as UTF-8 (in Excel: Save As > CSV UTF-8)."
    if p.suffix.lower() == ".parquet":
        return f"{p.name} is not a readable Parquet file ({type(chain[-1]).__name__}); export it again."
    last = chain[-1]
    return f"{p.name} could not be read: {str(last).splitlines()[0][:200] if str(last) else type(last).__name__}."


# ------------------------------------------------------------ columns --
def detect_columns(df: pd.DataFrame, source: str = "data") -> tuple[str, str]:
    """Guess (text, label) columns: known names first, then shape."""
    cols = list(df.columns)
    lower = {c.lower(): c for c in cols}
    text = next((lower[n] for n in TEXT_NAMES if n in lower), None)
    label = next((lower[n] for n in LABEL_NAMES if n in lower and lower[n] != text), None)
    stringy = [c for c in cols if _is_text_like(df[c])]
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


def _is_text_like(s: pd.Series) -> bool:
    if s.dtype == object or str(s.dtype).startswith(("string", "str")):
        sample = s.dropna().head(200)
        return len(sample) > 0 and all(isinstance(v, str) for v in sample)
    return False


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
    if len(cols) < 2:
        raise DataError(f"{name} has a single column {cols[0]!r}; it needs a text and a label column "
                        "(check the separator: TSV files need the .tsv extension).")
    if any(_looks_headerless(df, c) for c in cols) or (detected_label and _name_is_a_value(df, label_col)):
        raise DataError(f"{name} seems to have no header row: its first line ({', '.join(map(str, cols))[:80]!r}) "
                        "looks like data; add a first line naming the columns, e.g. text,label.")
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
        raise DataError(f"{name}: text column {text_col!r} is empty in every row; choose the column that holds the texts.")
    if not _is_text_like(tcol) :
        kind = "numbers" if pd.api.types.is_numeric_dtype(tcol) else f"{type(nonnull.iloc[0]).__name__} values"
        raise DataError(f"{name}: column {text_col!r} holds {kind}, not text; choose the column that holds the texts.")
    labels = df[label_col].map(_label_str)
    if labels.isna().all():
        raise DataError(f"{name}: label column {label_col!r} is empty in every row; choose the column that holds the labels.")
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


# -------------------------------------------------------------- split --
def stratified_split(df: pd.DataFrame, fractions: dict[str, float], seed: int, name: str) -> dict[str, pd.DataFrame]:
    """Split per class so each split keeps the class balance; deterministic for a seed."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("train", *fractions)}
    need = 1 + sum(1 for f in fractions.values() if f > 0)
    for label, idx in sorted(df.groupby("label").indices.items()):
        n = len(idx)
        if n < need:
            held = " and ".join(k for k, f in fractions.items() if f > 0)
            raise DataError(f"{name}: class {label!r} has {n} row{'s' if n != 1 else ''}, too few to split into train and "
                            f"{held} (needs {need}); add rows for it, remove it, or provide validation/test files.")
        idx = rng.permutation(idx)
        start = 0
        held = [s for s, f in fractions.items() if f > 0]
        for i, split in enumerate(held):
            k = max(1, int(round(n * fractions[split])))
            # leave one row for each later held-out split and one for train
            k = min(k, n - start - (len(held) - i - 1) - 1)
            parts[split].append(idx[start:start + k])
            start += k
        parts["train"].append(idx[start:])
    out = {}
    for split, chunks in parts.items():
        if split != "train" and fractions.get(split, 0) <= 0:
            continue
        sel = np.sort(np.concatenate(chunks)) if chunks else np.array([], dtype=int)
        out[split] = df.iloc[sel].reset_index(drop=True)
    return out


def random_split(df: pd.DataFrame, fractions: dict[str, float], seed: int, name: str,
                 unit: str = "row") -> dict[str, pd.DataFrame]:
    """Seeded random split (NER sentences, SFT records, seq2seq pairs: nothing to stratify on); every held-out
    split with a share gets at least one `unit` and train keeps at least one."""
    held = [k for k, f in fractions.items() if f > 0]
    if len(df) < len(held) + 1:
        raise DataError(f"{name} has {len(df)} usable {unit}(s), too few to split into train and {' and '.join(held)}; "
                        f"add {unit}s or provide validation/test files.")
    order = np.random.default_rng(seed).permutation(len(df))
    out, start = {}, 0
    for i, split in enumerate(held):
        k = max(1, int(round(len(df) * fractions[split])))
        k = min(k, len(df) - start - (len(held) - i))  # leave one for each later split and one for train
        out[split] = df.iloc[np.sort(order[start:start + k])].reset_index(drop=True)
        start += k
    out["train"] = df.iloc[np.sort(order[start:])].reset_index(drop=True)
    return out


# ------------------------------------------------------------ prepare --
def prepare(cfg: DataConfig, tokenizer=None, max_length: int | None = None) -> PreparedData:
    """Read, check, clean and split the data of a run config."""
    train_name = Path(cfg.train).name
    raw_train = read_table(cfg.train, "Training")
    text_col, label_col = _check_columns(raw_train, train_name, cfg.text_column, cfg.label_column)
    frames: dict[str, pd.DataFrame] = {}
    dropped_empty = 0
    names = cfg.names_of_ids()
    frames["train"], n = _clean(raw_train, train_name, text_col, label_col)
    frames["train"] = _name_label_ids(frames["train"], names, train_name, label_col)
    dropped_empty += n
    source = {"train": train_name}
    for split in ("validation", "test"):
        path = getattr(cfg, split)
        if path:
            raw = read_table(path, split.capitalize())
            nm = Path(path).name
            for col in (text_col, label_col):
                if col not in raw.columns:
                    raise DataError(f"{nm}: no column {col!r} (the training file's); the columns are {list(raw.columns)}.")
            frames[split], n = _clean(raw, nm, text_col, label_col)
            frames[split] = _name_label_ids(frames[split], names, nm, label_col)
            dropped_empty += n
            source[split] = nm
    merges = _merge_label_variants(frames)
    before = sum(len(f) for f in frames.values())
    conflicting = 0
    for k, f in frames.items():
        conflicting += int(f.drop_duplicates().duplicated("text").sum())
        frames[k] = f.drop_duplicates().reset_index(drop=True)
    dropped_dup = before - sum(len(f) for f in frames.values())

    train = frames["train"]
    if len(train) == 0:
        raise DataError(f"{train_name} has no rows with both a text and a label.")
    classes = train["label"].unique()
    if len(classes) < 2:
        raise DataError(f"{train_name}: column {label_col!r} has a single class {classes[0]!r}; "
                        "a classifier needs at least two labels, so add rows of another class or choose another label column.")
    for split in ("validation", "test"):
        if split in frames:
            extra = sorted(set(frames[split]["label"]) - set(classes))
            if extra:
                raise DataError(f"{source[split]}: label {extra[0]!r} never occurs in the training data; "
                                "add training rows for it or remove it from the file.")
    fractions = {}
    if "validation" not in frames:
        fractions["validation"] = cfg.validation_fraction
    if "test" not in frames:
        fractions["test"] = cfg.test_fraction
    if fractions:
        parts = stratified_split(train, fractions, cfg.split_seed, train_name)
        frames["train"] = parts["train"]
        for k in fractions:
            if k in parts:
                frames[k] = parts[k]
                source[k] = f"{int(round(fractions[k] * 100))}% of {train_name} (stratified, seed {cfg.split_seed})"
    if cfg.max_rows and len(frames["train"]) > cfg.max_rows:
        frac = cfg.max_rows / len(frames["train"])
        frames["train"] = _stratified_sample(frames["train"], frac, cfg.split_seed)
    labels = _sort_labels(set(frames["train"]["label"]))
    shared = {}
    tr = set(frames["train"]["text"].str.casefold())
    for split in ("validation", "test"):
        if split in frames:
            shared[f"train-{split}"] = int(frames[split]["text"].str.casefold().isin(tr).sum())
    report = DataReport(
        text_column=text_col, label_column=label_col, columns=list(raw_train.columns), labels=labels,
        rows={k: len(v) for k, v in frames.items()},
        label_counts={k: {l: int(c) for l, c in v["label"].value_counts().reindex(labels, fill_value=0).items()}
                      for k, v in frames.items()},
        dropped_empty=dropped_empty, dropped_duplicates=dropped_dup, conflicting_duplicates=conflicting,
        label_merges=merges, shared_between_splits=shared, split_source=source,
    )
    lengths = frames["train"]["text"].str.len()
    report.long_texts, report.longest_text = int((lengths > LONG_TEXT_CHARS).sum()), int(lengths.max())
    if tokenizer is not None:
        report.token_lengths = token_length_stats(frames["train"]["text"], tokenizer, max_length)
    report.warnings = _warnings(report, max_length)
    return PreparedData(splits=frames, labels=labels, report=report)


def _stratified_sample(df: pd.DataFrame, frac: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    keep = []
    for _, idx in sorted(df.groupby("label").indices.items()):
        k = max(1, int(round(len(idx) * frac)))
        keep.append(rng.choice(idx, size=k, replace=False))
    return df.iloc[np.sort(np.concatenate(keep))].reset_index(drop=True)


def token_length_stats(texts, tokenizer, max_length: int | None = None, sample: int = 20000) -> dict[str, float]:
    texts = list(texts[:sample]) if len(texts) > sample else list(texts)
    enc = tokenizer(texts, add_special_tokens=True, truncation=False, return_attention_mask=False)["input_ids"]
    lens = np.array([len(x) for x in enc])
    out = {f"p{q}": float(np.percentile(lens, q)) for q in (50, 90, 95, 99)}
    out.update({"max": float(lens.max()), "mean": float(lens.mean()), "sampled": float(len(lens))})
    if max_length:
        out["truncated_share"] = float((lens > max_length).mean())
    return out


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
    if r.dropped_duplicates:
        w.append(f"{r.dropped_duplicates} duplicate row(s) were dropped.")
    if r.conflicting_duplicates:
        w.append(f"{r.conflicting_duplicates} text(s) appear with more than one label.")
    if r.dropped_empty:
        w.append(f"{r.dropped_empty} row(s) with an empty text or label were dropped.")
    for k, n in r.shared_between_splits.items():
        if n:
            w.append(f"{n} text(s) appear in both {k.replace('-', ' and ')}: test scores will be optimistic.")
    if r.label_merges:
        pairs = ", ".join(f"{a!r}->{b!r}" for a, b in list(r.label_merges.items())[:5])
        w.append(f"Labels differing only in case or spacing were merged: {pairs}.")
    if r.long_texts:
        w.append(f"{r.long_texts} training text(s) are longer than {LONG_TEXT_CHARS:,} characters (the longest has "
                 f"{r.longest_text:,}); only their first max_length tokens are used, so split long documents into passages.")
    tl = r.token_lengths or {}
    if max_length and tl.get("truncated_share", 0) > 0.05:
        w.append(f"{tl['truncated_share']:.0%} of texts are longer than max_length={max_length} tokens and will be "
                 f"truncated (95th percentile: {tl['p95']:.0f}).")
    return w


def preview(path: str, rows: int = 20) -> pd.DataFrame:
    """The first rows of a file as read, for display."""
    return read_table(path).head(rows)


def save_splits(data: PreparedData, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k, df in data.splits.items():
        df.to_parquet(folder / f"{k}.parquet", index=False)


def load_splits(folder: Path) -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}
