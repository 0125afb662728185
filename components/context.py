"""What every tab needs to reach the engine: the runs store and a few folders.

Nothing here holds per-user or per-run state: runs live in their folders and
the registry, and each browser session keeps its own choices in gr.State.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from studio.base.errors import RunError
from studio.data import uploads
from studio.runs.store import Store
from studio.views import run_views


@dataclass
class StudioContext:
    store: Store
    samples: dict[str, Path]
    default_sample: str | None
    default_model: str
    default_method: str
    downloads: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="studio-downloads-")))
    _last_upload_cleanup: float = 0.0  # the first upload of a server's life cleans up

    @property
    def uploads(self) -> Path:
        return uploads.uploads_dir(self.store.root)

    def download_dir(self, keep_seconds: float = 24 * 3600) -> Path:
        """A fresh folder for one download; folders older than keep_seconds are removed on the way."""
        now = time.time()
        for old in self.downloads.glob("*"):
            try:
                if old.is_dir() and now - old.stat().st_mtime > keep_seconds:
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                pass
        folder = self.downloads / uuid.uuid4().hex[:12]
        folder.mkdir(parents=True)
        return folder

    def store_upload(self, file: str, allowed: tuple[str, ...] | None = None):
        """Keep a browser upload under a generated name (studio.data.uploads); old unused uploads go on the way,
        at most once an hour."""
        stored = uploads.store_upload(file, self.uploads, Path(file).name, allowed=allowed)
        if time.time() - self._last_upload_cleanup > 3600:
            self._last_upload_cleanup = time.time()
            uploads.remove_old_uploads(self.store.root)
        return stored

    def runs(self) -> list[dict]:
        return self.store.list()

    def run_dir(self, run_id: str | None) -> Path:
        """The folder of a picked run, or a readable error for the page."""
        if not run_id:
            raise gr.Error("Pick a run first.")
        try:
            rd = self.store.run_dir(run_id)
        except RunError as e:
            raise gr.Error(str(e)) from None
        if not rd.is_dir():
            raise gr.Error(f"Run {run_id} no longer exists; it may have been deleted in another window.")
        return rd

    def run_choices(self, only: tuple[str, ...] | None = None) -> list[tuple[str, str]]:
        """(label, id) pairs for run pickers, optionally only runs in the given statuses."""
        rows = self.runs()
        if only is not None:
            rows = [r for r in rows if r.get("status") in only]
        return [(run_views.run_label(r), r["id"]) for r in rows]

    def completed_choices(self) -> list[tuple[str, str]]:
        return self.run_choices(only=("completed",))

    def picker_update(self, current: str | None, completed_only: bool = True) -> tuple[dict, dict]:
        """(a run dropdown's update keeping `current` when it is still offered, its empty note's visibility)."""
        choices = self.completed_choices() if completed_only else self.run_choices()
        return gr.update(choices=choices, value=pick(choices, current)), gr.update(visible=not choices)


def pick(choices: list[tuple[str, str]], current: str | None) -> str | None:
    """Keep the current choice when it is still offered, else the first one."""
    ids = [c[1] for c in choices]
    if current in ids:
        return current
    return ids[0] if ids else None
