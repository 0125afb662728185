"""A run that runs out of memory mid-training: its last completed step is saved as a checkpoint, and the run
fails with the sentence that says how to go on: resume with half the batch and twice the accumulation (the same
effective batch, so the checkpoint's steps mean the same), or with gradient checkpointing.

The checkpoint is written after the failed step's frames are gone (outside the `except` block, whose exception
would keep them and the activations they hold alive), and only by a run of one process: with several, the other
ranks are inside the step's collectives, and a save on one rank alone (its own collectives) would hang them all
until the NCCL timeout; such a run resumes from its last regular checkpoint.

Store.resume(run_id, changes) applies those changes (studio.runs.store.resume_changes checks them); the CLI's
`studio resume RUN --batch-size N` and the Runs tab's resume batch field call it.
"""

from __future__ import annotations

from studio.base import runfolder
from studio.base.errors import TrainingOutOfMemory, is_out_of_memory
from studio.base.process_rank import world_size


def train(trainer, checkpoint: str | None, run_dir, training, main: bool) -> None:
    """trainer.train(), with what an out-of-memory failure leaves: a checkpoint of the last completed step."""
    failure = None
    try:
        trainer.train(resume_from_checkpoint=checkpoint)
    except Exception as e:  # noqa: BLE001 - only out-of-memory is handled; everything else goes on as it was
        if not is_out_of_memory(e):
            raise
        try:  # the same error without its traceback, which holds the failed step's frames and their tensors
            failure = type(e)(*e.args)
        except Exception:  # noqa: BLE001 - an error type that cannot be made again: its text
            failure = RuntimeError(f"{type(e).__name__}: {e}")
    if failure is None:
        return
    saved = save_last_step(trainer) if world_size() == 1 else None
    step = trainer.state.global_step
    half = max(1, training.batch_size // 2)
    if main:
        runfolder.write_status(run_dir, "running", out_of_memory={
            "step": step, "checkpoint": saved, "batch_size": training.batch_size,
            "gradient_accumulation_steps": training.gradient_accumulation_steps, "suggested_batch_size": half})
    raise TrainingOutOfMemory(message(run_dir, step, saved, training, half, world_size())) from failure


def save_last_step(trainer) -> str | None:
    """The state after the last completed optimizer step as a checkpoint (the failed step's partial gradients
    are dropped first); None when no step completed or saving failed too."""
    import gc

    import torch

    if trainer.optimizer is not None:
        trainer.optimizer.zero_grad(set_to_none=True)
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    step = trainer.state.global_step
    if step == 0:
        return None
    try:
        trainer._save_checkpoint(trainer.model, trial=None)  # the Trainer's own checkpoint: resume reads it as any
    except Exception:  # noqa: BLE001 - the reason the run failed is the memory, not this
        return None
    return f"checkpoint-{step}"


def message(run_dir, step: int, saved: str | None, training, half: int, processes: int = 1) -> str:
    run = getattr(run_dir, "name", str(run_dir))
    accumulation = training.gradient_accumulation_steps * training.batch_size // half
    if saved:
        kept = f"step {step} was saved ({saved}); resume continues from there"
    elif processes > 1:
        kept = (f"with {processes} processes the step is not saved (the others were inside it); resume continues "
                "from the last regular checkpoint")
    else:
        kept = "no step had completed, so resume starts from the beginning"
    return (f"Out of memory at step {step + 1} (batch {training.batch_size} x {training.max_length} tokens): {kept}. "
            f"Resume with half the batch: `studio resume {run} --batch-size {half}` (gradient accumulation becomes "
            f"{accumulation}, so the effective batch stays "
            f"{training.batch_size * training.gradient_accumulation_steps}), or the Runs tab's batch size to resume "
            "with; gradient checkpointing (`--gradient-checkpointing`) saves more, at about a third more time per "
            "step. A new run fits with a smaller training.batch_size or training.max_length, or with LoRA in place of "
            "full fine-tuning.")
