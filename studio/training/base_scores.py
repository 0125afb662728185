"""Did fine-tuning help? The untrained base, scored on the run's own test split with the run's settings.

Before its first step a run scores its starting point (the base model, adapters off; for a classifier
the base with its prototype head, class means of training examples) with the task's own test report,
so the report can put the tuned model beside it. Scores are cached per base model, split and settings
(STUDIO_CACHE/base-scores: the key holds the task's own settings and the shared ones scoring reads), so the
next run on the same data pays nothing. training.score_base turns it off (for large bases, where generating
answers on the test split takes long). A task says what its untrained base is (UntrainedBase); one that says
nothing (NER: a random tag head) is not scored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import random
import time
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from studio.base import files
from studio.base.cache import cache_dir
from studio.base.process_rank import shards_model
from studio.base.runfolder import RunFolder
from studio.models.catalog import model_identity
from studio.training.head_init import PrototypeHead

# The shared training settings the base's scores depend on; every one of the task's own settings counts too.
SCORED_WITH = ("max_length", "seed")


@runtime_checkable
class UntrainedBase(Protocol):
    """What scoring the base asks of a task (Task.capabilities)."""

    def base_note(self, cfg):
        """What the untrained starting point is (a Text), or None where scoring it means nothing for this config."""


def _frame_digest(df) -> str:
    rows = json.dumps(df.to_dict("records"), sort_keys=True,
                      default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v))
    return hashlib.sha256(rows.encode()).hexdigest()


def cache_key(task, cfg, model_path, splits, labels: list[str]) -> str:
    parts = {"task": task.name, "model": model_identity(model_path), "labels": labels,
             "test": _frame_digest(splits["test"]),
             "settings": {**{k: getattr(cfg.training, k) for k in SCORED_WITH}, **dataclasses.asdict(cfg.task_args)}}
    if task.capability(PrototypeHead) is not None:  # a prototype head is made from training rows
        parts["train"] = _frame_digest(splits["train"])
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


@contextlib.contextmanager
def _same_random_numbers():
    """Scoring must not move training's random numbers (a test dataloader draws a seed): a run trains the same
    with or without it, and its reproduce script, which does not score, matches it."""
    import numpy as np
    import torch

    states = (random.getstate(), np.random.get_state(), torch.random.get_rng_state(),
              torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None)
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.random.set_rng_state(states[2])
        if states[3] is not None:
            torch.cuda.set_rng_state_all(states[3])


@contextlib.contextmanager
def _base_weights(model):
    """The model as its base: a peft model with its adapter (or virtual tokens) off; any other model as it is
    (it has not trained yet)."""
    disable = getattr(model, "disable_adapter", None)
    with (disable() if callable(disable) and hasattr(model, "peft_config") else contextlib.nullcontext()):
        yield model


def score(trainer, task, cfg, ds, splits, labels, tokenizer, model_path) -> dict[str, Any] | None:
    """The base's test report ({"metrics", "what", "seconds", "cached"}), from the cache or scored now; None where
    the task has no meaningful untrained base for this config."""
    base = task.capability(UntrainedBase)
    what = base.base_note(cfg) if base is not None else None
    if not what:
        return None
    path = cache_dir() / "base-scores" / f"{cache_key(task, cfg, model_path, splits, labels)}.json"
    cached = files.read_json(path)
    if cached is not None:
        return {**cached, "what": what.en, "what_zh": what.zh, "cached": True}
    if shards_model(cfg.training):
        # Before train() the model is not sharded yet: scoring it would put the whole base on every GPU (what
        # sharding is there to avoid) and run each rank's forward passes outside FSDP or DeepSpeed.
        print("[studio] base not scored: under FSDP or DeepSpeed the untrained base would have to fit on each GPU "
              "whole; a one-process run of the same base and data scores it, and later runs use those scores",
              flush=True)
        return None
    print("[studio] scoring the untrained base on the test split, to show beside the tuned model", flush=True)
    t0 = time.time()
    with _same_random_numbers(), _base_weights(trainer.model):
        report, _ = task.test_report(trainer, ds["test"], splits["test"], labels, tokenizer, cfg)
    out = {"metrics": report["metrics"], "what": what.en, "what_zh": what.zh, "n": report.get("n"),
           "seconds": round(time.time() - t0, 1)}
    path.parent.mkdir(parents=True, exist_ok=True)
    files.atomic_write_json(path, out)
    return {**out, "cached": False}


def load_or_score(run_dir: Path, trainer, task, cfg, ds, splits, labels, tokenizer, model_path,
                  main: bool = True) -> dict[str, Any] | None:
    """The run's base scores: kept in its folder (a resumed run does not score again), else scored."""
    if not cfg.training.score_base:
        return None
    kept = files.read_json(RunFolder(Path(run_dir)).base_report)
    if kept is not None:
        return kept
    base = score(trainer, task, cfg, ds, splits, labels, tokenizer, model_path)
    if base is not None and main:
        files.atomic_write_json(RunFolder(Path(run_dir)).base_report, base)
        shown = ", ".join(f"{k} {v:.4f}" for k, v in base["metrics"].items() if isinstance(v, (int, float)))
        took = "cached" if base["cached"] else f"{base['seconds']}s"
        print(f"[studio] base ({took}): {shown}", flush=True)
    return base


class BaseScores:
    """The run feature: the base scored before the first step, its scores beside the tuned ones in the report."""

    name = "base_scores"

    def before_train(self, run, trainer) -> None:
        base = load_or_score(run.folder, trainer, run.task, run.cfg, run.datasets, run.splits, run.labels,
                             run.tokenizer, run.model_path, run.main)
        if base is not None:
            run.sections["base"] = base

    def report(self, run, trainer, report) -> None:
        if "base" in run.sections:
            report["base"] = run.sections["base"]


def side_by_side(report: dict[str, Any]) -> list[tuple[str, float | None, float | None]]:
    """(metric, tuned, base) rows of a test report; base is None where the base was not scored."""
    base = (report.get("base") or {}).get("metrics") or {}
    return [(k, v, base.get(k)) for k, v in (report.get("metrics") or {}).items() if isinstance(v, (int, float))]
