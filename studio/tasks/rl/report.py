"""The test report: greedy replies to the held-out prompts, scored by every reward the run trained with: the mean
of each, their weighted total, and the answer reward's accuracy; beside each reply the base's (adapters off) and
the prompts whose reward rose and fell most."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from studio.tasks.chat import ensure_chat_template, generate
from studio.tasks.rl.rewards import reward_functions, reward_names, reward_weights

TEST_GENERATIONS = 40          # held-out prompts answered for the report (generation is the slow part)
WINS_SHOWN = 5                 # prompts listed among the biggest wins, and among the biggest losses


def scored_replies(own, prompts: list[list[dict]], references: list[str], outputs: list[str], functions=None,
                   ) -> tuple[dict[str, list[float | None]], list[float | None]]:
    """Each reward's score of each reply (None: not scored), and each reply's weighted total (as trl adds them:
    rewards not scored left out; None where no reward scored it). `functions`: the rewards' functions in the
    settings' order (the trainer's, where a feature added one), else made from the settings."""
    names = reward_names(own.rewards)
    weights = reward_weights(names, own.reward_weights)
    completions = [[{"role": "assistant", "content": o}] for o in outputs]
    scores = {name: list(fn(prompts=prompts, completions=completions, reference=references))
              for name, fn in zip(names, functions or reward_functions(own))}
    totals = []
    for i in range(len(outputs)):
        scored = [(w, scores[n][i]) for w, n in zip(weights, names) if scores[n][i] is not None]
        totals.append(float(sum(w * s for w, s in scored)) if scored else None)
    return scores, totals


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(kept)) if kept else None


def adapters_on(model) -> bool:
    """Whether the model carries adapters that are switched on now (off while the base is scored: then there is
    no base to compare with but itself)."""
    if not hasattr(model, "peft_config") or not callable(getattr(model, "disable_adapter", None)):
        return False
    from peft.tuners.tuners_utils import BaseTunerLayer

    layer = next((m for m in model.modules() if isinstance(m, BaseTunerLayer)), None)
    return layer is not None and not layer.disable_adapters


def wins_and_losses(rows: list[dict], most: int = WINS_SHOWN) -> dict[str, list[dict]]:
    """The held-out prompts whose total reward rose most from the base's reply to the tuned one, and fell most."""
    compared = [r for r in rows if r.get("gain") is not None]
    keep = ("text", "reference", "base_output", "output", "base_reward", "reward")
    wins = sorted((r for r in compared if r["gain"] > 0), key=lambda r: -r["gain"])[:most]
    losses = sorted((r for r in compared if r["gain"] < 0), key=lambda r: r["gain"])[:most]
    return {"wins": [{k: r[k] for k in keep} for r in wins], "losses": [{k: r[k] for k in keep} for r in losses],
            "same": len(compared) - len([r for r in compared if r["gain"]])}


def test_report(trainer, test_ds, test_df: pd.DataFrame, labels, tokenizer=None, cfg=None):
    """Greedy replies to the first TEST_GENERATIONS test prompts, scored by the run's rewards; where the model has
    adapters, the base's replies (adapters off) beside them, and the prompts that gained and lost most."""
    own = cfg.task_args
    rows = test_df.head(TEST_GENERATIONS)
    prompts = [json.loads(p) for p in rows["prompt"]]
    references = rows["reference"].tolist()
    functions = getattr(trainer, "studio_rewards", None)
    chat_tokenizer = ensure_chat_template(tokenizer)
    outputs = generate(trainer.model, chat_tokenizer, prompts, own.max_new_tokens)
    scores, totals = scored_replies(own, prompts, references, outputs, functions)
    base_outputs, base_totals = [None] * len(outputs), [None] * len(outputs)
    if adapters_on(trainer.model):
        with trainer.model.disable_adapter():
            base_outputs = generate(trainer.model, chat_tokenizer, prompts, own.max_new_tokens)
        _, base_totals = scored_replies(own, prompts, references, base_outputs, functions)
    metrics: dict[str, float | None] = {"reward": _mean(totals)}
    metrics.update({f"reward_{name}": _mean(values) for name, values in scores.items()})
    if "answer" in scores:
        metrics["answer_accuracy"] = metrics["reward_answer"]
    metrics["completion_words"] = float(np.mean([len(o.split()) for o in outputs])) if outputs else 0.0
    notes = {"reward": "the weighted total of the rewards per reply, averaged over the replies",
             "answer_accuracy": "share of replies whose final answer equals the reference",
             "completion_words": "mean words per reply"}
    notes.update({f"reward_{name}": f"mean {name} reward (0 to 1)" for name in scores})
    report = {"task": "rl", "n": int(len(test_df)), "generated": len(outputs), "metrics": metrics, "labels": [],
              "rewards": list(scores), "weights": reward_weights(list(scores), own.reward_weights),
              "max_new_tokens": own.max_new_tokens, "metric_notes": notes}
    out_rows = [{"text": text, "reference": ref, "output": out, "reward": total,
                 "scores": ", ".join(f"{n}={scores[n][i]:g}" for n in scores if scores[n][i] is not None),
                 "correct": bool(scores["answer"][i]) if "answer" in scores and scores["answer"][i] is not None
                 else None,
                 "base_output": base_outputs[i], "base_reward": base_totals[i],
                 "gain": None if total is None or base_totals[i] is None else total - base_totals[i]}
                for i, (text, ref, out, total) in enumerate(zip(rows["text"], references, outputs, totals))]
    if any(r["gain"] is not None for r in out_rows):
        report["wins_losses"] = wins_and_losses(out_rows)
    return report, out_rows
