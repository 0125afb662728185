"""trl's GRPOTrainer with the rewards the settings name, logging under the studio's metric names."""

from __future__ import annotations

import math
from typing import Any

from studio.tasks.base import TrainerParts
from studio.tasks.rl.rewards import reward_functions, reward_names, reward_weights

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

    return RLTrainer, GRPOConfig


EVAL_GENERATIONS = 2


def steps_per_generation(batch_size: int, accumulation: int, generations: int) -> int:
    """Optimizer micro-steps one round of generation feeds: the accumulation steps (trl's default), times as many as
    it takes for the round to hold whole groups of replies (a batch of 2 with 4 replies per prompt: 2 steps)."""
    per_step = batch_size * accumulation
    return accumulation * (generations // math.gcd(per_step, generations))


def eval_batch(batch_size: int, generations: int) -> int:
    """Prompts' replies scored per evaluation batch: a whole number of groups, near the training batch."""
    return max(generations, batch_size - batch_size % generations)


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
