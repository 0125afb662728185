"""The test report: how often the tuned model finds the chosen answer likelier than the rejected one, and greedy
answers to the first prompts beside both."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from studio.tasks.chat import ensure_chat_template, generate, render
from studio.tasks.preference.data import pair_counts

TEST_GENERATIONS = 10              # test prompts answered for the report's side-by-side rows


def answer_logps(model, tokenizer, prompts: list[list[dict]], answers: list[str], max_length: int,
                 batch_size: int = 8) -> list[float]:
    """Mean log-probability per token of each answer after its prompt (chat template, end of turn included)."""
    import torch

    tokenizer = ensure_chat_template(tokenizer)
    device = next(model.parameters()).device
    seqs = []
    for prompt, answer in zip(prompts, answers):
        head = render(tokenizer, prompt, add_generation_prompt=True)
        full = render(tokenizer, [*prompt, {"role": "assistant", "content": answer}])
        p_ids = tokenizer(head, add_special_tokens=False)["input_ids"]
        a_ids = tokenizer(full[len(head):] if full.startswith(head) else answer, add_special_tokens=False)["input_ids"]
        ids = (p_ids + a_ids)[-max_length:]
        seqs.append((ids, min(len(a_ids), len(ids) - 1)))
    out: list[float] = []
    model.eval()
    with torch.inference_mode():
        for i in range(0, len(seqs), batch_size):
            chunk = seqs[i:i + batch_size]
            width = max(len(ids) for ids, _ in chunk)
            ids = torch.tensor([s + [tokenizer.pad_token_id] * (width - len(s)) for s, _ in chunk], device=device)
            mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s, _ in chunk], device=device)
            logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits[:, :-1].float(), -1)
            token_logp = logp.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
            for row, (s, n) in enumerate(chunk):
                out.append(float(token_logp[row, len(s) - 1 - n:len(s) - 1].mean()) if n > 0 else float("nan"))
    return out


def preference_scores(chosen: list[float], rejected: list[float]) -> dict[str, float]:
    """Pairs: how often the chosen answer scores above the rejected one. Unpaired rows (either side NaN) count as
    every good answer against every bad one (the ROC AUC), so KTO data has the same figure."""
    c, r = np.asarray(chosen, float), np.asarray(rejected, float)
    both = ~np.isnan(c) & ~np.isnan(r)
    if both.any():
        return {"preference_accuracy": float(np.mean(c[both] > r[both])),
                "logp_margin": float(np.mean(c[both] - r[both]))}
    good, bad = c[~np.isnan(c)], r[~np.isnan(r)]
    if not len(good) or not len(bad):
        return {"preference_accuracy": float("nan"), "logp_margin": float("nan")}
    wins = (good[:, None] > bad[None, :]).mean()
    return {"preference_accuracy": float(wins), "logp_margin": float(good.mean() - bad.mean())}


def test_report(trainer, test_ds, test_df: pd.DataFrame, labels, tokenizer=None, cfg=None):
    """Preference accuracy on held-out records (mean token log-probability, chosen against rejected), and greedy
    answers to the first TEST_GENERATIONS prompts beside both answers."""
    model, max_length = trainer.model, cfg.training.max_length if cfg is not None else 512
    prompts = [json.loads(p) for p in test_df["prompt"]]

    def scored(col: str) -> list[float]:
        have = [i for i, a in enumerate(test_df[col]) if isinstance(a, str)]
        got = answer_logps(model, tokenizer, [prompts[i] for i in have], [test_df[col][i] for i in have], max_length)
        out = [float("nan")] * len(test_df)
        for i, v in zip(have, got):
            out[i] = v
        return out

    chosen, rejected = scored("chosen"), scored("rejected")
    metrics = preference_scores(chosen, rejected)
    max_new = cfg.task_args.max_new_tokens if cfg is not None else 64
    shown = test_df.head(TEST_GENERATIONS)
    outputs = generate(model, ensure_chat_template(tokenizer), prompts[:len(shown)], max_new)
    report = {"task": "preference", "n": int(len(test_df)), "generated": len(shown), "metrics": metrics, "labels": [],
              "max_new_tokens": max_new, "counts": pair_counts(test_df),
              "metric_notes": {"preference_accuracy": "share of held-out pairs whose chosen answer the model finds "
                                                      "more likely (mean log-probability per token) than the "
                                                      "rejected one",
                               "logp_margin": "mean of chosen minus rejected log-probability per token"}}
    outputs += [None] * (len(test_df) - len(outputs))  # generated for the first few only (the slow part)
    rows = [{"text": r["text"], "chosen": r["chosen"], "rejected": r["rejected"], "output": o,
             "chosen_logp": _finite(c), "rejected_logp": _finite(j),
             "correct": bool(c > j) if not (math.isnan(c) or math.isnan(j)) else None}
            for (_, r), o, c, j in zip(test_df.iterrows(), outputs, chosen, rejected)]
    return report, rows


def _finite(v: float) -> float | None:
    return None if math.isnan(v) else round(v, 4)
