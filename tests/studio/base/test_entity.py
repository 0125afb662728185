"""studio.base.entity: runs, sweeps and labelling projects are folders of one pattern."""

from __future__ import annotations

import pytest

from studio.base.entity import LABELLING, RUNS, SWEEPS, FolderKind
from studio.base.errors import RunError


def test_ids_have_the_kinds_shape_and_list_newest_first(tmp_path):
    kind = FolderKind("thing", "t", "things")
    made = []
    for _ in range(3):
        with kind.creating(tmp_path) as (thing_id, tmp):
            (tmp / "spec.json").write_text("{}")
        made.append(thing_id)
    assert all(kind.is_id(i) and i.startswith("t") for i in made)
    assert kind.ids(tmp_path) == sorted(made, reverse=True)
    assert all((tmp_path / "things" / i / "spec.json").is_file() for i in made)


@pytest.mark.parametrize("bad", ["../etc", "20261130-142455-3fa2b1/..", "", None, "s20261130-142455-3fa2b1"])
def test_an_id_that_is_not_of_the_kind_never_becomes_a_path(tmp_path, bad):
    with pytest.raises(RunError, match="is not a run id"):
        RUNS.folder(tmp_path, bad)


def test_each_kind_refuses_the_others_ids():
    run_id, sweep_id, project_id = RUNS.new_id(), SWEEPS.new_id(), LABELLING.new_id()
    assert RUNS.is_id(run_id) and not RUNS.is_id(sweep_id) and not RUNS.is_id(project_id)
    assert SWEEPS.is_id(sweep_id) and not SWEEPS.is_id(run_id) and not SWEEPS.is_id(project_id)
    assert LABELLING.is_id(project_id) and not LABELLING.is_id(sweep_id)


def test_a_creation_that_fails_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match="half made"):
        with SWEEPS.creating(tmp_path) as (_, tmp):
            (tmp / "sweep.json").write_text("{}")
            raise ValueError("half made")
    assert list((tmp_path / "sweeps").iterdir()) == []


def test_remove_takes_the_folder_away_and_says_when_there_was_none(tmp_path):
    with RUNS.creating(tmp_path) as (run_id, tmp):
        (tmp / "config.json").write_text("{}")
    assert RUNS.remove(tmp_path, run_id) is True
    assert list(tmp_path.iterdir()) == [] and RUNS.remove(tmp_path, run_id) is False
