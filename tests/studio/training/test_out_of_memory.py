"""A run that runs out of memory mid-training keeps its last step and resumes with half the batch: the same
effective batch and steps, training on to completion (the out-of-memory error is raised here on purpose, by a
run feature, at the step a 24 GB card would have run short)."""

from __future__ import annotations

import json

import pytest

from studio.base import runfolder
from studio.base.errors import ConfigError, TrainingOutOfMemory, failure_reason
from studio.base.runfolder import RunFolder
from studio.config import RunConfig
from studio.runs.store import resume_changes
from studio.training import recipe
from studio.training.features import FEATURES
from tests.support import kill_active, tiny_config


class OutOfMemoryAt:
    """A feature whose callback raises torch's CUDA out-of-memory error as step `step + 1` begins."""

    name = "oom"

    def __init__(self, step: int):
        self.step = step

    def callbacks(self, run):
        import torch
        from transformers import TrainerCallback

        at = self.step

        class Raise(TrainerCallback):
            def on_step_begin(self, args, state, control, **kw):
                if state.global_step == at:
                    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 23.6 GiB "
                                                 "total capacity; 22.9 GiB already allocated)")

        return [Raise()]


def test_out_of_memory_saves_the_last_step_and_resumes_with_half_the_batch(store, tiny_bert, separable_csv):
    cfg = RunConfig.from_dict(tiny_config(tiny_bert, separable_csv, "lora", batch_size=8, epochs=2))
    run_id = store.create(cfg, start=False)
    rd = store.run_dir(run_id)
    with pytest.raises(TrainingOutOfMemory) as err:
        recipe.run(rd, features=(*FEATURES, OutOfMemoryAt(3)))
    text = failure_reason(err.value)
    assert "Out of memory at step 4" in text and "step 3 was saved (checkpoint-3)" in text
    assert f"studio resume {run_id} --batch-size 4" in text and "effective batch stays 8" in text
    assert (RunFolder(rd).checkpoints / "checkpoint-3").is_dir()
    oom = runfolder.read_status(rd)["out_of_memory"]
    assert oom == {"step": 3, "checkpoint": "checkpoint-3", "batch_size": 8, "gradient_accumulation_steps": 1,
                   "suggested_batch_size": 4}
    runfolder.write_status(rd, "failed", reason=text)  # what the worker writes for it
    store.sync(run_id)
    try:
        store.resume(run_id, {"batch_size": 4})
        st = store.wait(run_id, timeout=300)
    finally:
        kill_active(store)
    assert st["status"] == "completed", (RunFolder(rd).log.read_text()[-2000:])
    saved = json.loads(RunFolder(rd).config.read_text())["training"]
    assert (saved["batch_size"], saved["gradient_accumulation_steps"]) == (4, 2)
    assert st["resumed_with"] == {"batch_size": 4}
    log = RunFolder(rd).log.read_text()
    assert "resuming from checkpoint-3" in log
    steps = [r["step"] for r in runfolder.read_metrics(rd) if r.get("kind") == "train"]
    assert steps == sorted(steps) and max(steps) == st["max_steps"] == 10  # 40 rows / 8 a step, 2 epochs


def test_a_resume_keeps_the_effective_batch_or_says_why_not(tiny_bert, separable_csv):
    t = RunConfig.from_dict(tiny_config(tiny_bert, separable_csv, "lora", batch_size=16,
                                        gradient_accumulation_steps=2)).training
    half = resume_changes(t, {"batch_size": 8})
    assert (half.batch_size, half.gradient_accumulation_steps) == (8, 4)
    assert resume_changes(t, {"gradient_checkpointing": True}).gradient_checkpointing
    with pytest.raises(ConfigError, match="does not divide the effective batch 32"):
        resume_changes(t, {"batch_size": 12})
    with pytest.raises(ConfigError, match="must keep the effective batch 32"):
        resume_changes(t, {"batch_size": 8, "gradient_accumulation_steps": 2})
    with pytest.raises(ConfigError, match="training.learning_rate cannot change on resume"):
        resume_changes(t, {"learning_rate": 1e-3})


class FailingTrainer:
    """A trainer whose train() holds a tensor in its frame, as a failed step's activations are, and runs out of
    memory at step 4; it records whether that tensor was still alive when its checkpoint was saved."""

    def __init__(self):
        from types import SimpleNamespace

        self.state = SimpleNamespace(global_step=3)
        self.optimizer, self.model, self.saved_with_step_alive = None, None, None

    def train(self, resume_from_checkpoint=None):
        import weakref

        import torch

        activations = torch.ones(8)
        self.activations = weakref.ref(activations)
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    def _save_checkpoint(self, model, trial=None):
        self.saved_with_step_alive = self.activations() is not None


def _training():
    return RunConfig.from_dict({"data": {"train": "x.csv"}, "training": {"batch_size": 8}}).training


def test_the_checkpoint_is_saved_after_the_failed_steps_memory_is_let_go(tmp_path):
    from studio.training import out_of_memory

    trainer = FailingTrainer()
    with pytest.raises(TrainingOutOfMemory, match=r"step 3 was saved \(checkpoint-3\)"):
        out_of_memory.train(trainer, None, tmp_path, _training(), main=False)
    assert trainer.saved_with_step_alive is False


def test_with_several_processes_no_rank_saves_alone(tmp_path, monkeypatch):
    """Only the failing rank sees the error; a checkpoint save is collective and would wait for ranks that never
    come (until the NCCL timeout). The run says to resume from its last regular checkpoint instead."""
    from studio.training import out_of_memory

    monkeypatch.setattr(out_of_memory, "world_size", lambda: 2)
    trainer = FailingTrainer()
    with pytest.raises(TrainingOutOfMemory, match="with 2 processes the step is not saved"):
        out_of_memory.train(trainer, None, tmp_path, _training(), main=False)
    assert trainer.saved_with_step_alive is None  # _save_checkpoint never called
