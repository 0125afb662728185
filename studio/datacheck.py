"""Look at a data file before training: preview, columns, split report, token lengths.

The Data tab and `studio` scripts call `check`; it reads the file once for the
preview and runs the same `data.prepare` a run will, so what the page shows
(rows per split, warnings, errors) is what training will get. A file that
cannot be prepared still gets a preview and its columns, so the user can
pick other columns or see what is wrong.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from studio import data as data_mod
from studio.config import ConfigError, DataConfig

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "assets" / "samples"
HISTOGRAM_SAMPLE = 5000  # token lengths are counted on at most this many training texts


@dataclass
class DataCheck:
    preview: pd.DataFrame | None = None
    columns: list[str] = field(default_factory=list)
    text_column: str | None = None
    label_column: str | None = None
    report: data_mod.DataReport | None = None
    token_lengths: list[int] = field(default_factory=list)
    tokenizer: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.report is not None


# The task each bundled sample is for; a sample not listed here is a text-classification file.
SAMPLE_TASKS = {"ner_sample.conll": "token-classification", "sft_sample.jsonl": "sft",
                "seq2seq_sample.csv": "seq2seq"}
# What a data upload may be, over all tasks: the tables of data.SUPPORTED plus CoNLL column files (NER).
DATA_SUFFIXES = (*data_mod.SUPPORTED, ".conll", ".iob", ".bio")
SAMPLE_SUFFIXES = DATA_SUFFIXES


def list_samples(folder: Path = SAMPLES_DIR) -> dict[str, Path]:
    """Bundled sample datasets by file name (empty when the assets are not shipped)."""
    if not folder.is_dir():
        return {}
    return {p.name: p for p in sorted(folder.iterdir()) if p.suffix.lower() in SAMPLE_SUFFIXES and p.is_file()}


def sample_task(name: str) -> str:
    return SAMPLE_TASKS.get(name, "text-classification")


def samples_for(task: str, samples: dict[str, Path]) -> list[str]:
    """The bundled samples of one task, in listing order."""
    return [n for n in samples if sample_task(n) == task]


@functools.lru_cache(maxsize=4)
def _tokenizer(model: str):
    from studio import models
    from studio.tasks import get_task

    path = models.resolve(model, allow_local=os.environ.get("STUDIO_ALLOW_LOCAL_MODELS", "1") != "0")
    return get_task("text-classification").load_tokenizer(path)


def load_tokenizer(model: str | None):
    """The model's tokenizer, or None when it cannot be loaded here (token lengths are then skipped)."""
    if not model:
        return None
    try:
        return _tokenizer(model.strip())
    except Exception:  # an unreachable hub id or a broken folder must not block looking at data
        return None


def check(cfg: DataConfig, model: str | None = None, max_length: int | None = None, preview_rows: int = 50,
          task: str = "text-classification") -> DataCheck:
    """Preview and prepare cfg's data the way a run will; problems land in `.error`."""
    if task != "text-classification":
        return _check_task(cfg, task, model, max_length, preview_rows)
    out = DataCheck()
    try:
        table = data_mod.read_table(cfg.train)
    except data_mod.DataError as e:
        out.error = str(e)
        return out
    out.preview = table.head(preview_rows)
    out.columns = [str(c) for c in table.columns]
    # Columns that no longer exist (a new file) fall back to detection.
    text_col = cfg.text_column if cfg.text_column in out.columns else None
    label_col = cfg.label_column if cfg.label_column in out.columns else None
    try:
        if text_col is None or label_col is None:
            t, l = data_mod.detect_columns(table, Path(cfg.train).name)
            text_col = text_col or t
            label_col = label_col or (l if l != text_col else None)
    except data_mod.DataError as e:
        out.error = str(e)
    out.text_column, out.label_column = text_col, label_col
    if out.error:
        return out
    if text_col == label_col:
        out.error = f"{Path(cfg.train).name}: the text and label columns are both {text_col!r}; choose two different columns."
        return out
    tok = load_tokenizer(model)
    try:
        # Only the columns the user chose are passed on: prepare detects the others the way a run will,
        # with the same checks (a file whose header row is really data is refused, as on the command line).
        chosen = replace(cfg, text_column=cfg.text_column if cfg.text_column in out.columns else None,
                         label_column=cfg.label_column if cfg.label_column in out.columns else None)
        prepared = data_mod.prepare(chosen, tokenizer=tok, max_length=max_length)
    except (data_mod.DataError, ConfigError) as e:  # ConfigError: label_names that cannot name ids
        out.error = str(e)
        return out
    out.report = prepared.report
    if tok is not None:
        texts = prepared.splits["train"]["text"].tolist()[:HISTOGRAM_SAMPLE]
        out.token_lengths = [len(ids) for ids in tok(texts, add_special_tokens=True, truncation=False)["input_ids"]]
        out.tokenizer = model
    return out


def _check_task(cfg: DataConfig, task: str, model: str | None, max_length: int | None, preview_rows: int) -> DataCheck:
    """NER, SFT and seq2seq files: their task reads them (CoNLL, records, chats); the preview shows the prepared rows."""
    from studio.tasks import get_task

    out = DataCheck()
    tok = load_tokenizer(model)
    try:
        prepared = get_task(task).prepare_data(cfg, tokenizer=tok, max_length=max_length)
    except (data_mod.DataError, ConfigError) as e:
        out.error = str(e)
        return out
    out.report = prepared.report
    train = prepared.splits["train"]
    out.preview = train.head(preview_rows).map(lambda v: v if isinstance(v, (str, int, float)) or v is None else _show(v))
    out.columns = list(prepared.report.columns)
    out.text_column, out.label_column = prepared.report.text_column, prepared.report.label_column
    if tok is not None:
        texts = train["text"].tolist()[:HISTOGRAM_SAMPLE]
        out.token_lengths = [len(ids) for ids in tok(texts, add_special_tokens=True, truncation=False)["input_ids"]]
        out.tokenizer = model
    return out


def _show(v: Any) -> str:
    """Lists (tokens, tags, chat turns) as one readable cell."""
    import json

    try:
        seq = list(v)
    except TypeError:
        return str(v)
    if all(isinstance(x, str) for x in seq):
        return " ".join(seq)
    return json.dumps([dict(x) if hasattr(x, "keys") else x for x in seq], ensure_ascii=False, default=str)[:500]


def summary_rows(report: data_mod.DataReport) -> list[dict[str, Any]]:
    """One row per split: rows, where it comes from, and its label counts."""
    rows = []
    for split in ("train", "validation", "test"):
        if split in report.rows:
            rows.append({"split": split, "rows": report.rows[split], "source": report.split_source.get(split, ""),
                         **report.label_counts.get(split, {})})
    return rows
