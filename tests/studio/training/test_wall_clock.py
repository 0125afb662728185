"""A run trains at most as long as its server's policy allows at a stretch: it then saves a checkpoint and stops,
saying why, and a resume continues from there."""

from __future__ import annotations

import pytest

from studio.base import limits as policy
from studio.base import runfolder
from studio.base.access import Person
from studio.config import RunConfig
from tests.studio.runs.test_ownership import their_file
from tests.support import tiny_config


@pytest.mark.slow
def test_a_run_past_its_wall_clock_stops_with_a_checkpoint_and_the_reason(store, tiny_bert, separable_csv):
    store.limits = policy.OPEN.changed(wall_minutes=0.03)  # about two seconds
    alice = store.as_person(Person("alice"))
    run_id = alice.create(RunConfig.from_dict(tiny_config(tiny_bert, their_file(store, Person("alice"), separable_csv),
                                                          epochs=400, batch_size=4, logging_steps=50)))
    st = alice.wait(run_id, timeout=240)
    assert st["status"] == "stopped", st
    assert "lets a run train for 0.03 minutes" in st["reason"]
    assert "resume queues it again" in st["reason"]
    rd = alice.run_dir(run_id)
    assert any((p / "trainer_state.json").exists() for p in (rd / "checkpoints").glob("checkpoint-*"))
    assert 0 < st["step"] < st["max_steps"] and not (rd / "model").exists()
    assert runfolder.read_status(rd)["limits"]["wall_minutes"] == 0.03
