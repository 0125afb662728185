"""components.context: what the tabs share; uploads through it clean up after themselves."""

from __future__ import annotations

import os
import time
from pathlib import Path

from components.context import StudioContext
from studio.runs.store import Store
from tests.components.ui_support import as_upload


def test_an_upload_removes_old_unused_ones_at_most_once_an_hour(tmp_path):
    ctx = StudioContext(store=Store(tmp_path / "runs"), samples={}, default_sample=None, default_model="minilm",
                        default_method="lora")
    src = tmp_path / "mine.csv"
    src.write_text("text,label\na,b\n")
    src = as_upload(src)  # where gradio keeps uploads: the context reads files from there only
    first = ctx.store_upload(str(src)).path
    week_ago = time.time() - 8 * 24 * 3600
    os.utime(first, (week_ago, week_ago))
    second = ctx.store_upload(str(src)).path
    assert second.exists() and first.exists(), "the first upload of the server cleaned up; the next waits an hour"
    ctx._last_upload_cleanup[0] -= 3601
    third = ctx.store_upload(str(src)).path
    assert not first.exists() and second.exists() and third.exists()
    assert ctx.store_upload(str(src)).display_name == "mine.csv"


def test_a_file_handle_that_names_a_server_path_is_never_read(tmp_path):
    """Gradio may hand a handler whatever path an API client's file handle names: only its upload folder counts."""
    import pytest

    from studio.base.errors import DataError

    ctx = StudioContext(store=Store(tmp_path / "runs"), samples={}, default_sample=None, default_model="minilm",
                        default_method="lora")
    secret = tmp_path / "host-secret.csv"
    secret.write_text("text,label\nsecret,x\n")
    link = Path(as_upload(secret)).with_name("link.csv")
    link.symlink_to(secret)  # inside the upload folder, pointing out of it
    for path in (secret, "/etc/passwd", link):
        with pytest.raises(DataError, match="did not arrive as an upload"):
            ctx.store_upload(str(path))
    assert not (tmp_path / "runs" / "uploads").exists() or not list((tmp_path / "runs" / "uploads").rglob("*.csv"))
