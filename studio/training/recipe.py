"""The recipe: one run, top to bottom.

load config -> resolve model -> the saved splits (features may add rows) -> tokenise -> build the model and
attach the method -> HF Trainer with the studio's callbacks -> train (or resume) -> score the best checkpoint
on the test split -> save model and report.

Features plug in at the named points of studio.training.hooks (augmentation, distillation, the base's scores,
a sweep's pruning, CPU sharing, the memory peak: studio.training.features); the recipe never names them. The
parts a reproduce script runs too are in studio.training.parts.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from studio import models
from studio.base import files, log_filter, runfolder
from studio.base.devices import process_device
from studio.base.process_rank import is_main_process, launch_record, shards_model, weights_from_rank_0, world_size
from studio.base.runfolder import RunFolder
from studio.config import RunConfig, load_run_config
from studio.data import length_stats, load_splits
from studio.methods import count_parameters
from studio.tasks import get_task
from studio.training import hooks, out_of_memory
from studio.training import precision as precision_plan
from studio.training.callbacks import run_log_callback
from studio.training.checkpoints import checkpoint_step, last_checkpoint
from studio.training.features import FEATURES
from studio.training.head_init import PrototypeHead
from studio.training.parts import (
    assemble_model,
    batch_collator,
    build_trainer,
    plan_steps,
    prototype_rows,
    recipe_callbacks,
    training_arguments,
)
from studio.training.saving import save_final, save_final_sharded
from studio.training.tracking import point_tensorboard_at, tracking_integrations, wandb_env


def number_formats(cfg: RunConfig, device: str, model_path=None) -> precision_plan.Plan:
    """The run's dtypes, attention kernel and tf32 (studio.training.precision), tf32 switched on where it applies.
    model_path: the base, whose architecture says whether flash-attention 2 applies (None: assumed to)."""
    t = cfg.training
    flash = model_path is None or precision_plan.model_has_flash_attention(model_path,
                                                                           get_task(cfg.task).model.auto_class)
    formats = precision_plan.plan(cfg.method, cfg.method_args, t.precision, device, shards_model(t), t.attention,
                                  flash)
    precision_plan.apply_tf32(formats)
    return formats


def prototypes_for(task, cfg, train_df, labels: list[str]):
    """(texts, label ids) to start the head from, where the task's head starts from class prototypes; else None."""
    head = task.capability(PrototypeHead)
    if train_df is None or head is None or not head.prototype_head(cfg.task_args):
        return None
    return prototype_rows(train_df, labels)


def build_model(cfg: RunConfig, model_path, labels: list[str], tokenizer, total_steps: int | None = None,
                train_df=None):
    """The run's model: its task's, its head from prototypes where that applies, its method attached."""
    cfg = cfg.resolved()
    task = get_task(cfg.task)
    return assemble_model(task.load_model, task.model.peft_task_type, cfg, model_path, labels, tokenizer, total_steps,
                          prototypes_for(task, cfg, train_df, labels))


def parameter_counts(cfg: RunConfig, labels: list[str] | None = None) -> dict[str, int]:
    """Trainable and total parameters for a config, before any run exists."""
    cfg = cfg.resolved()
    task = get_task(cfg.task)
    path = models.resolve(cfg.model)
    tok = task.load_tokenizer(path)
    model = build_model(cfg, path, labels or ["a", "b"], tok, total_steps=100)
    trainable, total = count_parameters(model)
    return {"trainable": trainable, "total": total}


def run(run_dir: Path, resume: bool = False, features=FEATURES) -> dict[str, Any]:
    """Train, evaluate and save one run with its features; returns the final status fields."""
    import transformers
    from transformers import TrainingArguments

    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir).resolved()
    t, task = cfg.training, get_task(cfg.task)
    transformers.set_seed(t.seed)
    transformers.logging.set_verbosity_warning()
    log_filter.install()
    device = process_device(t.device)  # a worker pinned to one GPU sees it as cuda:0
    t_start = time.time()

    model_path = models.resolve(cfg.model)
    print(f"[studio] model {cfg.model} -> {model_path}", flush=True)
    picked = (runfolder.read_status(run_dir) or {}).get("max_length_picked")
    if picked and not resume:
        print(f"[studio] {picked['summary']}", flush=True)
    formats = number_formats(cfg, device, model_path)
    precision = formats.compute
    tokenizer = task.load_tokenizer(model_path)
    splits = load_splits(RunFolder(run_dir).data)
    main = is_main_process()  # with several processes, only rank 0 writes the run folder
    labels = _fill_token_lengths(run_dir, task, splits, tokenizer, t.max_length, main)
    ctx = hooks.Run(folder=run_dir, cfg=cfg, task=task, model_path=model_path, tokenizer=tokenizer, labels=labels,
                    splits=splits, device=device, main=main, resume=resume)
    splits["train"] = hooks.through(features, "train_rows", ctx, splits["train"])
    ds = hooks.through(features, "datasets", ctx, task.tokenize(splits, tokenizer, labels, cfg))
    ctx.datasets = ds
    batch_per_step, total_steps = plan_steps(len(ds["train"]), t, world_size())
    empty = weights_from_rank_0(formats.quantized)  # FSDP: only each machine's first rank reads the base
    model = assemble_model(task.load_model, task.model.peft_task_type, cfg, model_path, labels, tokenizer, total_steps,
                           # resume loads the trained head anyway; an empty model receives rank 0's
                           None if resume or empty else prototypes_for(task, cfg, splits["train"], labels),
                           load_kwargs={**formats.load_kwargs(), **({"device_map": {"": "meta"}} if empty else {})})
    formats = precision_plan.loaded(formats, model)
    wandb_env(t, run_dir)
    lr, best = cfg.learning_rate(), cfg.selection_metric()
    parts = task.trainer_parts(cfg, tokenizer, labels, splits)
    if parts.examples_per_row != 1:  # GRPO: each prompt is several replies (no method it allows counts steps)
        batch_per_step, total_steps = plan_steps(len(ds["train"]) * parts.examples_per_row, t, world_size())
    trainable, total = count_parameters(model)
    print(f"[studio] {cfg.method}: {trainable:,} trainable of {total:,} parameters "
          f"({100 * trainable / max(total, 1):.2f}%); {len(ds['train'])} train rows, {total_steps} steps on {device} "
          f"({formats.describe()})" + (f", {world_size()} processes" if world_size() > 1 else ""), flush=True)
    collator = batch_collator(parts, task.collator(tokenizer, model), formats.attention)
    for wrap in hooks.each(features, "trainer"):
        parts, collator = wrap(ctx, parts, collator)
    args = training_arguments(parts.args_cls or TrainingArguments, t, str(RunFolder(run_dir).checkpoints), lr, best,
                              precision, device == "cpu", tracking_integrations(t) or "none", run_dir.name, parts.args,
                              tf32=formats.tf32)
    logcb = run_log_callback()(run_dir, batch_per_step, writer=main,
                               kept=(*task.metrics.steps, *task.metrics.logged))
    callbacks = [logcb, *task.run_callbacks(cfg, tokenizer, labels, splits, run_dir), *recipe_callbacks(model, t),
                 *(cb for make in hooks.each(features, "callbacks") for cb in make(ctx))]
    trainer = build_trainer(parts, model, args, ds, collator, tokenizer, callbacks)
    ckpt = last_checkpoint(run_dir) if resume else None
    point_tensorboard_at(trainer, RunFolder(run_dir).tensorboard, resumed_at=checkpoint_step(ckpt), main=main)
    for before in hooks.each(features, "before_train"):
        before(ctx, trainer)
    if main:
        _record_start(run_dir, resume, ckpt, {"trainable_parameters": trainable, "total_parameters": total,
                                              "max_steps": total_steps, "device": device, "precision": precision,
                                              "number_formats": formats.to_dict(),
                                              "learning_rate_peak": lr, "launch": launch_record()})
    out_of_memory.train(trainer, str(ckpt) if ckpt else None, run_dir, t, main)
    if logcb.stopped:
        # A stop asked for mid-epoch: the checkpoint just saved is what resume continues from.
        return {"status": "stopped", "reason": f"Stopped by the user at step {trainer.state.global_step}; resume "
                "continues from there.", "best_metric_name": best, "best_metric": trainer.state.best_metric}
    for stopped in hooks.each(features, "stopped"):
        outcome = stopped(ctx, trainer)
        if outcome is not None:
            return outcome
    return _finish(trainer, ctx, features, t_start)


def _fill_token_lengths(run_dir: Path, task, splits, tokenizer, max_length: int, main: bool) -> list[str]:
    """The data report's token lengths, counted with the model's tokenizer the way the task trains (a run is
    created without loading it); returns the label set."""
    path = RunFolder(run_dir).data_report
    report = json.loads(path.read_text())
    if not report.get("token_lengths"):
        report["token_lengths"] = length_stats(task.count_tokens(splits["train"], tokenizer), max_length)
        if main:
            files.atomic_write_json(path, report)
    return report["labels"]


def _finish(trainer, ctx: hooks.Run, features, t_start: float) -> dict[str, Any]:
    """Score the best checkpoint (loaded by load_best_model_at_end) once on the test split; save what came of it."""
    cfg, task, run_dir = ctx.cfg, ctx.task, Path(ctx.folder)
    best, best_value = cfg.selection_metric(), trainer.state.best_metric
    # Rows are paired with the test split by position, so predict in dataset order: with
    # group_by_length the Trainer's eval sampler would regroup them by length.
    trainer.args.train_sampling_strategy = "random"
    # Every rank takes part in predicting the test split (a collective); rank 0 writes what came of it.
    test_report, rows = task.test_report(trainer, ctx.datasets["test"], ctx.splits["test"], ctx.labels, ctx.tokenizer,
                                         cfg)
    if shards_model(cfg.training):
        save_final_sharded(trainer, ctx.tokenizer, cfg, ctx.labels, run_dir, ctx.main)
    if not ctx.main:
        return {"status": "completed"}
    test_report.update({"run": run_dir.name, "model": cfg.model, "method": cfg.method,
                        "best_checkpoint": trainer.state.best_model_checkpoint,
                        "best_validation": {best: best_value}, "train_seconds": round(time.time() - t_start, 1)})
    for add in hooks.each(features, "report"):
        add(ctx, trainer, test_report)
    files.atomic_write_json(RunFolder(run_dir).report, test_report)
    files.atomic_write_text(RunFolder(run_dir).predictions, "".join(json.dumps(r) + "\n" for r in rows))
    sections = {f"{name}_test_{k}": v for name, section in test_report.items() if isinstance(section, dict)
                and name != "metrics" for k, v in (section.get("metrics") or {}).items()}
    runfolder.MetricsWriter(run_dir).append({"kind": "test", "step": trainer.state.global_step,
                                             **{f"test_{k}": v for k, v in test_report["metrics"].items()}, **sections})
    if not shards_model(cfg.training):
        save_final(trainer, ctx.tokenizer, cfg, ctx.labels, run_dir)
    status = {"status": "completed", "reason": None, "best_metric_name": best, "best_metric": best_value,
              "test_metrics": test_report["metrics"]}
    for finished in hooks.each(features, "finished"):
        status.update(finished(ctx, trainer))
    return status


def _record_start(run_dir: Path, resume: bool, ckpt: Path | None, fields: dict[str, Any]) -> None:
    """The start line of metrics.jsonl (after cutting a resumed run's history back to its checkpoint) and status."""
    if resume and ckpt is not None:
        runfolder.MetricsWriter(run_dir).truncate_after(int(ckpt.name.split("-")[1]))
        print(f"[studio] resuming from {ckpt.name}", flush=True)
    elif resume:
        print("[studio] no checkpoint to resume from; training from the start", flush=True)
        runfolder.MetricsWriter(run_dir).truncate_after(-1)
    runfolder.MetricsWriter(run_dir).append({"kind": "start",
                                             "step": 0 if ckpt is None else int(ckpt.name.split("-")[1]),
                                             **fields, "resumed": ckpt is not None})
    runfolder.write_status(run_dir, "running", if_active=True, **{k: fields[k] for k in (
        "trainable_parameters", "total_parameters", "precision", "number_formats", "max_steps", "launch")})
