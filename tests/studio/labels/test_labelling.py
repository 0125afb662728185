"""Labelling projects: rounds of suggestions, labels saved as given, retraining, the learning curve, bad input."""

from __future__ import annotations

import pandas as pd
import pytest

from studio.base.errors import DataError, RunError
from studio.config import RunConfig
from studio.labels import labelling
from studio.runs.store import Store
from tests.support import SAMPLES, separable_rows, tiny_config, write_csv

LABELS = ("billing", "technical", "shipping")


@pytest.fixture
def files(tmp_path):
    """A labelled start set (12), a pool of 60 unlabelled texts (their true labels kept aside), a test file (15)."""
    rows = separable_rows(29, LABELS, seed=11, words=(2, 6))
    start, pool, test = rows[:12], rows[12:72], rows[72:]
    write_csv(tmp_path / "start.csv", start)
    write_csv(tmp_path / "pool.csv", [{"text": r["text"]} for r in pool])
    write_csv(tmp_path / "test.csv", test)
    return tmp_path, [r["label"] for r in pool]


def _config(tiny_bert, tmp_path) -> RunConfig:
    return RunConfig.from_dict(tiny_config(tiny_bert, tmp_path / "pool.csv", epochs=3, batch_size=8, score_base=False))


def _project(store, tiny_bert, files) -> str:
    d, _ = files
    return labelling.create(store, str(d / "pool.csv"), str(d / "start.csv"), str(d / "test.csv"),
                            config=_config(tiny_bert, d))


def test_a_project_grows_round_by_round_and_its_runs_draw_the_learning_curve(store, tiny_bert, files):
    d, truth = files
    pid = _project(store, tiny_bert, files)
    spec = labelling.load(store, pid)
    assert spec["labels"] == sorted(LABELS) and spec["files"] == {"pool": "pool.csv", "start": "start.csv",
                                                                   "test": "test.csv"}
    first = labelling.next_round(store, pid, 6, "margin")  # no run yet: a cold start, whatever the strategy
    assert first["strategy"] == "k-means" and len(first["rows"]) == 6
    assert all(r["suggestion"] == "" and r["label"] == "" for r in first["rows"])
    labelling.save_labels(store, pid, 1, {r["pool_row"]: truth[r["pool_row"]] for r in first["rows"]})
    assert len(labelling.labelled_frame(store, pid)) == 18

    run_id = labelling.retrain(store, pid)
    assert store.wait(run_id, timeout=300)["status"] == "completed"
    [point] = labelling.curve(store, pid)
    assert point["run"] == run_id and point["labels"] == 18 and 0 <= point["metrics"]["accuracy"] <= 1
    assert len(pd.read_parquet(store.run_dir(run_id) / "data" / "test.parquet")) == 15  # the project's test file
    assert labelling.curve_points(labelling.curve(store, pid)) == [(18, point["metrics"]["accuracy"])]
    assert labelling.project_of_run(store, run_id) == pid

    second = labelling.next_round(store, pid, 6, "margin", run_id=run_id)
    assert second["strategy"] == "margin" and second["run"] == run_id
    assert not {r["pool_row"] for r in second["rows"]} & {r["pool_row"] for r in first["rows"]}
    assert all(r["suggestion"] in LABELS and 0 < r["confidence"] <= 1 for r in second["rows"])
    assert [r["score"] for r in second["rows"]] == sorted((r["score"] for r in second["rows"]), reverse=True)

    # The folder is the truth: a new Store on the same folder (a restarted server) sees the same project.
    again = Store(store.root)
    [listed] = labelling.list_projects(again)
    assert (listed["id"], listed["rounds"], listed["labelled_in_rounds"]) == (pid, 2, 6)


def test_a_label_outside_the_set_saves_nothing(store, tiny_bert, files):
    pid = _project(store, tiny_bert, files)
    record = labelling.next_round(store, pid, 3, "entropy")
    rows = [r["pool_row"] for r in record["rows"]]
    labelling.save_labels(store, pid, 1, {rows[0]: "billing"})
    path = store.root / "labelling" / pid / "round-001.json"
    before = path.read_bytes()
    with pytest.raises(DataError, match=r"Pool row \d+: 'biling' is not one of the labels; did you mean billing"):
        labelling.save_labels(store, pid, 1, {rows[1]: "technical", rows[2]: "biling"})
    assert path.read_bytes() == before
    assert labelling.save_labels(store, pid, 1, {rows[1]: "Technical"})["rows"][1]["label"] == "technical"
    with pytest.raises(DataError, match="is not in round 1"):
        labelling.save_labels(store, pid, 1, {999: "billing"})


def test_pool_rows_already_labelled_are_left_out_and_said_so(store, tiny_bert, files):
    d, _ = files
    pool = pd.read_csv(d / "pool.csv")
    start = pd.read_csv(d / "start.csv")
    pd.concat([pool, start[["text"]].head(4)]).to_csv(d / "pool.csv", index=False)
    pid = _project(store, tiny_bert, files)
    record = labelling.next_round(store, pid, 100, "margin")
    assert len(record["rows"]) == 60
    assert record["notes"] == ["4 pool rows are already in the labelled set (same text); they are left out."]
    with pytest.raises(DataError, match="nothing left to suggest"):
        labelling.next_round(store, pid, 5, "margin")


@pytest.mark.parametrize("content, match", [
    ("count,score\n1,2\n3,4\n", "has no column of texts"),
    ("text,label\nan invoice,billing\na crash,technical\n", "every row already has a label"),
])
def test_bad_pools_are_refused_before_anything_is_written(store, tiny_bert, files, content, match):
    d, _ = files
    (d / "pool.csv").write_text(content)
    with pytest.raises(DataError, match=match):
        _project(store, tiny_bert, files)
    assert not (store.root / "labelling").exists() or not list((store.root / "labelling").glob("l*"))


def test_a_cold_start_without_labels_asks_for_them(store, tiny_bert, files):
    d, _ = files
    with pytest.raises(DataError, match="Name at least two labels"):
        labelling.create(store, str(d / "pool.csv"), config=_config(tiny_bert, d))
    pid = labelling.create(store, str(d / "pool.csv"), labels=list(LABELS), config=_config(tiny_bert, d))
    assert labelling.load(store, pid)["labels"] == sorted(LABELS)


def test_suggestions_need_a_finished_run_of_the_same_task(store, tiny_bert, files):
    pid = _project(store, tiny_bert, files)
    other = store.create(RunConfig.from_dict({"task": "seq2seq",
                                              "data": {"train": str(SAMPLES / "seq2seq_sample.csv")}}),
                         start=False)
    with pytest.raises(DataError, match="is a seq2seq run; this project labels text-classification data"):
        labelling.next_round(store, pid, 5, "margin", run_id=other)
    raw = tiny_config(tiny_bert, files[0] / "start.csv")
    raw["data"]["test"] = str(files[0] / "test.csv")
    queued = store.create(RunConfig.from_dict(raw), start=False)
    with pytest.raises(RunError, match="has not finished"):
        labelling.next_round(store, pid, 5, "margin", run_id=queued)
    with pytest.raises(DataError, match="1 to 1000 rows"):
        labelling.next_round(store, pid, 0, "margin")
    with pytest.raises(DataError, match="Unknown strategy"):
        labelling.next_round(store, pid, 5, "smart")
