"""Label a whole file with a finished run and write the predictions as CSV."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from studio.base import files
from studio.base.errors import DataError, InferenceError
from studio.base.runfolder import RunFolder
from studio.data import TEXT_NAMES, read_table
from studio.serve import inference
from studio.tasks import all_tasks, get_task

MAX_ROWS = int(os.environ.get("STUDIO_MAX_BATCH_ROWS", "20000"))


def text_column(df: pd.DataFrame, preferred: str | None = None) -> str:
    """The run's own text column when the file has it, else a text-named column, else the only text column."""
    cols = [str(c) for c in df.columns]
    if preferred and preferred in cols:
        return preferred
    lower = {c.lower(): c for c in cols}
    for name in TEXT_NAMES:
        if name in lower:
            return lower[name]
    texty = [c for c in cols if _all_text(df[c])]
    if len(texty) == 1:
        return texty[0]
    if texty:
        return max(texty, key=lambda c: df[c].astype(str).str.len().mean())
    raise DataError(f"No text column among {cols}; name the column of texts 'text'.")


def _all_text(s: pd.Series) -> bool:
    sample = s.dropna().head(200)
    return len(sample) > 0 and all(isinstance(v, str) for v in sample)


def predict_file(run_dir: Path, path: str | Path) -> pd.DataFrame:
    """Predictions for every row of a CSV/TSV/JSON/JSONL/Parquet file (its own columns kept first)."""
    run_dir = Path(run_dir)
    df = read_table(str(path), "Input")
    if len(df) > MAX_ROWS:
        raise DataError(f"{Path(path).name} has {len(df)} rows; label at most {MAX_ROWS} at once "
                        "(split the file, or raise STUDIO_MAX_BATCH_ROWS).")
    cfg = files.read_json(RunFolder(run_dir).config) or {}
    task = get_task(cfg.get("task"))
    if not labels_files(task):
        labelling = [t.name for t in all_tasks() if labels_files(t)]
        raise InferenceError(f"Run {run_dir.name} is a {task.name} run; labelling a file works with "
                             f"{', '.join(labelling)} runs (use `studio predict` for one input per line).")
    col = text_column(df, (cfg.get("data") or {}).get("text_column"))
    texts = ["" if v is None else str(v) for v in df[col].tolist()]
    preds = inference.predict(run_dir, texts)
    out = df.copy()
    out["predicted"] = [p["label"] for p in preds]
    out["confidence"] = [round(p["score"], 6) for p in preds]
    labels = list(preds[0]["probabilities"]) if preds else []
    for lab in sorted(labels):
        out[f"p({lab})"] = [round(p["probabilities"][lab], 6) for p in preds]
    return out


def labels_files(task) -> bool:
    """A finished run of this task can label a whole file (label probabilities for every row)."""
    return task.playground.labels_files


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(value):
    """A cell that a spreadsheet shows as text: one starting like a formula gets a leading single quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def inert_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of df whose text cells and column names cannot run as spreadsheet formulas (CSV injection)."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or str(out[col].dtype).startswith(("string", "str")):
            out[col] = out[col].map(inert)
    out.columns = [inert(str(c)) for c in out.columns]
    return out


def write_csv(df: pd.DataFrame, folder: str | Path, stem: str) -> Path:
    """Write df as CSV; every text cell is made inert for spreadsheets (see `inert`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.csv"
    inert_frame(df).to_csv(path, index=False)
    return path
