"""Seq2seq training: the Seq2SeqTrainer that generates while evaluating, and the text metrics it scores outputs
with (the test report scores with the same ones)."""

from __future__ import annotations

import re

import numpy as np

from studio.tasks.base import TrainerParts
from studio.tasks.seq2seq.tokens import decode


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (0-1) of one pair: longest common subsequence of lower-cased words."""
    p, r = _words(prediction), _words(reference)
    if not p or not r:
        return float(p == r)
    prev = [0] * (len(r) + 1)
    for a in p:
        cur = [0]
        for j, b in enumerate(r):
            cur.append(prev[j] + 1 if a == b else max(prev[j + 1], cur[j]))
        prev = cur
    lcs = prev[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(p), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


def _normalise(text: str) -> str:
    return " ".join(text.split())


def text_metrics(predictions: list[str], references: list[str]) -> dict[str, float]:
    """BLEU, chrF and ROUGE-L (0-100) and exact match (a share, 0-1) of generated texts against references."""
    import sacrebleu

    if not references:
        return {"bleu": 0.0, "chrf": 0.0, "rougeL": 0.0, "exact_match": 0.0}
    return {
        "bleu": float(sacrebleu.corpus_bleu(predictions, [references]).score),
        "chrf": float(sacrebleu.corpus_chrf(predictions, [references]).score),
        "rougeL": 100.0 * float(np.mean([rouge_l(p, r) for p, r in zip(predictions, references)])),
        "exact_match": float(np.mean([_normalise(p) == _normalise(r) for p, r in zip(predictions, references)])),
    }


def metrics_fn(tokenizer):
    def compute_metrics(eval_pred) -> dict[str, float]:
        return text_metrics(decode(tokenizer, eval_pred.predictions), decode(tokenizer, eval_pred.label_ids))

    return compute_metrics


def trainer_parts(cfg, tokenizer, labels, splits):
    from transformers import Seq2SeqTrainer, Seq2SeqTrainingArguments

    # Evaluation generates (greedy) so the checkpoint is picked on chrF of real outputs, not on loss alone;
    # an encoder-decoder's max_length counts the decoder's start token, hence the +1.
    return TrainerParts(compute_metrics=metrics_fn(tokenizer), trainer_cls=Seq2SeqTrainer,
                        args_cls=Seq2SeqTrainingArguments,
                        args={"predict_with_generate": True, "generation_max_length": cfg.task_args.max_new_tokens + 1,
                              "generation_num_beams": 1})
