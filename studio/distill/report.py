"""What a distilled run reports: teacher, student and the labels-only student side by side, with their test
scores, sizes and measured prediction speed."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studio.base.runfolder import RunFolder
from studio.distill.capability import SoftLabels
from studio.distill.teacher import record, teacher_logits
from studio.methods import count_parameters
from studio.serve.inference import LoadedRun
from studio.tasks import get_task


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
    t_metrics = get_task(cfg.task).capability(SoftLabels).metrics_from_logits(t_logits, y)
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


def table_lines(rows: list[dict[str, Any]], metrics: tuple[str, ...]) -> list[str]:
    """The side-by-side rows as aligned text lines (the CLI), with the task's first test metrics."""
    shown = metrics[:2]
    out = [f"{'':22} " + " ".join(f"{m:>9}" for m in shown) + f" {'parameters':>11} {'ms/text':>8} {'texts/s':>8}  run"]
    for r in rows:
        m = r["metrics"] or {}
        scores = " ".join(f"{m[k]:>9.4f}" if k in m else f"{'pending':>9}" for k in shown)
        out.append(f"{r['who']:22} {scores} {r['parameters']:>11,} {r['latency_ms']:>8.1f} "
                   f"{r['texts_per_second']:>8.0f}  {r['run']}")
    return out
