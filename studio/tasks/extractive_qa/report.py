"""Extractive QA's test report: every test question answered by the best model, exact match and F1."""

from __future__ import annotations

import pandas as pd

from studio.tasks.extractive_qa.training import _split_answers, best_spans, normalise, scores, span_f1


def test_report(trainer, test_ds, test_df: pd.DataFrame, labels, tokenizer=None, cfg=None):
    """Every test question answered by the loaded (best) model: EM and F1, one row per question."""
    pred = trainer.predict(test_ds)
    start, end = pred.predictions[:2]
    max_answer = cfg.task_args.max_answer_length if cfg is not None else 30
    spans = best_spans(start, end, test_ds["example_id"], test_ds["offset_mapping"], test_df["context"].tolist(),
                       max_answer)
    answers = _split_answers(test_df)
    report = {"task": "extractive-qa", "n": int(len(test_df)),
              "metrics": scores([s["answer"] for s in spans], answers),
              "metric_notes": {"exact_match": "share of questions whose predicted span equals an answer (SQuAD's "
                                              "normalisation)", "f1": "mean token F1 against the best answer"}}
    rows = [{"question": q, "context": c[:300], "answer": golds[0], "predicted": s["answer"],
             "exact": max(normalise(s["answer"]) == normalise(a) for a in golds),
             "f1": round(max(span_f1(s["answer"], a) for a in golds), 4), "score": round(s["score"], 4)}
            for q, c, golds, s in zip(test_df["question"], test_df["context"], answers, spans)]
    return report, rows
