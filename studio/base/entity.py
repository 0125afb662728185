"""The one pattern of the studio's long-lived things: runs, sweeps and labelling projects are folders.

Each kind has ids of one shape (a prefix, the creation time, six hex digits), a folder under the runs folder,
a creation that makes the folder complete or not at all (built as `.creating-<id>`, then renamed), a listing
newest first, and a deletion that renames the folder out of the way before removing it, so a reader never sees
half of one. Runs and sweeps keep their status in the folder's status.json (studio.base.runfolder).

Each folder records its owner and readers in access.json (studio.base.access); `open` hands a person a folder
only when they may see it (or change it), and `visible` lists only theirs, so every feature built on a kind
checks ownership in the same place.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from studio.base import files
from studio.base.access import Access, Person, check_change, check_see, read_access, write_access
from studio.base.errors import RunError


@dataclass(frozen=True)
class FolderKind:
    """A kind of thing kept as a folder: `noun` in messages, ids `<prefix>YYYYMMDD-HHMMSS-xxxxxx`, folders in
    `<runs folder>/<subdir>` (the runs folder itself for an empty subdir)."""

    noun: str
    prefix: str = ""
    subdir: str = ""

    @property
    def pattern(self) -> re.Pattern:
        return re.compile(rf"^{re.escape(self.prefix)}[0-9]{{8}}-[0-9]{{6}}-[0-9a-f]{{6}}$")

    def new_id(self) -> str:
        return f"{self.prefix}{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"

    def is_id(self, value) -> bool:
        return isinstance(value, str) and bool(self.pattern.match(value))

    def check_id(self, value) -> str:
        """The id as given, or a RunError: every id that reaches a path is checked (no `../`, no other kind's id)."""
        if not self.is_id(value):
            raise RunError(f"{value!r} is not a {self.noun} id (they look like {self.prefix}20261130-142455-3fa2b1).")
        return value

    def root(self, runs_root: Path) -> Path:
        return Path(runs_root) / self.subdir if self.subdir else Path(runs_root)

    def folder(self, runs_root: Path, entity_id: str) -> Path:
        return self.root(runs_root) / self.check_id(entity_id)

    def ids(self, runs_root: Path) -> list[str]:
        """Every id of this kind with a folder, newest first."""
        root = self.root(runs_root)
        return sorted((p.name for p in root.iterdir() if p.is_dir() and self.is_id(p.name)), reverse=True) \
            if root.is_dir() else []

    def open(self, runs_root: Path, entity_id, person: Person, change: bool = False) -> Path:
        """The folder of a thing `person` may see (or, with change, change); otherwise the sentence a missing thing
        gets (or, for what they may only look at, why they cannot change it)."""
        folder = self.folder(runs_root, entity_id)
        if not folder.is_dir():
            raise RunError(f"No {self.noun} {entity_id} on this server.")
        (check_change if change else check_see)(read_access(folder), person, self.noun, entity_id)
        return folder

    def visible(self, runs_root: Path, person: Person) -> list[str]:
        """Every id of this kind `person` may see, newest first."""
        return [i for i in self.ids(runs_root)
                if person.sees_all or read_access(self.folder(runs_root, i)).can_see(person)]

    @contextmanager
    def creating(self, runs_root: Path, access: Access | None = None) -> Iterator[tuple[str, Path]]:
        """(new id, a temporary folder to fill, its access.json written); renamed into place when the block ends,
        removed if it raises."""
        entity_id = self.new_id()
        root = self.root(runs_root)
        tmp = root / f".creating-{entity_id}"
        tmp.mkdir(parents=True)
        # replace=False: a new id never takes the place of a folder that is there already.
        with files.folder_written_whole(root / entity_id, tmp=tmp, replace=False):
            write_access(tmp, access or Access())
            yield entity_id, tmp

    def remove(self, runs_root: Path, entity_id: str) -> bool:
        """Delete the folder (renamed away first); False when there was none."""
        folder = self.folder(runs_root, entity_id)
        if not folder.exists():
            return False
        trash = folder.parent / f".deleting-{entity_id}"
        os.replace(folder, trash)
        shutil.rmtree(trash, ignore_errors=True)
        return True


RUNS = FolderKind("run")
SWEEPS = FolderKind("sweep", "s", "sweeps")
LABELLING = FolderKind("labelling project", "l", "labelling")
