"""Files and folders written so that no reader sees half of one: write a temp file (or folder) beside it, then
rename it into place; JSON without NaN."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


@contextmanager
def folder_written_whole(dest: Path, tmp: Path | None = None, replace: bool = True) -> Iterator[Path]:
    """A temporary folder beside `dest` to fill in the block; when the block ends it is renamed to `dest`, so
    readers find dest whole or not at all, and it is removed if the block raises. `tmp` is a folder the caller
    has made under a name others look for (rather than a fresh hidden one); with replace=False an existing
    dest is never removed: the rename fails instead."""
    dest = Path(dest)
    if tmp is None:
        tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}-"))
    try:
        yield tmp
        if replace and dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(json_safe(data), indent=2))


def json_safe(v: Any) -> Any:
    """JSON has no NaN or infinity: they become null, so every reader can parse the file; numpy and torch
    scalars become numbers."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {str(k): json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_safe(x) for x in v]
    if hasattr(v, "item") and callable(v.item):
        try:
            return json_safe(v.item())
        except Exception:
            return str(v)
    return v


def read_json(path: Path) -> Any:
    """A JSON file, or None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


_LOCAL_LOCKS: dict[str, Any] = {}


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing) for the block: other processes and threads that lock
    the same path wait. A read-change-write of a shared file inside it loses nobody's change."""
    import threading

    path = Path(path)
    key = str(path.resolve())
    thread_lock = _LOCAL_LOCKS.setdefault(key, threading.Lock())  # flock does not exclude threads of one process
    with thread_lock:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX)
            except ImportError:  # not POSIX: the thread lock is all there is
                pass
            yield
        finally:
            os.close(fd)  # closing releases the flock
