"""Knowledge distillation: a finished run (the teacher) teaches a new run (the student).

Two kinds, as the task says. Sequence level (SFT: Task.teacher_answers): the teacher answers each training
conversation and its answers become the student's targets (Kim & Rush 2016), kept in RunFolder.teacher_answers.
Soft labels (classification: Task.test_report_metrics): the student learns from the teacher's temperature-softened class probabilities (KL divergence, scaled by T²
as in Hinton et al. 2015) plus the true labels (cross-entropy), weighted by `distill.alpha`; optionally also
from a transfer file of unlabelled texts that only the teacher labels. The teacher's logits are computed once,
before training, and kept in the run folder (RunFolder.teacher_logits). At the end the run scores the teacher on its own test
split and measures both models' prediction speed, so its report shows teacher and student side by side; with
`compare_alone` the same student is queued again without the teacher, to show what the teacher added.

Which tasks can be distilled is the task's to say (Task.distills: one label per text; config.validate asks it).
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studio.base import runfolder
from studio.data import DataError
from studio.base.errors import ConfigError
from studio.serve.inference import LoadedRun
from studio.methods import count_parameters
from studio.tasks import get_task
from studio.base.runfolder import RunFolder
from studio.base import files



# ------------------------------------------------------------------------------------ before a run exists --
def prepare(store, cfg, prepared) -> dict[str, Any]:
    """What the student's folder records of its teacher; a ConfigError, before anything is created, when the teacher
    cannot teach this run (missing, unfinished, another task or label set, an unreadable transfer file)."""
    d = cfg.distill
    try:
        rd = store.run_dir(d.teacher)
    except Exception as e:  # noqa: BLE001 - a malformed id: one sentence
        raise ConfigError(f"distill.teacher: {e}") from None
    if not rd.is_dir():
        raise ConfigError(f"distill.teacher: there is no run {d.teacher} in this runs folder.")
    status = runfolder.read_status(rd).get("status")
    meta = runfolder.model_meta(rd)
    if status != "completed" or meta is None:
        raise ConfigError(f"distill.teacher: run {d.teacher} is {status}; only a completed run can teach.")
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
    try:
        rows = task.labelled_rows(source, unlabelled_ok=True)
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
                          cfg.training)["transfer"]
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
    out = task.teacher_answers(train, teacher.model, teacher.tokenizer, cfg.training.max_new_tokens)
    if main:
        files.atomic_write_text(path, out.to_json(orient="records", lines=True, force_ascii=False))
    print(f"[studio] teacher {rec['teacher']}: answers to {len(out)} training conversations in {time.time() - t0:.1f}s",
          flush=True)
    return out


class Collator:
    """The task's collator, with the teacher's logits stacked beside the batch (rows without them: evaluation)."""

    def __init__(self, base):
        self.base = base

    def __call__(self, features):
        import torch

        soft = [f.pop("teacher_logits") for f in features if "teacher_logits" in f]
        batch = self.base(features)
        if soft:
            batch["teacher_logits"] = torch.tensor(soft, dtype=torch.float32)
        return batch


def trainer_class(base_cls, temperature: float, alpha: float):
    """base_cls whose loss mixes the teacher's softened probabilities (KL x T²) with the true labels' cross-entropy;
    rows without a true label (the transfer texts, -100) learn from the teacher only."""
    import torch
    import torch.nn.functional as F

    class DistillTrainer(base_cls):
        def _set_signature_columns_if_needed(self):
            super()._set_signature_columns_if_needed()  # the columns the model takes: the logits must reach the loss
            if "teacher_logits" not in self._signature_columns:
                self._signature_columns.append("teacher_logits")

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            soft = inputs.pop("teacher_logits", None)
            if soft is None:  # evaluation: the plain loss on true labels
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            logits = outputs.logits.float()
            t = temperature
            kl = F.kl_div(F.log_softmax(logits / t, -1), F.softmax(soft.to(logits.device) / t, -1),
                          reduction="batchmean") * t * t
            known = labels != -100
            ce = F.cross_entropy(logits[known], labels[known]) if known.any() else logits.sum() * 0.0
            loss = alpha * kl + (1 - alpha) * ce
            return (loss, outputs) if return_outputs else loss

    DistillTrainer.__name__ = f"Distill{base_cls.__name__}"
    return DistillTrainer


# ------------------------------------------------------------------------------------------ the report --
def speed(model, tokenizer, texts: list[str], max_length: int, batch_size: int = 64) -> dict[str, float]:
    """Measured prediction speed on these texts: median latency of one text (ms) and texts per second in batches."""
    import torch

    model.eval()
    device = next(model.parameters()).device
    one = texts[:32]

    def run(batch):
        enc = tokenizer(batch, truncation=True, padding=True, max_length=max_length, return_tensors="pt").to(device)
        model(**enc)

    with torch.inference_mode():
        run(one[:2])  # warm-up
        times = []
        for text in one:
            t0 = time.perf_counter()
            run([text])
            times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for i in range(0, len(texts), batch_size):
            run(texts[i:i + batch_size])
        total = time.perf_counter() - t0
    return {"latency_ms": round(1000 * statistics.median(times), 2), "texts_per_second": round(len(texts) / total, 1)}


def sequence_report(run_dir: Path, student) -> dict[str, Any]:
    """Sequence level: who taught, on how many answers, and the comparison run (scores are in each run's report)."""
    rec = record(run_dir)
    teacher = LoadedRun(Path(rec["teacher_dir"]))
    return {"kind": "sequence", "alone": rec.get("alone"),
            "teacher": {"run": rec["teacher"], "model": rec["teacher_model"], "method": rec["teacher_method"],
                        "parameters": count_parameters(teacher.model)[1]},
            "student": {"run": Path(run_dir).name, "parameters": count_parameters(student)[1]},
            "teacher_answers": len(pd.read_json(RunFolder(Path(run_dir)).teacher_answers, lines=True))}


def report(run_dir: Path, cfg, student, tokenizer, test_df: pd.DataFrame, labels: list[str],
           student_metrics: dict[str, float]) -> dict[str, Any]:
    """Teacher and student on this run's test split: scores, parameters, measured speed."""
    rec = record(run_dir)
    texts = test_df["text"].astype(str).tolist()
    l2i = {lab: i for i, lab in enumerate(labels)}
    y = np.array([l2i[lab] for lab in test_df["label"]])
    teacher = LoadedRun(Path(rec["teacher_dir"]))
    t_logits = teacher_logits(teacher, texts, labels)
    t_metrics = get_task(cfg.task).test_report_metrics(t_logits, y)
    max_length = cfg.training.max_length
    return {
        "teacher": {"run": rec["teacher"], "model": rec["teacher_model"], "method": rec["teacher_method"],
                    "metrics": t_metrics, "parameters": count_parameters(teacher.model)[1],
                    **speed(teacher.model, teacher.tokenizer, texts, teacher.meta.get("max_length", max_length))},
        "student": {"run": Path(run_dir).name, "model": cfg.model, "method": cfg.method, "metrics": student_metrics,
                    "parameters": count_parameters(student)[1], **speed(student, tokenizer, texts, max_length)},
        "alone": rec.get("alone"), "temperature": cfg.distill.temperature, "alpha": cfg.distill.alpha,
        "transfer_rows": len(rec.get("transfer_texts") or []),
    }


def side_by_side(report: dict[str, Any], alone_report: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Rows of the distillation table: teacher, student, and the student on labels alone (once it has finished;
    its speed is the student's, the same model)."""
    d = report["distillation"]
    rows = [{"who": "teacher", **d["teacher"]}, {"who": "student (distilled)", **d["student"]}]
    if d.get("alone"):
        done = alone_report is not None
        rows.append({"who": "student (labels only)", "run": d["alone"], "model": d["student"]["model"],
                     "method": d["student"]["method"], "metrics": alone_report["metrics"] if done else None,
                     "parameters": d["student"]["parameters"], "latency_ms": d["student"]["latency_ms"],
                     "texts_per_second": d["student"]["texts_per_second"]})
    return rows


def sequence_line(report: dict[str, Any], alone_report: dict[str, Any] | None) -> str:
    """Sequence level in one sentence: who wrote the targets, and the labels-only run's scores beside this run's."""
    d = report["distillation"]
    t = d["teacher"]
    line = (f"Trained on {d['teacher_answers']} answers written by teacher {t['run']} ({t['model']} · {t['method']}, "
            f"{t['parameters']:,} parameters; this student {d['student']['parameters']:,}).")
    mine = ", ".join(f"{k} {v:.4f}" for k, v in report["metrics"].items() if isinstance(v, float))
    if d.get("alone") and alone_report:
        theirs = ", ".join(f"{k} {v:.4f}" for k, v in alone_report["metrics"].items() if isinstance(v, float))
        line += f" Test: {mine}; the same student on the file's own answers ({d['alone']}): {theirs}."
    elif d.get("alone"):
        line += f" The same student on the file's own answers ({d['alone']}) is queued or running."
    return line


def table_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The side-by-side rows as aligned text lines (the CLI)."""
    out = [f"{'':22} {'accuracy':>9} {'macro F1':>9} {'parameters':>11} {'ms/text':>8} {'texts/s':>8}  run"]
    for r in rows:
        m = r["metrics"] or {}
        acc = f"{m['accuracy']:.4f}" if "accuracy" in m else "pending"
        f1 = f"{m['f1']:.4f}" if "f1" in m else ""
        out.append(f"{r['who']:22} {acc:>9} {f1:>9} {r['parameters']:>11,} {r['latency_ms']:>8.1f} "
                   f"{r['texts_per_second']:>8.0f}  {r['run']}")
    return out
