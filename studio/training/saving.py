"""A finished run's model saved into its folder, atomically, with what inference needs (studio_model.json)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.base import files
from studio.base.runfolder import MODEL_META_NAME, RunFolder
from studio.methods import METHODS


def _model_meta(cfg, labels: list[str]) -> dict[str, Any]:
    """What inference needs to load and use the model: its task, base, method, labels and lengths."""
    import dataclasses

    return {"task": cfg.task, "base_model": cfg.model, "method": cfg.method,
            "peft": METHODS[cfg.method].peft, "labels": labels, "max_length": cfg.training.max_length,
            "task_args": dataclasses.asdict(cfg.task_args)}


def save_final_sharded(trainer, tokenizer, cfg, labels: list[str], run_dir: Path, main: bool) -> None:
    """FSDP and DeepSpeed hold the weights in shards: every rank joins in gathering them, rank 0 writes."""
    import shutil

    gathering = run_dir / ".model-gathering"  # one name every rank knows
    if main:
        shutil.rmtree(gathering, ignore_errors=True)
    trainer.save_model(str(gathering))  # a collective; only rank 0 writes files
    if not main:
        return
    with files.folder_written_whole(RunFolder(run_dir).model, tmp=gathering) as tmp:
        (tmp / "training_args.bin").unlink(missing_ok=True)
        tokenizer.save_pretrained(tmp)
        files.atomic_write_json(tmp / MODEL_META_NAME, _model_meta(cfg, labels))


def save_final(trainer, tokenizer, cfg, labels: list[str], run_dir: Path) -> Path:
    """Save the model (or adapter) atomically into run_dir/model with what inference needs."""
    target = RunFolder(run_dir).model
    with files.folder_written_whole(target) as tmp:
        trainer.model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        files.atomic_write_json(tmp / MODEL_META_NAME, _model_meta(cfg, labels))
    return target
