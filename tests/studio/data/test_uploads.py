"""studio.data.uploads: user files are stored under generated names."""

from __future__ import annotations

import json
import os
import time

import pytest

from studio.data import DataError, uploads


def test_store_upload_uses_a_generated_name(tmp_path):
    src = tmp_path / "evil name.csv"
    src.write_text("text,label\nhello,a\n")
    stored = uploads.store_upload(src, tmp_path / "uploads", original_name="../../etc/evil name.csv")
    assert stored.path.parent == tmp_path / "uploads" and stored.path.suffix == ".csv"
    assert "evil" not in stored.path.name and stored.display_name == "evil name.csv"
    assert stored.explain(f"{stored.path.name} line 3 is bad") == "evil name.csv line 3 is bad"
    with pytest.raises(DataError, match="unsupported file type .exe"):
        uploads.store_upload(src, tmp_path / "uploads", original_name="tool.exe")


def test_is_within_resolves_dot_dot(tmp_path):
    root = tmp_path / "uploads"
    root.mkdir()
    assert uploads.is_within(root / "a.csv", [root])
    assert not uploads.is_within(root / ".." / "a.csv", [root])


def test_old_uploads_no_run_uses_are_removed(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    folder = uploads.uploads_dir(runs)
    src = tmp_path / "mine.csv"
    src.write_text("text,label\na,b\n")
    old_unused, old_used, fresh = (uploads.store_upload(src, folder).path for _ in range(3))
    (folder / ".x.csv.part").write_text("half")  # a crash mid-copy
    run = runs / "20260101-000000-abcdef"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"data": {"train": str(old_used)}}))
    now = time.time()
    for p in (old_unused, old_used, folder / ".x.csv.part"):
        os.utime(p, (now - 8 * 24 * 3600, now - 8 * 24 * 3600))
    assert sorted(uploads.remove_old_uploads(runs, now=now)) == sorted([old_unused, folder / ".x.csv.part"])
    assert old_used.exists() and fresh.exists() and not old_unused.exists()
    # Kept for as long as the operator says; 0 keeps everything.
    os.utime(fresh, (now - 3 * 3600, now - 3 * 3600))
    monkeypatch.setenv(uploads.MAX_AGE_ENV, "2")
    assert uploads.remove_old_uploads(runs, now=now) == [fresh]
    monkeypatch.setenv(uploads.MAX_AGE_ENV, "0")
    os.utime(old_used, (0, 0))
    (run / "config.json").unlink()
    assert uploads.remove_old_uploads(runs, now=now) == [] and old_used.exists()
