"""The teacher's side of distillation: checked before the student's run exists, its logits or answers computed
once and kept in the student's folder, the labels-only comparison run's config."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from studio.base import files, runfolder
from studio.base.errors import ConfigError, DataError
from studio.base.runfolder import RunFolder
from studio.distill.capability import SequenceLevel
from studio.serve.inference import LoadedRun
from studio.tasks import get_task


# ------------------------------------------------------------------------------------ before a run exists --
def prepare(run_dir: Callable[[str], Path], cfg, prepared) -> dict[str, Any]:
    """What the student's folder records of its teacher; a ConfigError, before anything is created, when the teacher
    cannot teach this run (missing, unfinished, another task or label set, an unreadable transfer file). `run_dir`
    finds a run's folder, one the person may see (hooks.NewRun.run_dir)."""
    d = cfg.distill
    rd, meta = runfolder.completed_run(run_dir, d.teacher, "distill.teacher", "teach")
    if meta["task"] != cfg.task:
        raise ConfigError(f"distill.teacher: run {d.teacher} is a {meta['task']} run; a {cfg.task} student needs a "
                          "teacher of its own task.")
    if set(meta["labels"]) != set(prepared.labels):
        missing = sorted(set(prepared.labels) - set(meta["labels"]))[:5]
        extra = sorted(set(meta["labels"]) - set(prepared.labels))[:5]
        raise ConfigError(f"distill.teacher: run {d.teacher} knows other labels than this data (the data has "
                          f"{missing or 'none'} that the teacher lacks; the teacher has {extra or 'none'} that the "
                          "data lacks); a teacher must have the same label set.")
    transfer = transfer_texts(cfg, prepared) if d.transfer else []
    return {"teacher": d.teacher, "teacher_dir": str(rd), "teacher_model": meta["base_model"],
            "teacher_method": meta["method"], "transfer_texts": transfer}


def transfer_texts(cfg, prepared) -> list[str]:
    """The transfer file's texts, less those of the labelled data's splits (a ConfigError names what is wrong)."""
    task = get_task(cfg.task)
    source = dataclasses.replace(cfg.data, train=cfg.distill.transfer, validation=None, test=None, label_column=None,
                                 max_rows=None)
    labelled = task.rows_with_labels()
    if labelled is None:
        raise ConfigError(f"distill.transfer: {task.name} data is not one text and one label per row; leave the "
                          "transfer file out.")
    try:
        rows = labelled.labelled_rows(source, unlabelled_ok=True)
    except DataError as e:
        raise ConfigError(f"distill.transfer: {e}") from None
    seen = {t for df in prepared.splits.values() for t in df["text"]}
    texts = list(dict.fromkeys(t for t in rows.texts if t and t not in seen))
    if not texts:
        raise ConfigError(f"distill.transfer: {Path(cfg.distill.transfer).name} has no text that is not already in "
                          "the labelled data.")
    return texts


def alone_config(cfg):
    """The same student without its teacher (the comparison run)."""
    return dataclasses.replace(cfg, name=f"{cfg.display_name()} · labels only",
                               distill=dataclasses.replace(cfg.distill, teacher=None, transfer=None,
                                                           compare_alone=False))


# -------------------------------------------------------------------------------------------- training --
def record(run_dir: Path) -> dict[str, Any] | None:
    return files.read_json(RunFolder(Path(run_dir)).distill)


def teacher_logits(teacher: LoadedRun, texts: list[str], labels: list[str], batch_size: int = 64) -> np.ndarray:
    """The teacher's logits for the texts, its columns in the student's label order."""
    import torch

    order = [teacher.meta["labels"].index(lab) for lab in labels]
    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            enc = teacher.tokenizer(texts[i:i + batch_size], truncation=True, padding=True, return_tensors="pt",
                                    max_length=teacher.meta.get("max_length", 128)).to(teacher.model.device)
            out.append(teacher.model(**enc).logits.float().cpu().numpy())
    return np.concatenate(out)[:, order] if out else np.zeros((0, len(labels)), dtype=np.float32)


def attach(run_dir: Path, cfg, task, ds, splits, labels: list[str], tokenizer, main: bool = True):
    """The training set with the teacher's logits on every row (and the transfer texts, labelled by the teacher
    alone); computed once, then read back from RunFolder.teacher_logits on resume."""
    import datasets

    rec = record(run_dir)
    train_texts = splits["train"]["text"].astype(str).tolist()
    transfer = rec.get("transfer_texts") or []
    path = RunFolder(Path(run_dir)).teacher_logits
    if path.is_file():
        logits = np.load(path)["logits"]
    else:
        t0 = time.time()
        logits = teacher_logits(LoadedRun(Path(rec["teacher_dir"])), train_texts + transfer, labels)
        if main:
            np.savez_compressed(path, logits=logits)
        print(f"[studio] teacher {rec['teacher']}: logits for {len(train_texts)} training rows and {len(transfer)} "
              f"transfer texts in {time.time() - t0:.1f}s", flush=True)
    train = ds["train"].add_column("teacher_logits", [row.tolist() for row in logits[:len(train_texts)]])
    if not transfer:
        return train
    extra = task.tokenize({"transfer": pd.DataFrame({"text": transfer, "label": labels[0]})}, tokenizer, labels,
                          cfg)["transfer"]
    extra = extra.map(lambda _: {"labels": -100}).add_column(
        "teacher_logits", [row.tolist() for row in logits[len(train_texts):]])
    return datasets.concatenate_datasets([train, extra.cast(train.features)])


def with_teacher_answers(run_dir: Path, cfg, task, train: pd.DataFrame, main: bool = True) -> pd.DataFrame:
    """Sequence level: the training split with the teacher's answers as targets, written once, read back on resume."""
    path = RunFolder(Path(run_dir)).teacher_answers
    if path.is_file():
        return pd.read_json(path, lines=True, dtype=False)
    rec = record(run_dir)
    t0 = time.time()
    teacher = LoadedRun(Path(rec["teacher_dir"]))
    out = task.capability(SequenceLevel).teacher_answers(train, teacher.model, teacher.tokenizer,
                                                        cfg.task_args.max_new_tokens)
    if main:
        files.atomic_write_text(path, out.to_json(orient="records", lines=True, force_ascii=False))
    print(f"[studio] teacher {rec['teacher']}: answers to {len(out)} training conversations in {time.time() - t0:.1f}s",
          flush=True)
    return out


