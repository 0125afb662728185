"""The named points where features plug into a run: before it exists, and while it trains.

A feature is one object with any of the methods below (and a `name`); studio.training.features lists the
features every run has, in the order they are called. The store calls the creation points
(studio.runs.store.Store.create), the recipe the training points (studio.training.recipe.run); neither names a
feature. tests/studio/training/test_hooks.py checks every feature's methods against these names and parameters.

Before a run exists, with a `NewRun`:
    check(new)                           refuse what cannot run, in one sentence (ConfigError, DataError), before
                                         anything is written; may add files to new.files and fields to new.status
    created(new, run_id) -> QueueRun(s)  after the folder and registry row exist: None, or the runs to queue
                                         behind it (a comparison run), which the store creates; no hook holds it

While it trains, with a `Run`:
    train_rows(run, train) -> train      the training split before tokenising (augmented rows, a teacher's answers)
    datasets(run, ds) -> ds              after tokenising (a teacher's logits beside every row)
    trainer(run, parts, collator) -> (parts, collator)   the Trainer's parts (a distillation loss)
    callbacks(run) -> [TrainerCallback]  (a sweep's pruning, CPU cores shared between runs)
    before_train(run, trainer)           once the Trainer exists, before its first step (the base's scores, kept
                                         in run.sections for the report)
    stopped(run, trainer) -> dict|None   a status that ends the run after training stopped early (pruned by its
                                         sweep); the first feature that returns one decides
    report(run, trainer, report)         add sections to the test report (the base's scores, the teacher's)
    finished(run, trainer) -> dict       status fields of a completed run (the measured memory peak)
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from studio.base.runfolder import QueueRun  # what `created` returns; below the features' layers

CREATION_POINTS = {"check": ("new",), "created": ("new", "run_id")}
TRAINING_POINTS = {
    "train_rows": ("run", "train"), "datasets": ("run", "ds"), "trainer": ("run", "parts", "collator"),
    "callbacks": ("run",), "before_train": ("run", "trainer"), "stopped": ("run", "trainer"),
    "report": ("run", "trainer", "report"), "finished": ("run", "trainer"),
}
POINTS = {**CREATION_POINTS, **TRAINING_POINTS}


@dataclass
class NewRun:
    """A run about to be created: its config (resolved), task and checked data; what features add to its folder.

    Plain values only: what a feature needs of other runs the store looks up first (the devices in use, a run's
    folder), so no feature holds the store, and one that wants another run says so in what `created` returns."""

    cfg: Any
    task: Any
    prepared: Any                       # data.PreparedData, or None when the data was not checked
    run_dir: Callable[[str], Path]      # another run's folder, one its person may see (a RunError otherwise)
    busy: frozenset[str] = frozenset()  # devices other runs train on now
    start: bool = True                  # its worker starts at once
    files: dict[str, Any] = field(default_factory=dict)   # name -> JSON written into the new folder
    status: dict[str, Any] = field(default_factory=dict)  # fields of its first status.json


def queued(returned) -> tuple[QueueRun, ...]:
    """What a `created` hook returned, as runs to queue: None, one QueueRun, or several."""
    if returned is None:
        return ()
    got = (returned,) if isinstance(returned, QueueRun) else tuple(returned)
    if not all(isinstance(q, QueueRun) for q in got):
        raise TypeError(f"a created hook returns None or QueueRun(s), not {returned!r}")
    return got


@dataclass
class Run:
    """A run in its worker: what every training point sees."""

    folder: Path                        # the run folder (studio.base.runfolder.RunFolder names its files)
    cfg: Any                            # its config, resolved
    task: Any
    model_path: Any
    tokenizer: Any
    labels: list[str]
    splits: dict                        # the saved splits, as DataFrames
    device: str
    datasets: dict | None = None        # the tokenised splits, once there are
    main: bool = True                   # this process writes the run folder (rank 0 of several)
    resume: bool = False
    sections: dict[str, Any] = field(default_factory=dict)  # report sections features made before training


def methods_of(feature) -> list[str]:
    return [p for p in POINTS if callable(getattr(feature, p, None))]


def problems(feature) -> list[str]:
    """What a feature gets wrong against the points: parameters other than the point's."""
    out = []
    for point in methods_of(feature):
        got = [p for p in inspect.signature(getattr(feature, point)).parameters]
        if got != list(POINTS[point]):
            out.append(f"{type(feature).__name__}.{point} takes {got}, the point passes {list(POINTS[point])}")
    return out


def each(features: Iterable, point: str):
    """The features' methods for a point, in order."""
    return [getattr(f, point) for f in features if callable(getattr(f, point, None))]


def through(features: Iterable, point: str, run, value):
    """A value passed through every feature's method for a point (train_rows, datasets)."""
    for fn in each(features, point):
        value = fn(run, value)
    return value
