"""studio.uploads: user files are stored under generated names."""

from __future__ import annotations

import pytest

from studio import uploads
from studio.data import DataError



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
