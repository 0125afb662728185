"""studio.training.hooks: features plug into a run at named points, before it exists and while it trains.

The store and the recipe call every feature at its point and name none of them: a feature given to them here
(a recorder) is called in order, what it returns takes effect, and what it refuses leaves nothing behind.
"""

from __future__ import annotations

import json

import pytest

from studio.base import runfolder
from studio.base.errors import ConfigError
from studio.base.runfolder import RunFolder
from studio.config import RunConfig
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
