"""Files users hand to the studio: stored under the runs folder with generated names.

A browser upload (or an API client's file) arrives as a temporary file the web
server chose. It is copied into ``<runs_dir>/uploads`` under a name the studio
makes up, so a user-given name never becomes a path; the original name is kept
only for display, and messages that mention the stored name are rewritten to
say the name the user knows.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from studio.data import SUPPORTED, DataError, max_file_bytes, too_big

UPLOADS_DIR = "uploads"
CONFIG_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class StoredUpload:
    path: Path          # where the studio keeps it (generated name)
    display_name: str   # what the user called it, for messages only

    def explain(self, message: str) -> str:
        """Say the user's file name where a message names the stored copy."""
        return message.replace(str(self.path), self.display_name).replace(self.path.name, self.display_name)

    def to_dict(self) -> dict[str, str]:
        return {"path": str(self.path), "name": self.display_name}


def uploads_dir(runs_dir: str | Path) -> Path:
    return Path(runs_dir).resolve() / UPLOADS_DIR


def display_name(name: str | None) -> str:
    """The last part of a client-supplied name, trimmed for display (never used as a path)."""
    base = os.path.basename(str(name or "").replace("\\", "/")).strip()
    printable = "".join(ch for ch in base if ch.isprintable())
    return (printable or "upload")[:120]


def store_upload(src: str | Path, dest_dir: str | Path, original_name: str | None = None,
                 allowed: tuple[str, ...] | None = None) -> StoredUpload:
    """Copy an uploaded file into dest_dir under a generated name with a checked extension."""
    src = Path(src)
    shown = display_name(original_name or src.name)
    suffix = Path(shown).suffix.lower()
    allowed = tuple(allowed) if allowed else tuple(SUPPORTED)
    if suffix not in allowed:
        kinds = ", ".join(s.lstrip(".").upper() for s in allowed)
        raise DataError(f"{shown}: unsupported file type {suffix or '(none)'}; use {kinds}.")
    if not src.is_file():
        raise DataError(f"{shown} did not arrive; upload it again.")
    size = src.stat().st_size
    if size > max_file_bytes():
        raise DataError(too_big(shown, size))
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:10]}{suffix}"
    tmp = target.with_name(f".{target.name}.part")
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, target)  # a reader never sees half a file
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return StoredUpload(path=target, display_name=shown)


def is_within(path: str | Path, roots: list[Path]) -> bool:
    """True when path (after resolving links and '..') lies inside one of roots."""
    try:
        p = Path(path).resolve()
    except (OSError, RuntimeError):
        return False
    for root in roots:
        try:
            p.relative_to(Path(root).resolve())
            return True
        except ValueError:
            continue
    return False
