"""A one-job process freezes what it imported, so the collector's full passes stop walking torch's objects; the
run's worker does so before training."""

from __future__ import annotations

import subprocess
import sys

from studio.config import RunConfig
from studio.runs import worker
from studio.runs.store import Store
from tests.support import tiny_config


def test_freezing_leaves_the_collector_only_what_came_after():
    code = ("import gc, torch\n"
            "from studio.base.heap import freeze_imports\n"
            "before = len(gc.get_objects())\n"
            "freeze_imports()\n"
            "print(before, gc.get_freeze_count(), len(gc.get_objects()))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    before, frozen, tracked = map(int, out.stdout.split())
    assert before > 50_000 and frozen > 0.9 * before and tracked < 0.01 * before, (before, frozen, tracked)


def test_a_runs_worker_freezes_its_imports_before_it_trains(tmp_path, tiny_bert, separable_csv, monkeypatch):
    from studio.training import recipe

    order = []
    monkeypatch.setattr(worker, "freeze_imports", lambda: order.append("freeze"))
    monkeypatch.setattr(recipe, "run", lambda run_dir, resume: order.append("train") or {})
    store = Store(tmp_path / "runs")
    run_id = store.create(RunConfig.from_dict(tiny_config(tiny_bert, separable_csv)), start=False)
    worker.train_run(store.run_dir(run_id), "cpu", False)
    assert order == ["freeze", "train"]
