"""Seq2seq test report: generate for every test source, score the outputs, and one row per pair."""

from __future__ import annotations

import pandas as pd

from studio.tasks.seq2seq.tokens import decode
from studio.tasks.seq2seq.training import _normalise, text_metrics


def test_report(trainer, test_ds, test_df: pd.DataFrame, labels=None, tokenizer=None, cfg=None):
    """Generate for every test source with the loaded (best) model; metrics plus one row per pair."""
    tokenizer = tokenizer or trainer.processing_class
    pred = trainer.predict(test_ds)
    outputs = decode(tokenizer, pred.predictions)
    refs = test_df["target"].tolist()
    return report_from_outputs(test_df["source"].tolist(), refs, outputs)


def report_from_outputs(sources: list[str], references: list[str], outputs: list[str]) -> tuple[dict, list[dict]]:
    import sacrebleu

    report = {"task": "seq2seq", "n": len(references), "metrics": text_metrics(outputs, references)}
    rows = [{"text": s, "reference": r, "output": o, "exact": _normalise(o) == _normalise(r),
             "chrf": float(sacrebleu.sentence_chrf(o, [r]).score)} for s, r, o in zip(sources, references, outputs)]
    return report, rows
