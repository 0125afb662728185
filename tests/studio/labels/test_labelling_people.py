"""Labelling projects of several people: each sees and labels only their own, and two people (or two windows)
labelling one round at once both keep their labels."""

from __future__ import annotations

import shutil
import threading

import pytest

from studio.base.access import Person
from studio.base.errors import DataError, RunError
from studio.data.uploads import uploads_dir
from studio.labels import labelling
from tests.studio.labels.test_labelling import LABELS, _config
from tests.support import separable_rows, write_csv

ALICE, BOB = Person("alice"), Person("bob")


@pytest.fixture
def files(tmp_path):
    """A labelled start set and a pool of unlabelled texts."""
    rows = separable_rows(29, LABELS, seed=11, words=(2, 6))
    write_csv(tmp_path / "start.csv", rows[:12])
    write_csv(tmp_path / "pool.csv", [{"text": r["text"]} for r in rows[12:72]])
    return tmp_path, [r["label"] for r in rows[12:72]]


def _alices_project(store, tiny_bert, d) -> str:
    mine = uploads_dir(store.root, ALICE)
    mine.mkdir(parents=True)
    for name in ("pool.csv", "start.csv"):
        shutil.copy(d / name, mine / name)
    return labelling.create(store.as_person(ALICE), str(mine / "pool.csv"), str(mine / "start.csv"),
                            config=_config(tiny_bert, mine))


def test_a_project_is_its_owners(store, tiny_bert, files):
    d, _ = files
    with pytest.raises(DataError, match="not one of your files"):
        labelling.create(store.as_person(ALICE), str(d / "pool.csv"), str(d / "start.csv"),
                         config=_config(tiny_bert, d))
    pid = _alices_project(store, tiny_bert, d)
    a, b = store.as_person(ALICE), store.as_person(BOB)
    assert [p["id"] for p in labelling.list_projects(a)] == [pid] and labelling.list_projects(b) == []
    record = labelling.next_round(a, pid, 4, "margin")
    for call in (lambda: labelling.describe(b, pid), lambda: labelling.next_round(b, pid, 4, "margin"),
                 lambda: labelling.save_labels(b, pid, 1, {record["rows"][0]["pool_row"]: LABELS[0]}),
                 lambda: labelling.retrain(b, pid)):
        with pytest.raises(RunError, match=f"No labelling project {pid} on this server"):
            call()
    assert all(not row["label"] for row in labelling.rounds(a, pid)[0]["rows"])


def test_two_people_labelling_one_round_at_once_keep_every_label(store, tiny_bert, files):
    d, truth = files
    pid = _alices_project(store, tiny_bert, d)
    a = store.as_person(ALICE)
    rows = labelling.next_round(a, pid, 40, "margin")["rows"]
    barrier = threading.Barrier(len(rows))
    errors = []

    def label(row):
        try:
            barrier.wait()
            labelling.save_labels(a, pid, 1, {row["pool_row"]: LABELS[row["pool_row"] % 3]})
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=label, args=(r,)) for r in rows]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    saved = {r["pool_row"]: r["label"] for r in labelling.rounds(a, pid)[0]["rows"]}
    assert saved == {r["pool_row"]: LABELS[r["pool_row"] % 3] for r in rows}, "a label was lost to another's write"
