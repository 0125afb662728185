"""components.context: what the tabs share; uploads through it clean up after themselves."""

from __future__ import annotations

import os
import time

from components.context import StudioContext
from studio.runs.store import Store


def test_an_upload_removes_old_unused_ones_at_most_once_an_hour(tmp_path):
    ctx = StudioContext(store=Store(tmp_path / "runs"), samples={}, default_sample=None, default_model="minilm",
                        default_method="lora")
    src = tmp_path / "mine.csv"
    src.write_text("text,label\na,b\n")
    first = ctx.store_upload(str(src)).path
    week_ago = time.time() - 8 * 24 * 3600
    os.utime(first, (week_ago, week_ago))
    second = ctx.store_upload(str(src)).path
    assert second.exists() and first.exists(), "the first upload of the server cleaned up; the next waits an hour"
    ctx._last_upload_cleanup[0] -= 3601
    third = ctx.store_upload(str(src)).path
    assert not first.exists() and second.exists() and third.exists()
    assert ctx.store_upload(str(src)).display_name == "mine.csv"
