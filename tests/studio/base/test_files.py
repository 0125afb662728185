"""A folder written whole: readers find the old one or the new one, never half of either."""

from __future__ import annotations

import pytest

from studio.base import files


def test_the_folder_replaces_the_old_one_only_when_the_block_ends(tmp_path):
    dest = tmp_path / "model"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    with files.folder_written_whole(dest) as tmp:
        (tmp / "new.txt").write_text("new")
        assert tmp.parent == tmp_path and tmp.name.startswith(".model-")
        assert [p.name for p in dest.iterdir()] == ["old.txt"]
    assert [p.name for p in dest.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_a_failure_leaves_the_old_folder_and_no_temporary_one(tmp_path):
    dest = tmp_path / "model"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), files.folder_written_whole(dest) as tmp:
        (tmp / "half.txt").write_text("half")
        raise RuntimeError("crash mid-way")
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    assert [p.name for p in dest.iterdir()] == ["old.txt"]


def test_a_named_folder_never_takes_the_place_of_one_that_is_there_without_replace(tmp_path):
    dest, tmp = tmp_path / "r1", tmp_path / ".creating-r1"
    dest.mkdir()
    (dest / "theirs.txt").write_text("theirs")
    tmp.mkdir()
    with pytest.raises(OSError), files.folder_written_whole(dest, tmp=tmp, replace=False):
        (tmp / "mine.txt").write_text("mine")
    assert [p.name for p in dest.iterdir()] == ["theirs.txt"] and not tmp.exists()
