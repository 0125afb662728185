"""Keeping a runs folder in order: what a crash or a kill left behind is set right, and the queue keeps moving.

`recover` runs when the app starts (and from `studio recover`): a run folder the registry lost (a kill between
the folder's rename and its row) is listed again with its owner; a registry row whose folder is gone is dropped;
half-made folders (`.creating-*`, older than an hour: a creation still under way is younger) and half-removed ones
(`.deleting-*`) of runs, sweeps and labelling projects are removed, as are half-built exports (`.export-*`) left in
the runs folder (the app's own downloads go after a day: components.context.StudioContext.download_dir).

`Upkeep` is the app's thread that calls `Store.dispatch` every few seconds, so a queued run starts even when the
worker before it died without starting it.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from studio.base import files, runfolder
from studio.base.access import read_access
from studio.base.entity import LABELLING, RUNS, SWEEPS
from studio.base.runfolder import RunFolder

STALE_S = 3600.0  # a half-made folder older than this is a leftover, not a creation under way


def recover(store, now: float | None = None) -> dict[str, list[str]]:
    """Set the runs folder right after a crash; returns what was done, by kind."""
    now = time.time() if now is None else now
    done: dict[str, list[str]] = {"adopted": [], "dropped": [], "removed": []}
    for kind in (RUNS, SWEEPS, LABELLING):
        root = kind.root(store.root)
        if not root.is_dir():
            continue
        for p in root.iterdir():
            if p.name.startswith(".deleting-") or (p.name.startswith(".creating-") and _older(p, now)):
                shutil.rmtree(p, ignore_errors=True)
                done["removed"].append(str(p.relative_to(store.root)))
    for p in store.root.glob(".export-*"):  # an export built into the runs folder itself (`studio export --out`)
        if _older(p, now):
            shutil.rmtree(p, ignore_errors=True)
            done["removed"].append(str(p.relative_to(store.root)))
    with store._db(immediate=True) as db:
        rows = {r["id"] for r in db.execute("SELECT id FROM runs")}
        for run_id in sorted(rows):
            if not (store.root / run_id).is_dir():
                db.execute("DELETE FROM runs WHERE id=?", (run_id,))
                done["dropped"].append(run_id)
        for run_id in RUNS.ids(store.root):
            if run_id not in rows and (store.root / run_id / RunFolder.config.name).is_file():
                db.execute("INSERT INTO runs (id, name, task, model, method, status, created_at, owner, readers) "
                           "VALUES (?,?,?,?,?,?,?,?,?)", _row_of(store.root / run_id, run_id))
                done["adopted"].append(run_id)
    for run_id in done["adopted"]:
        store._sync(run_id)
    return done


def _row_of(folder: Path, run_id: str) -> tuple:
    cfg: dict[str, Any] = files.read_json(RunFolder(folder).config) or {}
    st = runfolder.read_status(folder)
    access = read_access(folder)
    status = st.get("status") if st.get("status") in runfolder.STATUSES else "failed"
    name = cfg.get("name") or f"{Path(str(cfg.get('model') or '?')).name} · {cfg.get('method')}"
    return (run_id, name, cfg.get("task"), cfg.get("model"), cfg.get("method"), status,
            st.get("created_at") or folder.stat().st_mtime, access.owner, json.dumps(list(access.readers)))


def _older(p: Path, now: float) -> bool:
    try:
        return now - p.stat().st_mtime > STALE_S
    except OSError:
        return False


class Upkeep:
    """A daemon thread that dispatches the store's queue every `every` seconds until `stop()` (or its runs folder
    is gone: a test's temporary one)."""

    def __init__(self, store, every: float = 2.0):
        self.store, self.every = store, every
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="studio-upkeep", daemon=True)

    def start(self) -> "Upkeep":
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            if not self.store.registry.exists():
                return
            try:
                self.store.dispatch()
            except (OSError, sqlite3.Error, ValueError) as e:  # a full disk, a locked registry: the next pass
                print(f"[studio] upkeep: {type(e).__name__}: {e}", flush=True)
