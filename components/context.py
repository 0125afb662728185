"""What every tab needs to reach the engine: the runs store as the asking person sees it, and a few folders.

Nothing here holds per-user or per-run state: runs live in their folders and the registry, and each browser
session keeps its own choices in gr.State. The app's own context acts for nobody (a visitor of a read-only
demo); `ui.bind` hands each event a copy for the person behind it (`for_person`), so a handler can only see and
change what that person may.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

import gradio as gr
from gradio import utils as gradio_utils

from components.identity import Identity
from studio.base import limits
from studio.base.access import LOCAL, Person
from studio.base.errors import DataError, LimitError, RunError
from studio.data import uploads
from studio.runs import quotas
from studio.runs.store import Store
from studio.views import run_views


def received(file) -> Path:
    """A file an event brought, which must be one the client uploaded: in gradio's upload folder. (Gradio hands a
    handler the path an API client's file handle names without always checking it came through the upload route:
    a handle naming /etc/passwd, or another person's upload, must not be read.)"""
    p = Path(str(file))
    if not uploads.is_within(p, [Path(gradio_utils.get_upload_folder())]):
        raise DataError(f"{uploads.display_name(p.name)} did not arrive as an upload; send the file itself.")
    return p


def downloads_root(runs_root: Path) -> Path:
    """The temporary folder this runs folder's downloads go to: the same one after a restart, so leftovers of the
    last server are swept by the next (gradio serves files from the system's temporary folder)."""
    digest = hashlib.sha256(str(Path(runs_root).resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"studio-downloads-{digest}"


@dataclass
class StudioContext:
    store: Store
    samples: dict[str, Path]
    default_sample: str | None
    default_model: str
    default_method: str
    downloads: Path | None = None
    identity: Identity = field(default_factory=Identity)
    person: Person = LOCAL
    _last_upload_cleanup: list = field(default_factory=lambda: [0.0])  # shared by the per-person copies

    def __post_init__(self):
        if self.downloads is None:
            self.downloads = downloads_root(self.store.root)
        if self.store.person != self.person:
            self.store = self.store.as_person(self.person)

    def for_person(self, person: Person) -> "StudioContext":
        """This context acting for `person`: their store, uploads and downloads."""
        return replace(self, store=self.store.as_person(person), person=person)

    @property
    def uploads(self) -> Path:
        return uploads.uploads_dir(self.store.root, self.person)

    @property
    def limits(self) -> limits.Limits:
        return self.store.person_limits()

    def download_dir(self, keep_seconds: float = 24 * 3600) -> Path:
        """A fresh folder for one of this person's downloads, within their disk limit (downloads count, as they are
        kept a day); folders older than keep_seconds (half-built exports of a server that was killed among them) are
        removed on the way."""
        now = time.time()
        for old in self.downloads.glob("*/*"):
            try:
                if old.is_dir() and now - old.stat().st_mtime > keep_seconds:
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                pass
        quotas.check_disk(self.store, self.person, self.limits, also=(self.downloads / self.person.key,))
        folder = self.downloads / self.person.key / uuid.uuid4().hex[:12]
        folder.mkdir(parents=True)
        return folder

    def store_upload(self, file: str, allowed: tuple[str, ...] | None = None, made_here: bool = False):
        """Keep a browser upload under a generated name in the person's own uploads (studio.data.uploads), within
        their limits; old unused uploads go on the way, at most once an hour. made_here: a file the studio itself
        wrote for the person (a reviewed copy), not one a client sent."""
        self.person.check_can_write()
        file = str(file if made_here else received(file))
        lim = self.limits
        size = Path(file).stat().st_size if Path(file).is_file() else 0
        quotas.check_disk(self.store, self.person, lim, adding=size)
        max_bytes = int(lim.upload_mb * 1024 * 1024) if lim.upload_mb is not None else None
        if max_bytes is not None and size > max_bytes:
            from studio.data.reading import too_big

            raise LimitError(too_big(uploads.display_name(Path(file).name), size, max_bytes))
        stored = uploads.store_upload(file, self.uploads, Path(file).name, allowed=allowed, max_bytes=max_bytes)
        if time.time() - self._last_upload_cleanup[0] > 3600:
            self._last_upload_cleanup[0] = time.time()
            uploads.remove_old_uploads(self.store.root)
        return stored

    def runs(self) -> list[dict]:
        return self.store.list()

    def run_dir(self, run_id: str | None) -> Path:
        """The folder of a picked run the person may see, or a readable error for the page."""
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
