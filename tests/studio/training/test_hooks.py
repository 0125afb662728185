"""studio.training.hooks: features plug into a run at named points, before it exists and while it trains.

The store and the recipe call every feature at its point and name none of them: a feature given to them here
(a recorder) is called in order, what it returns takes effect, and what it refuses leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from studio.base import runfolder
from studio.base.access import Person
from studio.base.errors import ConfigError
from studio.base.runfolder import RunFolder
from studio.config import RunConfig
from studio.data.uploads import uploads_dir
from studio.runs.store import Store
from studio.training import hooks, recipe
from studio.training.features import FEATURES
from tests.support import tiny_config


def test_every_feature_keeps_the_points_it_implements():
    assert all(hooks.methods_of(f) for f in FEATURES)
    assert [p for f in FEATURES for p in hooks.problems(f)] == []

    class Misnamed:
        def train_rows(self, run, rows):  # the point passes (run, train)
            return rows

    assert (hooks.problems(Misnamed())
            == ["Misnamed.train_rows takes ['run', 'rows'], the point passes ['run', 'train']"])


class Recorder:
    """A feature at every point: records the calls, halves the training rows, adds a report section."""

    name = "recorder"

    def __init__(self):
        self.calls: list[str] = []

    def check(self, new):
        self.calls.append("check")
        new.files["recorded.json"] = {"train_rows": len(new.prepared.splits["train"])}
        new.status["recorded"] = True

    def created(self, new, run_id):
        self.calls.append("created")

    def train_rows(self, run, train):
        self.calls.append("train_rows")
        return train.head(len(train) // 2)

    def datasets(self, run, ds):
        self.calls.append("datasets")
        return ds

    def trainer(self, run, parts, collator):
        self.calls.append("trainer")
        return parts, collator

    def callbacks(self, run):
        self.calls.append("callbacks")
        return []

    def before_train(self, run, trainer):
        self.calls.append("before_train")
        run.sections["recorder"] = {"metrics": {"rows": float(len(run.datasets["train"]))}}

    def stopped(self, run, trainer):
        self.calls.append("stopped")

    def report(self, run, trainer, report):
        self.calls.append("report")
        report["recorder"] = run.sections["recorder"]

    def finished(self, run, trainer):
        self.calls.append("finished")
        return {"recorded_peak": 1}


def test_the_store_and_the_recipe_call_a_feature_at_each_point_in_order(tmp_path, tiny_bert, separable_csv):
    rec = Recorder()
    store = Store(tmp_path / "runs", features=(rec,))
    cfg = RunConfig.from_dict(tiny_config(tiny_bert, separable_csv, "lora", epochs=1, batch_size=8))
    run_id = store.create(cfg, start=False)
    rd = store.run_dir(run_id)
    assert rec.calls == ["check", "created"]
    assert json.loads((rd / "recorded.json").read_text())["train_rows"] == 40 and runfolder.read_status(rd)["recorded"]

    status = recipe.run(rd, features=(rec,))
    assert rec.calls[2:] == ["train_rows", "datasets", "trainer", "callbacks", "before_train", "stopped", "report",
                             "finished"]
    report = json.loads(RunFolder(rd).report.read_text())
    assert report["recorder"] == {"metrics": {"rows": 20.0}}  # half the 40 training rows trained
    test_line = [r for r in runfolder.read_metrics(rd) if r["kind"] == "test"][-1]
    assert test_line["recorder_test_rows"] == 20.0
    assert status["status"] == "completed" and status["recorded_peak"] == 1


def test_a_feature_that_refuses_leaves_no_run(tmp_path, tiny_bert, separable_csv):
    class Refuses:
        def check(self, new):
            raise ConfigError("recorder: not this one.")

    store = Store(tmp_path / "runs", features=(Refuses(),))
    with pytest.raises(ConfigError, match="not this one"):
        store.create(RunConfig.from_dict(tiny_config(tiny_bert, separable_csv)), start=False)
    assert store.list() == [] and [p.name for p in store.root.iterdir()] == ["registry.sqlite"]


def test_a_created_hook_queues_a_run_by_what_it_returns_and_the_store_makes_it_as_the_same_person(
        tmp_path, tiny_bert, separable_csv):
    """No feature holds the store: one that wants another run behind the new one returns a QueueRun, and the store
    creates it (same owner, same start, every check) and names it in the new run's file."""
    assert "store" not in {f.name for f in dataclasses.fields(hooks.NewRun)}

    class Follows:
        name = "follows"

        def __init__(self):
            self.seen: list[hooks.NewRun] = []

        def check(self, new):
            self.seen.append(new)

        def created(self, new, run_id):
            if new.cfg.name == "comparison":
                return None
            return hooks.QueueRun(dataclasses.replace(new.cfg, name="comparison"), named_in=RunFolder.distill,
                                  key="alone")

    alice = Person("alice")
    feature = Follows()
    store = Store(tmp_path / "runs", features=(feature,)).as_person(alice)
    upload = uploads_dir(store.root, alice)
    upload.mkdir(parents=True)
    cfg = RunConfig.from_dict(tiny_config(tiny_bert, str(shutil.copy(separable_csv, upload / "t.csv"))))
    run_id = store.create(cfg, start=False)

    follow = json.loads(RunFolder(store.run_dir(run_id)).distill.read_text())["alone"]
    assert {r["id"]: r["name"] for r in store.list()} == {run_id: cfg.display_name(), follow: "comparison"}
    assert [n.cfg.name for n in feature.seen] == [cfg.name, "comparison"]  # checked as any run is
    assert not any(hasattr(n, "store") for n in feature.seen)
    for rid in (run_id, follow):
        assert store.access(rid).owner == "alice"
        st = runfolder.read_status(store.run_dir(rid))
        assert st["status"] == "queued" and not st.get("pid")  # start=False: neither was started


def test_a_created_hook_returns_queue_runs_or_nothing():
    q = hooks.QueueRun(cfg=None, named_in=RunFolder.distill, key="alone")
    assert hooks.queued(None) == () and hooks.queued(q) == (q,) and hooks.queued([q, q]) == (q, q)
    with pytest.raises(TypeError, match="returns None or QueueRun"):
        hooks.queued(["20990101-000000-abcdef"])


def test_the_memory_check_counts_a_gpu_other_runs_hold_from_a_plain_value(tiny_bert, separable_csv, monkeypatch):
    from studio.training import memory

    got = []
    fits = memory.Estimate(parts={}, total=1, available=2, where="of available RAM", verdict="fits")
    monkeypatch.setattr(memory, "check", lambda cfg, n, busy=False, device=None: got.append(busy) or fits)
    cfg = RunConfig.from_dict(tiny_config(tiny_bert, separable_csv, device="cuda:0"))
    for busy in (frozenset({"cuda:0"}), frozenset({"cuda:1"}), frozenset()):
        memory.MemoryCheck().check(hooks.NewRun(cfg=cfg, task=None, prepared=None, run_dir=Path, busy=busy))
    assert got == [True, False, False]
