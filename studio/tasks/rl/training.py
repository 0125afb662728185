"""trl's GRPOTrainer with the rewards the settings name, logging under the studio's metric names; the replies it
scored most recently, and greedy replies to a few fixed validation prompts, written for the Train tab."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from studio.base import runfolder
from studio.base.process_rank import shards_model
from studio.tasks.base import TrainerParts
from studio.tasks.chat import ensure_chat_template, sample_callback
from studio.tasks.rl.rewards import completion_text, reward_functions, reward_names, reward_weights

RECENT_COMPLETIONS = 8      # replies of the latest generation written at each logging step (the Train tab's table)
COMPLETION_CHARS = 2000     # each cut there: a table row, not the whole reply of a long generation

# What trl logs per step and per evaluation, under the studio's names (a slash in a metric name would be a
# folder elsewhere); rewards/<name>/mean and /std become reward_<name> and reward_<name>_std.
RENAMED = {"completions/mean_length": "completion_length", "completions/clipped_ratio": "clipped_ratio",
           "clip_ratio/region_mean": "clip_ratio"}


def rename_metrics(logs: dict[str, Any]) -> dict[str, Any]:
    """trl's names as the studio's, in place (the Trainer reads the evaluation's metrics from this same dict when
    it picks the best checkpoint); slashed names the studio does not show are dropped."""
    for key in [k for k in logs if "/" in k]:
        prefix = "eval_" if key.startswith("eval_") else ""
        name, value = key[len(prefix):], logs.pop(key)
        if name.startswith("rewards/"):
            _, reward, stat = name.split("/", 2)
            logs[f"{prefix}reward_{reward}" + ("" if stat == "mean" else f"_{stat}")] = value
        elif name in RENAMED:
            logs[prefix + RENAMED[name]] = value
    return logs


def trainer_classes(reward_funcs: list, weights: list[float]) -> tuple[Any, Any]:
    """(Trainer, its arguments class): trl's GRPO trainer scoring with `reward_funcs`, logging the studio's names,
    built the way the recipe builds every trainer."""
    from transformers import Trainer
    from trl import GRPOConfig, GRPOTrainer

    class StudioNames(Trainer):
        """Placed between GRPOTrainer and Trainer: GRPO averages its measurements into the logs, then these are
        renamed on their way to the callbacks."""

        def log(self, logs, *args, **kwargs):
            return super().log(rename_metrics(logs), *args, **kwargs)

    class RLTrainer(GRPOTrainer, StudioNames):
        def __init__(self, model, args, train_dataset=None, eval_dataset=None, processing_class=None,
                     callbacks=None, data_collator=None, compute_metrics=None, **_):
            # GRPO batches its own generations and scores them with rewards, not a collator or compute_metrics.
            args.reward_weights = weights
            super().__init__(model=model, reward_funcs=reward_funcs, args=args, train_dataset=train_dataset,
                             eval_dataset=eval_dataset, processing_class=processing_class, callbacks=callbacks)
            self.studio_rewards = list(reward_funcs)  # the report scores with the very functions training used
            for cb in self.callback_handler.callbacks:
                if callable(getattr(cb, "bind_trainer", None)):
                    cb.bind_trainer(self)

    return RLTrainer, GRPOConfig


def recent_completions(logs: dict[str, Any], names: list[str], weights: list[float], most: int) -> list[dict]:
    """The newest `most` replies of trl's latest generation (GRPOTrainer._logs: prompts, completions, each reward's
    scores, advantages), newest first, each {prompt: the last user turn, completion, reward, advantage, scores}."""
    prompts, completions = list(logs.get("prompt") or ()), list(logs.get("completion") or ())
    rewards = {name: list(logs.get("rewards", {}).get(name) or ()) for name in names}
    advantages = list(logs.get("advantages") or ())
    out = []
    for i in reversed(range(max(0, len(completions) - most), len(completions))):
        scores = {n: rewards[n][i] for n in names
                  if i < len(rewards[n]) and rewards[n][i] is not None and not math.isnan(rewards[n][i])}
        prompt = prompts[i] if i < len(prompts) else ""
        if isinstance(prompt, list):
            prompt = next((str(m.get("content") or "") for m in reversed(prompt) if m.get("role") == "user"), "")
        out.append({"prompt": str(prompt)[:COMPLETION_CHARS],
                    "completion": completion_text(completions[i])[:COMPLETION_CHARS],
                    "reward": sum(w * scores[n] for w, n in zip(weights, names) if n in scores) if scores else None,
                    "advantage": advantages[i] if i < len(advantages) else None, "scores": scores})
    return out


def completions_writer(run_dir: Path, names: list[str], weights: list[float]):
    """A TrainerCallback writing the latest generation's replies and their rewards into metrics.jsonl at each
    training log, as {"kind": "completions", "step", "completions": [...]} (recent_completions). The RL trainer
    hands itself to bind_trainer: a callback is not given the trainer, whose latest generation it reads."""
    from transformers import TrainerCallback

    class CompletionsWriter(TrainerCallback):
        def __init__(self):
            self.writer, self.trainer, self.last_step = runfolder.MetricsWriter(run_dir), None, -1

        def bind_trainer(self, trainer) -> None:
            self.trainer = trainer

        def on_log(self, args, state, control, logs=None, **kw):
            if (self.trainer is None or not state.is_world_process_zero or state.global_step == self.last_step
                    or any(k.startswith("eval_") for k in (logs or {}))):
                return
            rows = recent_completions(getattr(self.trainer, "_logs", {}), names, weights, RECENT_COMPLETIONS)
            if rows:
                self.last_step = state.global_step
                self.writer.append({"kind": "completions", "step": state.global_step, "completions": rows})

    return CompletionsWriter()


def sample_rows(df, n: int) -> list[dict[str, Any]]:
    """The first n validation prompts as fixed ones: {prompt: the text shown, messages, reference}."""
    return [{"prompt": text, "messages": json.loads(prompt), "reference": ref}
            for text, prompt, ref in zip(df["text"].head(n), df["prompt"].head(n), df["reference"].head(n))]


def run_callbacks(cfg, tokenizer, labels, splits, run_dir):
    """The latest replies with their rewards at every training log, and greedy replies to a few fixed validation
    prompts before training and at every evaluation (both into metrics.jsonl: the Train tab's tables)."""
    own = cfg.task_args
    names = reward_names(own.rewards)
    out = [completions_writer(Path(run_dir), names, reward_weights(names, own.reward_weights))]
    if own.sample_prompts and "validation" in splits and not shards_model(cfg.training):
        out.append(sample_callback(Path(run_dir), ensure_chat_template(tokenizer),
                                   sample_rows(splits["validation"], own.sample_prompts), own.max_new_tokens))
    return out


EVAL_GENERATIONS = 2


def steps_per_generation(batch_size: int, accumulation: int, generations: int) -> int:
    """Optimizer micro-steps one round of generation feeds: the accumulation steps (trl's default), times as many as
    it takes for the round to hold whole groups of replies (a batch of 2 with 4 replies per prompt: 2 steps)."""
    per_step = batch_size * accumulation
    return accumulation * (generations // math.gcd(per_step, generations))


def eval_batch(batch_size: int, generations: int) -> int:
    """Prompts' replies scored per evaluation batch: a whole number of groups, near the training batch."""
    return max(generations, batch_size - batch_size % generations)


def judged_parts(cfg, parts: TrainerParts, judges: dict) -> TrainerParts:
    """The parts with the rewards from outside the task scoring through what the run loaded (studio.judge)."""
    own = cfg.task_args
    names = reward_names(own.rewards)
    weights = reward_weights(names, own.reward_weights)
    trainer_cls, args_cls = trainer_classes(reward_functions(own, judges), weights)
    return dataclasses.replace(parts, trainer_cls=trainer_cls, args_cls=args_cls)


def trainer_parts(cfg, tokenizer, labels, splits):
    t, own = cfg.training, cfg.task_args
    names = reward_names(own.rewards)
    trainer_cls, args_cls = trainer_classes(reward_functions(own), reward_weights(names, own.reward_weights))
    args: dict[str, Any] = {
        "num_generations": own.num_generations, "max_completion_length": own.max_new_tokens,
        "temperature": own.temperature, "beta": own.kl_beta, "loss_type": own.grpo_loss,
        # Validation measures the rewards, not the group advantage: two replies per prompt are enough and cost
        # half of four (trl needs two for a group's spread).
        "num_generations_eval": EVAL_GENERATIONS,
        "per_device_eval_batch_size": eval_batch(t.batch_size, EVAL_GENERATIONS),
        "steps_per_generation": steps_per_generation(t.batch_size, t.gradient_accumulation_steps,
                                                     own.num_generations),
        "remove_unused_columns": False,  # the reference column reaches the rewards
        "train_sampling_strategy": "random",  # GRPO samples whole groups itself; no input_ids to group by
        "use_vllm": bool(own.vllm_generation)}
    return TrainerParts(trainer_cls=trainer_cls, args_cls=args_cls, args=args, examples_per_row=own.num_generations)
