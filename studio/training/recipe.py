"""The recipe: one run, top to bottom.

load config -> resolve model -> tokenise the saved splits -> build model and
apply the method -> HF Trainer with the studio's callbacks -> train (or
resume) -> score the best checkpoint on the test split -> save model, report.

`plan_steps`, `assemble_model`, `training_arguments` and `recipe_callbacks` are the parts a
reproduce script runs too (studio.export.reproduce_main): they take plain values and the task,
never the run folder.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

from studio import augment, distill, models
from studio.training import base_scores
from studio.training import cpu_share
from studio.base import log_filter
from studio.training import trial_pruning
from studio.base import runfolder
from studio.config import RunConfig, load_run_config
from studio.data import length_stats, load_splits
from studio.base.devices import pick_precision, resolve_device
from studio.training.head_init import init_from_prototypes
from studio.training.memory import measured_peak
from studio.methods import METHODS, attach, check_supported, count_parameters, is_adalora
from studio.base.process_rank import any_rank, is_main_process, launch_record, shards_model, world_size
from studio.tasks import get_task
from studio.base.runfolder import MODEL_META_NAME, RunFolder
from studio.base import files


# ------------------------------------------------------------------ the parts a reproduce script shares --
def plan_steps(n_train: int, training, world: int = 1) -> tuple[int, int]:
    """(examples per optimizer step over all processes, optimizer steps in the whole run)."""
    per_step = training.batch_size * training.gradient_accumulation_steps * world  # each process takes its own batch
    steps_per_epoch = max(1, math.ceil(n_train / per_step))
    return per_step, max(1, math.ceil(steps_per_epoch * training.epochs))


def assemble_model(task, cfg, model_path, labels: list[str], tokenizer, total_steps: int | None = None,
                   train_df=None):
    """The task's model with its head started from class prototypes (where that applies and train_df is given)
    and the method attached; cfg.method_args must be resolved (RunConfig.resolved)."""
    model = task.load_model(model_path, labels, tokenizer)
    if train_df is not None and task.head_init and cfg.training.head_init == "prototype":
        t0 = time.time()
        l2i = {l: i for i, l in enumerate(labels)}
        done = init_from_prototypes(model, tokenizer, train_df["text"].tolist(), [l2i[l] for l in train_df["label"]],
                                    len(labels), cfg.training.max_length, seed=cfg.training.seed)
        print(f"[studio] head initialised from class prototypes in {time.time() - t0:.1f}s" if done
              else "[studio] head kept random (not a plain linear head)", flush=True)
    model = attach(model, cfg.method, cfg.method_args, task.peft_task_type, total_steps=total_steps)
    check_supported(model, cfg.method)
    return model


def training_arguments(args_cls, t, output_dir: str, learning_rate: float, best: str, precision: str,
                       use_cpu: bool, report_to, run_name: str, extra: dict[str, Any]):
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
        bf16=precision == "bf16", fp16=precision == "fp16", use_cpu=use_cpu,
        logging_steps=t.logging_steps, logging_first_step=True, save_total_limit=t.save_total_limit,
        load_best_model_at_end=True, metric_for_best_model=f"eval_{best}",
        greater_is_better=best not in ("loss", "perplexity"),
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
    return args_cls(**{**kw, **extra})  # a task's own arguments win (trl's trainers cannot group by length)


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

    class AdaLoraAllocation(TrainerCallback):
        """AdaLoRA moves rank between layers from gradients after each optimizer step."""

        def on_optimizer_step(self, args, state, control, model=None, **kw):
            m = model
            while m is not None and not hasattr(m, "update_and_allocate"):
                m = getattr(m, "base_model", None) if getattr(m, "base_model", None) is not m else None
            if m is not None:
                m.update_and_allocate(state.global_step)

    out = [AdaLoraAllocation()] if is_adalora(model) else []
    if t.early_stopping_patience:
        out.append(EarlyStoppingCallback(early_stopping_patience=t.early_stopping_patience))
    return out


# -------------------------------------------------------------------------------------- the studio's --
def last_checkpoint(run_dir: Path) -> Path | None:
    ck = RunFolder(Path(run_dir)).checkpoints
    if not ck.is_dir():
        return None
    cands = []
    for p in ck.glob("checkpoint-*"):
        try:
            step = int(p.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if _complete(p):
            cands.append((step, p))
    return max(cands)[1] if cands else None


def _complete(checkpoint: Path) -> bool:
    """trainer_state.json is written last, so a checkpoint torn by a crash or a full disk lacks it or holds
    half of it; only a whole one can be resumed from."""
    try:
        json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
        return True
    except (OSError, ValueError):
        return False


def tracking_integrations(training, tensorboard_available: bool | None = None) -> list[str]:
    """The Trainer's logging integrations for a run: TensorBoard unless turned off, W&B when turned on."""
    if tensorboard_available is None:
        from transformers.integrations import is_tensorboard_available

        tensorboard_available = is_tensorboard_available()
    out = []
    if training.tensorboard:
        if tensorboard_available:
            out.append("tensorboard")
        else:  # a tracking extra, not a reason to fail the run
            print("[studio] tensorboard is not installed; no event files are written (pip install tensorboard)", flush=True)
    if training.wandb:
        out.append("wandb")
    return out


def _point_tensorboard_at(trainer, folder: Path, resumed_at: int | None = None, main: bool = True) -> None:
    """Event files go into the run folder (the Trainer's default is under the checkpoints).

    A resumed run repeats the steps after its checkpoint: its writer tells TensorBoard (purge_step) to drop
    what the interrupted attempt logged from there on, or both attempts' curves would show."""
    for cb in trainer.callback_handler.callbacks:
        if type(cb).__name__ == "TensorBoardCallback":
            cb.logging_dir = str(folder)
            if resumed_at is not None and main and getattr(cb, "_SummaryWriter", None) is not None:
                _wait_past_event_files(folder)
                cb.tb_writer = cb._SummaryWriter(log_dir=str(folder), purge_step=resumed_at + 1)


def _wait_past_event_files(folder: Path) -> None:
    """TensorBoard reads event files in name order, and a name starts with its creation second then the pid.

    A resume within the same second as the killed attempt could sort first (a lower pid), so its purge would
    land before the steps it should drop; waiting out that second keeps the files in the order they were made."""
    seconds = []
    for f in Path(folder).glob("events.out.tfevents.*"):
        try:
            seconds.append(int(f.name.split(".")[3]))
        except (IndexError, ValueError):
            continue
    if seconds and time.time() < max(seconds) + 1:
        time.sleep(max(seconds) + 1 - time.time())


def _checkpoint_step(ckpt: Path | None) -> int | None:
    try:
        return int(Path(ckpt).name.rsplit("-", 1)[1]) if ckpt else None
    except (IndexError, ValueError):
        return None


def _run_log_callback():
    """Defined lazily so importing studio.training.recipe stays cheap."""
    from transformers import TrainerCallback

    class RunLogCallback(TrainerCallback):
        """Writes metrics.jsonl lines and keeps status.json current; honours the stop file.

        With several processes only the writer (global rank 0) writes and reads the stop file;
        its decision to stop reaches every rank at the same step.
        """

        def __init__(self, run_dir: Path, batch_per_step: int, writer: bool = True):
            self.run_dir = Path(run_dir)
            self.writer = runfolder.MetricsWriter(run_dir)
            self.writes = writer
            self.batch_per_step = batch_per_step
            self.stopped = False
            self._t0 = None
            self._step0 = 0
            self._last_status = 0.0

        def _speed(self, state):
            if self._t0 is None:
                return None, None
            done = state.global_step - self._step0
            el = time.time() - self._t0
            if done <= 0 or el <= 0:
                return None, None
            sps = done / el
            eta = (state.max_steps - state.global_step) / sps if state.max_steps else None
            return sps * self.batch_per_step, eta

        def on_train_begin(self, args, state, control, **kw):
            self._t0 = time.time()
            self._step0 = state.global_step
            self._status(state, force=True)

        def _status(self, state, force=False, **extra):
            if not self.writes:
                return
            now = time.time()
            if not force and now - self._last_status < 1.0:
                return
            self._last_status = now
            sps, eta = self._speed(state)
            runfolder.write_status(self.run_dir, "stopping" if self.stopped else "running", if_active=True,
                                step=state.global_step, max_steps=state.max_steps,
                                epoch=round(state.epoch or 0.0, 4), samples_per_second=sps, eta_seconds=eta, **extra)

        def on_step_end(self, args, state, control, **kw):
            if not self.stopped and any_rank(self.writes and runfolder.stop_requested(self.run_dir), args.device):
                self.stopped = True
                control.should_save = True
                control.should_training_stop = True
            self._status(state)

        def on_log(self, args, state, control, logs=None, **kw):
            if not self.writes:
                return
            self.writer.append(metrics_record(dict(logs or {}), state, *self._speed(state)))
            self._status(state, force=True)

    return RunLogCallback


def metrics_record(logs: dict[str, Any], state, sps: float | None, eta: float | None) -> dict[str, Any]:
    """One metrics.jsonl line from the Trainer's logs: an evaluation, the run's summary or a training step."""
    rec: dict[str, Any] = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 4)}
    if any(k.startswith("eval_") for k in logs):
        rec["kind"] = "eval"
        rec.update({k: v for k, v in logs.items()
                    if k.startswith("eval_") and not k.endswith(("_runtime", "_samples_per_second", "_steps_per_second"))})
    elif "train_runtime" in logs:
        rec["kind"] = "summary"
        rec.update({k: logs[k] for k in ("train_runtime", "train_samples_per_second", "train_loss") if k in logs})
    else:
        rec["kind"] = "train"
        rec.update({k: logs[k] for k in ("loss", "learning_rate", "grad_norm") if k in logs})
        rec["samples_per_second"] = sps
        rec["eta_seconds"] = eta
    return rec


def build_model(cfg: RunConfig, model_path, labels: list[str], tokenizer, total_steps: int | None = None,
                train_df=None):
    """assemble_model for a run config (its task looked up, its method settings completed)."""
    return assemble_model(get_task(cfg.task), cfg.resolved(), model_path, labels, tokenizer, total_steps, train_df)


def parameter_counts(cfg: RunConfig, labels: list[str] | None = None) -> dict[str, int]:
    """Trainable and total parameters for a config, before any run exists."""
    task = get_task(cfg.task)
    path = models.resolve(cfg.model)
    tok = task.load_tokenizer(path)
    model = build_model(cfg, path, labels or ["a", "b"], tok, total_steps=100)
    trainable, total = count_parameters(model)
    return {"trainable": trainable, "total": total}


def run(run_dir: Path, resume: bool = False) -> dict[str, Any]:
    """Train, evaluate and save one run; returns the final status fields."""
    import transformers
    from transformers import TrainingArguments

    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir).resolved()
    t, task = cfg.training, get_task(cfg.task)
    transformers.set_seed(t.seed)
    transformers.logging.set_verbosity_warning()
    log_filter.install()
    device = resolve_device(t.device)
    precision = pick_precision(t.precision, device)
    t_start = time.time()
    main = is_main_process()  # with several processes, only rank 0 writes the run folder

    model_path = models.resolve(cfg.model)
    print(f"[studio] model {cfg.model} -> {model_path}", flush=True)
    tokenizer = task.load_tokenizer(model_path)
    splits = load_splits(RunFolder(run_dir).data)
    labels = _fill_token_lengths(run_dir, task, splits, tokenizer, t.max_length, main)
    splits["train"] = augment.for_run(run_dir, cfg, task, splits["train"], model_path, main)  # made once, then read
    soft_labels = bool(cfg.distill.teacher) and task.test_report_metrics is not None
    if cfg.distill.teacher and not soft_labels:  # sequence level: the teacher's answers are the targets
        splits["train"] = distill.with_teacher_answers(run_dir, cfg, task, splits["train"], main)
    ds = task.tokenize(splits, tokenizer, labels, t)
    if soft_labels:  # every training row carries the teacher's logits (and the transfer texts join)
        ds["train"] = distill.attach(run_dir, cfg, task, ds, splits, labels, tokenizer, main)
    batch_per_step, total_steps = plan_steps(len(ds["train"]), t, world_size())
    model = assemble_model(task, cfg, model_path, labels, tokenizer, total_steps,
                           train_df=None if resume else splits["train"])  # resume loads the trained head anyway
    trainable, total = count_parameters(model)
    print(f"[studio] {cfg.method}: {trainable:,} trainable of {total:,} parameters "
          f"({100 * trainable / max(total, 1):.2f}%); {len(ds['train'])} train rows, {total_steps} steps on {device} ({precision})"
          + (f", {world_size()} processes" if world_size() > 1 else ""), flush=True)
    _wandb_env(t, run_dir)
    lr, best = cfg.learning_rate(), cfg.selection_metric()
    parts = task.trainer_parts(cfg, tokenizer, labels, splits)
    collator = task.collator(tokenizer, model)
    if soft_labels:
        parts, collator = _with_teacher(parts, collator, cfg)
    args = training_arguments(parts.args_cls or TrainingArguments, t, str(RunFolder(run_dir).checkpoints), lr, best,
                              precision, device == "cpu", tracking_integrations(t) or "none", run_dir.name, parts.args)
    logcb = _run_log_callback()(run_dir, batch_per_step, writer=main)
    sweep = trial_pruning.callbacks(run_dir, best)  # a sweep's trial reports to Optuna, which may prune it
    shares = [cpu_share.callback(run_dir, main)] if cpu_share.enabled(device) else []  # runs on one CPU split its cores
    if shares:
        cpu_share.join()
    callbacks = [logcb, *task.run_callbacks(cfg, tokenizer, labels, splits, run_dir), *recipe_callbacks(model, t),
                 *sweep, *shares]
    trainer = build_trainer(parts, model, args, ds, collator, tokenizer, callbacks)
    ckpt = last_checkpoint(run_dir) if resume else None
    _point_tensorboard_at(trainer, RunFolder(run_dir).tensorboard, resumed_at=_checkpoint_step(ckpt), main=main)
    base = base_scores.load_or_score(run_dir, trainer, task, cfg, ds, splits, labels, tokenizer, model_path, main)
    if main:
        _record_start(run_dir, resume, ckpt, {"trainable_parameters": trainable, "total_parameters": total,
                                              "max_steps": total_steps, "device": device, "precision": precision,
                                              "learning_rate_peak": lr, "launch": launch_record()})
    trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None)
    if logcb.stopped:
        # A stop asked for mid-epoch: the checkpoint just saved is what resume continues from.
        return {"status": "stopped", "reason": f"Stopped by the user at step {trainer.state.global_step}; resume continues from there.",
                "best_metric_name": best, "best_metric": trainer.state.best_metric}
    if trial_pruning.pruned_at(sweep) is not None:
        return {"status": "stopped", "pruned": True, "best_metric_name": best, "best_metric": trainer.state.best_metric,
                "reason": f"Pruned by its sweep at step {trial_pruning.pruned_at(sweep)}: its validation {best} was behind the "
                          "median of earlier trials at that point, so it stopped to leave the time to others."}
    return _finish(trainer, task, cfg, ds, splits, labels, tokenizer, run_dir, main, t_start, base)


def _with_teacher(parts, collator, cfg: RunConfig):
    """The task's Trainer and collator, taught by the run's teacher (studio.distill)."""
    import dataclasses

    from transformers import Trainer

    cls = distill.trainer_class(parts.trainer_cls or Trainer, cfg.distill.temperature, cfg.distill.alpha)
    return dataclasses.replace(parts, trainer_cls=cls), distill.Collator(collator)


def _fill_token_lengths(run_dir: Path, task, splits, tokenizer, max_length: int, main: bool) -> list[str]:
    """The data report's token lengths, counted with the model's tokenizer the way the task trains (a run is
    created without loading it); returns the label set."""
    report = json.loads((RunFolder(run_dir).data_report).read_text())
    if not report.get("token_lengths"):
        report["token_lengths"] = length_stats(task.count_tokens(splits["train"], tokenizer), max_length)
        if main:
            files.atomic_write_json(RunFolder(run_dir).data_report, report)
    return report["labels"]


def _wandb_env(t, run_dir: Path) -> None:
    if t.wandb and t.wandb_project:
        os.environ["WANDB_PROJECT"] = t.wandb_project
    if t.wandb:
        os.environ.setdefault("WANDB_DIR", str(run_dir))  # wandb's files live (and are deleted) with the run


def _finish(trainer, task, cfg: RunConfig, ds, splits, labels, tokenizer, run_dir: Path, main: bool,
            t_start: float, base: dict[str, Any] | None) -> dict[str, Any]:
    """Score the best checkpoint (loaded by load_best_model_at_end) once on the test split; save what came of it."""
    t, best, best_value = cfg.training, cfg.selection_metric(), trainer.state.best_metric
    # Rows are paired with the test split by position, so predict in dataset order: with
    # group_by_length the Trainer's eval sampler would regroup them by length.
    trainer.args.train_sampling_strategy = "random"
    # Every rank takes part in predicting the test split (a collective); rank 0 writes what came of it.
    test_report, rows = task.test_report(trainer, ds["test"], splits["test"], labels, tokenizer, cfg)
    if shards_model(t):
        save_final_sharded(trainer, tokenizer, cfg, labels, run_dir, main)
    if not main:
        return {"status": "completed"}
    test_report.update({"run": run_dir.name, "model": cfg.model, "method": cfg.method,
                        "best_checkpoint": trainer.state.best_model_checkpoint,
                        "best_validation": {best: best_value}, "train_seconds": round(time.time() - t_start, 1)})
    if base is not None:
        test_report["base"] = base
    if cfg.distill.teacher and task.test_report_metrics is not None:
        test_report["distillation"] = distill.report(run_dir, cfg, trainer.model, tokenizer, splits["test"], labels,
                                                     test_report["metrics"])
    elif cfg.distill.teacher:
        test_report["distillation"] = distill.sequence_report(run_dir, trainer.model)
    files.atomic_write_json(RunFolder(run_dir).report, test_report)
    files.atomic_write_text(RunFolder(run_dir).predictions, "".join(json.dumps(r) + "\n" for r in rows))
    runfolder.MetricsWriter(run_dir).append({"kind": "test", "step": trainer.state.global_step,
                                          **{f"test_{k}": v for k, v in test_report["metrics"].items()},
                                          **{f"base_test_{k}": v for k, v in ((base or {}).get("metrics") or {}).items()}})
    if not shards_model(t):
        save_final(trainer, tokenizer, cfg, labels, run_dir)
    return {"status": "completed", "reason": None, "best_metric_name": best, "best_metric": best_value,
            "test_metrics": test_report["metrics"], "peak_memory": measured_peak(str(trainer.args.device))}


def _record_start(run_dir: Path, resume: bool, ckpt: Path | None, fields: dict[str, Any]) -> None:
    """The start line of metrics.jsonl (after cutting a resumed run's history back to its checkpoint) and status."""
    if resume and ckpt is not None:
        runfolder.MetricsWriter(run_dir).truncate_after(int(ckpt.name.split("-")[1]))
        print(f"[studio] resuming from {ckpt.name}", flush=True)
    elif resume:
        print("[studio] no checkpoint to resume from; training from the start", flush=True)
        runfolder.MetricsWriter(run_dir).truncate_after(-1)
    runfolder.MetricsWriter(run_dir).append({"kind": "start", "step": 0 if ckpt is None else int(ckpt.name.split("-")[1]),
                                          **fields, "resumed": ckpt is not None})
    runfolder.write_status(run_dir, "running", if_active=True, **{k: fields[k] for k in (
        "trainable_parameters", "total_parameters", "precision", "max_steps", "launch")})


def _model_meta(cfg: RunConfig, labels: list[str]) -> dict[str, Any]:
    return {"task": cfg.task, "base_model": cfg.model, "method": cfg.method,
            "peft": METHODS[cfg.method].peft, "labels": labels, "max_length": cfg.training.max_length,
            "max_new_tokens": cfg.training.max_new_tokens, "max_target_length": cfg.training.max_target_length}


def save_final_sharded(trainer, tokenizer, cfg: RunConfig, labels: list[str], run_dir: Path, main: bool) -> None:
    """FSDP and DeepSpeed hold the weights in shards: every rank joins in gathering them, rank 0 writes."""
    import shutil

    target, tmp = RunFolder(run_dir).model, run_dir / ".model-gathering"
    if main:
        shutil.rmtree(tmp, ignore_errors=True)
    trainer.save_model(str(tmp))  # a collective; only rank 0 writes files
    if not main:
        return
    (tmp / "training_args.bin").unlink(missing_ok=True)
    tokenizer.save_pretrained(tmp)
    files.atomic_write_json(tmp / MODEL_META_NAME, _model_meta(cfg, labels))
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)


def save_final(trainer, tokenizer, cfg: RunConfig, labels: list[str], run_dir: Path) -> Path:
    """Save the model (or adapter) atomically into run_dir/model with what inference needs."""
    import shutil
    import tempfile

    target = RunFolder(run_dir).model
    tmp = Path(tempfile.mkdtemp(dir=run_dir, prefix=".model-"))
    try:
        trainer.model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        files.atomic_write_json(tmp / MODEL_META_NAME, _model_meta(cfg, labels))
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
