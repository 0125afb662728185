"""Files users hand to the studio: stored under the runs folder with generated names, in their owner's folder.

A browser upload (or an API client's file) arrives as a temporary file the web
server chose. It is copied into ``<runs_dir>/uploads`` (each signed-in person's
into ``uploads/people/<name>``, so one person's files are never another's) under a
name the studio makes up, so a user-given name never becomes a path; the original
name is kept only for display, and messages that mention the stored name are
rewritten to say the name the user knows.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from studio.base.access import Person
from studio.base.errors import DataError
from studio.data.reading import SUPPORTED, max_file_bytes, too_big

UPLOADS_DIR = "uploads"
PEOPLE_DIR = "people"  # under UPLOADS_DIR: one folder per signed-in person
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


def uploads_dir(runs_dir: str | Path, person: Person | None = None) -> Path:
    """Where `person`'s uploads go: the machine itself (or no one named) in uploads/, anyone else in their own."""
    root = Path(runs_dir).resolve() / UPLOADS_DIR
    if person is None or person.trusted:
        return root
    return root / PEOPLE_DIR / person.key


def display_name(name: str | None) -> str:
    """The last part of a client-supplied name, trimmed for display (never used as a path)."""
    base = os.path.basename(str(name or "").replace("\\", "/")).strip()
    printable = "".join(ch for ch in base if ch.isprintable())
    return (printable or "upload")[:120]


def store_upload(src: str | Path, dest_dir: str | Path, original_name: str | None = None,
                 allowed: tuple[str, ...] | None = None, max_bytes: int | None = None) -> StoredUpload:
    """Copy an uploaded file into dest_dir under a generated name with a checked extension (and at most max_bytes,
    the server's limit by default)."""
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
    if size > (max_bytes if max_bytes is not None else max_file_bytes()):
        raise DataError(too_big(shown, size, max_bytes))
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


MAX_AGE_ENV = "STUDIO_UPLOAD_MAX_AGE_HOURS"
DEFAULT_MAX_AGE_HOURS = 7 * 24


def max_age_seconds() -> float | None:
    """How long an upload no run uses is kept (STUDIO_UPLOAD_MAX_AGE_HOURS, default a week; 0 keeps them all)."""
    raw = os.environ.get(MAX_AGE_ENV, "").strip()
    try:
        hours = float(raw) if raw else DEFAULT_MAX_AGE_HOURS
    except ValueError:
        hours = DEFAULT_MAX_AGE_HOURS
    return hours * 3600 if hours > 0 else None


def files_runs_use(runs_dir: str | Path) -> set[Path]:
    """The data files named by the run configs under runs_dir (a run's own splits live in its folder, but its
    config still points at the file it was made from, and the Runs tab shows and reuses that config)."""
    import json

    used: set[Path] = set()
    for cfg in Path(runs_dir).glob("*/config.json"):
        try:
            data = json.loads(cfg.read_text(encoding="utf-8")).get("data") or {}
        except (OSError, ValueError, AttributeError):
            continue
        for key in ("train", "validation", "test"):
            if isinstance(data.get(key), str) and data[key]:
                used.add(Path(data[key]).resolve())
    return used


def remove_old_uploads(runs_dir: str | Path, max_age: float | None = None, now: float | None = None) -> list[Path]:
    """Delete uploads older than max_age seconds (default: max_age_seconds()) that no run's config names, and
    half-copied files a crash left; returns what was removed. A public server would otherwise keep every
    file anyone ever uploaded."""
    max_age = max_age_seconds() if max_age is None else max_age
    folder = uploads_dir(runs_dir)
    if max_age is None or not folder.is_dir():
        return []
    now = time.time() if now is None else now
    used = files_runs_use(runs_dir)
    removed = []
    for p in folder.rglob("*"):
        try:
            if not p.is_file() or now - p.stat().st_mtime <= max_age or p.resolve() in used:
                continue
            p.unlink()
            removed.append(p)
        except OSError:  # another server process removed it first, or it is not ours to remove
            continue
    return removed
