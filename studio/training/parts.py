"""The parts of the recipe a reproduce script runs too (studio.export.reproduce_main copies them): they take
plain values and the task's functions, never the run folder, so a script trains the way the run did."""

from __future__ import annotations

import math
import time
from typing import Any

from studio.methods import attach, moves_rank
from studio.tasks.base import LOWER_IS_BETTER
from studio.training.head_init import init_from_prototypes


def plan_steps(n_train: int, training, world: int = 1) -> tuple[int, int]:
    """(examples per optimizer step over all processes, optimizer steps in the whole run)."""
    per_step = training.batch_size * training.gradient_accumulation_steps * world  # each process takes its own batch
    steps_per_epoch = max(1, math.ceil(n_train / per_step))
    return per_step, max(1, math.ceil(steps_per_epoch * training.epochs))


def prototype_rows(train_df, labels: list[str]) -> tuple[list[str], list[int]]:
    """(texts, label ids) of the training split: what a prototype head is made of."""
    l2i = {lab: i for i, lab in enumerate(labels)}
    return train_df["text"].tolist(), [l2i[lab] for lab in train_df["label"]]


def assemble_model(load_model, peft_task_type: str, cfg, model_path, labels: list[str], tokenizer,
                   total_steps: int | None = None, prototypes: tuple[list[str], list[int]] | None = None,
                   load_kwargs: dict[str, Any] | None = None):
    """The task's model (loaded with `load_kwargs`: its dtype, attention kernel, quantization), its head started
    from class prototypes when `prototypes` (texts, label ids) are given, and the method attached;
    cfg.method_args must be resolved (RunConfig.resolved)."""
    model = load_model(model_path, labels, tokenizer, **(load_kwargs or {}))
    if prototypes is not None:
        t0 = time.time()
        done = init_from_prototypes(model, tokenizer, prototypes[0], prototypes[1], len(labels),
                                    cfg.training.max_length, seed=cfg.training.seed)
        print(f"[studio] head initialised from class prototypes in {time.time() - t0:.1f}s" if done
              else "[studio] head kept random (not a plain linear head)", flush=True)
    return trained_in_fp32(attach(model, cfg.method, cfg.method_args, peft_task_type, total_steps=total_steps))


def trained_in_fp32(model):
    """Every weight that trains in fp32, on a base loaded in 16 bits too: peft makes its adapters fp32, but a head
    it trains whole (modules_to_save) keeps the base's dtype, where small updates round away."""
    import torch

    for p in model.parameters():
        if p.requires_grad and p.dtype in (torch.bfloat16, torch.float16):
            p.data = p.data.float()
    return model


def training_arguments(args_cls, t, output_dir: str, learning_rate: float, best: str, precision: str,
                       use_cpu: bool, report_to, run_name: str, extra: dict[str, Any], tf32: bool = False):
    """The Trainer's arguments for training settings `t` (a TrainingConfig or anything with its fields)."""
    every: dict[str, Any] = {"eval_strategy": t.eval_strategy, "save_strategy": t.eval_strategy}
    if t.eval_strategy == "steps":
        every.update(eval_steps=t.eval_steps, save_steps=t.eval_steps)
    kw = dict(
        output_dir=output_dir, num_train_epochs=t.epochs, learning_rate=learning_rate,
        per_device_train_batch_size=t.batch_size, per_device_eval_batch_size=max(t.batch_size, 32),
        gradient_accumulation_steps=t.gradient_accumulation_steps, warmup_steps=t.warmup_ratio,
        lr_scheduler_type=t.scheduler if t.scheduler != "constant" else "constant_with_warmup",
        weight_decay=t.weight_decay, seed=t.seed, data_seed=t.seed,
        bf16=precision == "bf16", fp16=precision == "fp16", use_cpu=use_cpu, tf32=tf32 or None,
        use_liger_kernel=getattr(t, "liger_kernels", False),
        logging_steps=t.logging_steps, logging_first_step=True, save_total_limit=t.save_total_limit,
        load_best_model_at_end=True, metric_for_best_model=f"eval_{best}",
        greater_is_better=best not in LOWER_IS_BETTER,
        train_sampling_strategy="group_by_length" if t.group_by_length else "random",
        report_to=report_to, run_name=run_name, dataloader_num_workers=0, save_only_model=False, disable_tqdm=True,
        **every,
        # Off: with it the Trainer multiplies every loss by the number of processes, assuming the model
        # divides by the token count of all of them; classification heads take a plain mean, so their
        # gradients would grow with the process count. Off, each process's mean is averaged by DDP.
        average_tokens_across_devices=False,
    )
    # transformers 5.23 renamed gradient_checkpointing to activation_checkpointing (the old name warns on every run).
    ckpt = "activation_checkpointing" if "activation_checkpointing" in getattr(args_cls, "__dataclass_fields__", {}) \
        else "gradient_checkpointing"
    # Non-reentrant checkpointing also works when the inputs need no gradient (adapters on frozen embeddings).
    kw.update({ckpt: getattr(t, "gradient_checkpointing", False), f"{ckpt}_kwargs": {"use_reentrant": False}})
    if getattr(t, "optimizer", "adamw") != "adamw":
        kw["optim"] = t.optimizer  # bitsandbytes' 8-bit AdamW (paged or not); the plain one is the Trainer's default
    return args_cls(**{**kw, **extra})  # a task's own arguments win (trl's trainers cannot group by length)


def batch_collator(parts, default, attention: str):
    """The collator a run batches with: the task's own (`default`) unless its parts give one. Flattened batches
    (padding-free) only where the attention kernel keeps each sequence to itself without a mask, flash-attention
    2: with SDPA or eager, transformers builds one dense mask over the whole flattened batch (batch x length
    squared), more memory and time than the padding it saves; there the parts' fallback is used, and the log
    says why. (Packed rows stay flattened: packing's fewer steps pay on any kernel.)"""
    if parts.flat_fallback is not None and not str(attention).startswith("flash"):
        print(f"[studio] padding_free batching off: with {attention} attention the flattened batch needs one dense "
              "mask over all of it, which costs more than the padding it saves (flash-attention 2 needs none); "
              "batches are padded", flush=True)
        return parts.flat_fallback
    return parts.collator or default


def build_trainer(parts, model, args, ds, collator, tokenizer, callbacks: list):
    """The task's Trainer (transformers' own unless it brings one) over the train and validation splits."""
    from transformers import Trainer

    extra = {"preprocess_logits_for_metrics": parts.preprocess_logits_for_metrics}
    return (parts.trainer_cls or Trainer)(
        model=model, args=args, train_dataset=ds["train"], eval_dataset=ds["validation"], data_collator=collator,
        processing_class=tokenizer, compute_metrics=parts.compute_metrics, callbacks=callbacks,
        # Only where a task has one: trl's preference trainers do not take it.
        **{k: v for k, v in extra.items() if v is not None})


def recipe_callbacks(model, t) -> list:
    """AdaLoRA's rank re-allocation (the Trainer does not call it) and early stopping, where they apply."""
    from transformers import EarlyStoppingCallback, TrainerCallback

    class RankAllocation(TrainerCallback):
        """AdaLoRA moves rank between layers from gradients after each optimizer step."""

        def on_optimizer_step(self, args, state, control, model=None, **kw):
            m = model
            while m is not None and not hasattr(m, "update_and_allocate"):
                m = getattr(m, "base_model", None) if getattr(m, "base_model", None) is not m else None
            if m is not None:
                m.update_and_allocate(state.global_step)

    out = [RankAllocation()] if moves_rank(model) else []
    if t.early_stopping_patience:
        out.append(EarlyStoppingCallback(early_stopping_patience=t.early_stopping_patience))
    return out
