"""studio.data.splits: one split policy, the same for every task (each tried on its own bundled sample)."""

from __future__ import annotations

import pandas as pd
import pytest

from studio.base.errors import DataError
from studio.data import DataConfig, check_held_out
from studio.tasks import get_task, task_names
from studio.views.data_check import list_samples

SAMPLES = list_samples()


def prepare(name: str, **data):
    task = get_task(name)
    return task.prepare_data(DataConfig(train=str(SAMPLES[task.data.samples[0]]), **data))


def inputs(name: str, df: pd.DataFrame) -> list[str]:
    """A split's inputs (the task's input columns), sorted: what tells two splits apart."""
    return sorted(map(str, get_task(name).inputs.from_frame(df)))


@pytest.mark.parametrize("name", task_names())
def test_shares_of_the_training_file_make_validation_and_test(name):
    p = prepare(name, validation_fraction=0.2, test_fraction=0.2)
    rows = {k: len(v) for k, v in p.splits.items()}
    assert list(p.splits) == ["train", "validation", "test"] and rows["validation"] > 0 and rows["test"] > 0
    assert "20% of" in p.report.split_source["validation"]
    whole = prepare(name, validation_fraction=0.0, test_fraction=0.0).splits["train"]
    assert sum(rows.values()) == len(whole)  # the shares partition the file's rows
    assert sorted(inputs(name, whole)) == sorted(sum((inputs(name, df) for df in p.splits.values()), []))


@pytest.mark.parametrize("name", task_names())
@pytest.mark.parametrize("zero, other", [("validation", "test"), ("test", "validation")])
def test_a_zero_share_evaluates_on_the_other_held_out_split(name, zero, other):
    p = prepare(name, **{f"{zero}_fraction": 0.0, f"{other}_fraction": 0.2})
    assert p.splits[zero] is p.splits[other] and p.report.split_source[zero] == p.report.split_source[other]


@pytest.mark.parametrize("name", task_names())
def test_no_held_out_rows_prepare_for_a_look_but_a_run_refuses_them(name):
    p = prepare(name, validation_fraction=0.0, test_fraction=0.0)
    assert list(p.splits) == ["train"]
    with pytest.raises(DataError, match="no rows are held out for validation or test"):
        check_held_out(p.splits, "sample")


@pytest.mark.parametrize("name", task_names())
def test_the_split_is_seeded_and_max_rows_cuts_only_train(name):
    a, b = prepare(name, split_seed=3), prepare(name, split_seed=3)
    assert all(inputs(name, a.splits[k]) == inputs(name, b.splits[k]) for k in a.splits)
    other = prepare(name, split_seed=4)
    assert inputs(name, other.splits["test"]) != inputs(name, a.splits["test"])
    few = prepare(name, split_seed=3, max_rows=8)
    assert len(few.splits["train"]) <= 8 + len(a.labels)  # stratified: each class keeps a row
    assert inputs(name, few.splits["test"]) == inputs(name, a.splits["test"])


def test_a_classifiers_split_keeps_every_class_in_every_split():
    p = prepare("text-classification", validation_fraction=0.1, test_fraction=0.1)
    assert all(set(df["label"]) == set(p.labels) for df in p.splits.values())
    assert "stratified" in p.report.split_source["test"]
