"""New training rows: planned, made once per run, saved beside their originals, read back on resume.

A run with `augment.copies` above 0 makes, before it tokenises, up to `copies` new rows from each training row,
each by one of the chosen operations in turn (the task's Augmentation names those that apply and makes them).
The new rows are saved in the run folder (RunFolder.augmented_rows: each beside the row it came from), counted
per operation in data_report.json, exported with the splits for the reproduce script, and read back on resume
instead of being made again.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from studio import models
from studio.augment.capability import Augmentation
from studio.augment.config import GENERATING, operations
from studio.base import files
from studio.base.errors import ConfigError, ModelError
from studio.base.runfolder import RunFolder
from studio.tasks import get_task


def check_generator(acfg, task) -> None:
    """A run that paraphrases needs its generator here (bundled, cached or reachable), before the run exists."""
    if not acfg.copies or not any(o in GENERATING for o in operations(acfg, task)):
        return
    try:
        resolved = models.resolve(acfg.generator, materialize=False)
        if isinstance(resolved, str):
            models.check_hub(resolved)
    except ModelError as e:
        raise ConfigError(f"augment.generator: paraphrase needs its generator, and {e}") from None


def plan(n_rows: int, ops: list[str], copies: int, cap: int | None, seed: int) -> dict[str, list[int]]:
    """Which source rows each operation makes a new row from: `copies` per row, the operations taken in turn,
    at most `cap` in all (a seeded choice of them)."""
    jobs = [(row, ops[(row * copies + k) % len(ops)]) for row in range(n_rows) for k in range(copies)]
    if cap is not None and len(jobs) > cap:
        keep = np.sort(np.random.default_rng(seed).choice(len(jobs), size=cap, replace=False))
        jobs = [jobs[i] for i in keep]
    out: dict[str, list[int]] = {o: [] for o in ops}
    for row, op in jobs:
        out[op].append(row)
    return out


def make_rows(task, train: pd.DataFrame, acfg, seed: int, model_path, log: Callable[[str], None] = print
              ) -> pd.DataFrame:
    """The new rows: the split's own columns plus `operation` and `source_row` (the row's position in train).
    A row an operation could not change (a one-word text cannot be swapped) is left out."""
    ops = operations(acfg, task)
    jobs = plan(len(train), ops, acfg.copies, acfg.max_new_rows, seed)
    cap = task.capability(Augmentation)
    context = cap.context(train, ops, model_path, acfg.generator)
    frames = []
    for i, op in enumerate(ops):
        rows = jobs[op]
        if not rows:
            continue
        t0 = time.time()
        source = train.iloc[rows].reset_index(drop=True)
        made = cap.augment(source, op, acfg.strength, seed + i, context)
        kept = [(r, new) for r, new in zip(rows, made) if new is not None]
        log(f"[studio] augmentation {op}: {len(kept)} new rows from {len(rows)} in {time.time() - t0:.1f}s")
        if kept:
            frame = pd.DataFrame([new for _, new in kept])
            frame.insert(0, "operation", op)
            frame.insert(1, "source_row", [r for r, _ in kept])
            frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["operation", "source_row"])


def counts(rows: pd.DataFrame) -> dict[str, int]:
    return {str(k): int(v) for k, v in Counter(rows["operation"]).items()} if len(rows) else {}


def saved_rows(run_dir: Path) -> pd.DataFrame | None:
    """A run's augmented rows (RunFolder.augmented_rows), or None when it made none."""
    path = RunFolder(Path(run_dir)).augmented_rows
    if not path.is_file():
        return None
    if not path.stat().st_size:  # the operations changed no row
        return pd.DataFrame(columns=["operation", "source_row"])
    return pd.read_json(path, lines=True, dtype=False)


def with_saved_rows(run_dir: Path, train: pd.DataFrame) -> pd.DataFrame:
    """The training split as a run trained on it: its rows, then the augmented ones (the split's columns only)."""
    rows = saved_rows(run_dir)
    if rows is None or not len(rows):
        return train
    return pd.concat([train, rows[list(train.columns)]], ignore_index=True)


def for_run(run_dir: Path, cfg, task, train: pd.DataFrame, model_path, main: bool = True) -> pd.DataFrame:
    """The training rows of a run: made once (and recorded in the data report) on its first start, read back on
    resume; every process of a multi-process run reads what the main one made."""
    acfg = cfg.augment
    if not acfg.copies:
        return train
    path = RunFolder(Path(run_dir)).augmented_rows
    if not path.is_file():
        if not main:
            _wait_for(path)
        else:
            rows = make_rows(task, train, acfg, cfg.training.seed, model_path)
            _save(run_dir, train, rows)
    return with_saved_rows(run_dir, train)


def _save(run_dir: Path, train: pd.DataFrame, rows: pd.DataFrame) -> None:
    shown = rows.copy()
    shown.insert(2, "original", [str(train["text"].iloc[r]) for r in rows["source_row"]] if len(rows) else [])
    files.atomic_write_text(RunFolder(Path(run_dir)).augmented_rows, shown.to_json(orient="records", lines=True,
                                                                            force_ascii=False))
    report_path = RunFolder(Path(run_dir)).data_report
    report = files.read_json(report_path) or {}
    report["augmentation"] = {"rows_added": counts(rows), "train_rows": len(train),
                              "train_rows_after": len(train) + len(rows)}
    files.atomic_write_json(report_path, report)


def _wait_for(path: Path, timeout: float = 6 * 3600) -> None:
    deadline = time.time() + timeout
    while not path.is_file():
        if time.time() > deadline:
            raise RuntimeError(f"{path.name} was not written by the main process within {timeout:.0f}s.")
        time.sleep(1.0)


def preview(cfg, train: pd.DataFrame, n: int = 6, model_path=None) -> pd.DataFrame:
    """A few new rows beside their originals (operation, original, augmented, and the answer), for the Data tab
    and `studio augment`: one from each of `n` training rows (a seeded choice), the operations in turn."""
    task, cfg = get_task(cfg.task), cfg.resolved()
    acfg = _with_copies(cfg.augment)
    check_generator(acfg, task)
    sample = train.sample(n=min(n, len(train)), random_state=cfg.training.seed).reset_index(drop=True)
    rows = make_rows(task, sample, acfg, cfg.training.seed, model_path or models.resolve(cfg.model),
                     log=lambda _: None)
    if not len(rows):
        return pd.DataFrame(columns=["operation", "original", "augmented"])
    rows = rows.sort_values("source_row", kind="stable").reset_index(drop=True)
    out = pd.DataFrame({"operation": rows["operation"],
                        "original": [str(sample["text"].iloc[r]) for r in rows["source_row"]],
                        "augmented": rows["text"].astype(str)})
    for col in rows.columns.difference(["operation", "source_row", "text", "tokens"]):  # the answer: label, tags
        out[col] = [" ".join(map(str, v)) if isinstance(v, (list, tuple, np.ndarray)) else str(v) for v in rows[col]]
    return out


def _with_copies(acfg):
    """A preview shows one new row per sample row (the operations in turn), whatever the run's copies."""
    return dataclasses.replace(acfg, copies=1, max_new_rows=None)


def describe(report: dict[str, Any]) -> str | None:
    """How many rows augmentation added, per operation ("42 augmented training rows (swap 21, delete 21)"), from a
    data report; None for a run without augmentation."""
    aug = (report or {}).get("augmentation")
    if not aug:
        return None
    parts = ", ".join(f"{op} {n}" for op, n in aug["rows_added"].items()) or "none"
    return f"{aug['train_rows_after'] - aug['train_rows']} augmented training rows ({parts})"
