"""studio.base.runfolder: the status file's contract."""

from __future__ import annotations

from studio.base import runfolder


def test_a_training_process_cannot_revive_a_killed_run(tmp_path):
    """A rank that dies a moment after a kill writes its last "running" with if_active: the run stays stopped."""
    runfolder.write_status(tmp_path, "running", step=3)
    runfolder.write_status(tmp_path, "stopped", reason="Killed by the user")
    st = runfolder.write_status(tmp_path, "running", if_active=True, step=4)
    assert st["status"] == "stopped" and runfolder.read_status(tmp_path)["step"] == 3
    assert runfolder.write_status(tmp_path, "queued")["status"] == "queued"  # a resume may
    assert runfolder.write_status(tmp_path, "running", if_active=True, step=5)["status"] == "running"
