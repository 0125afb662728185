"""A sweep's folder: `<runs>/sweeps/<id>/` with sweep.json (what was asked), status.json (where it stands),
optuna.sqlite (Optuna's study) and sweep.log (its driver's output)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.base import runfolder
from studio.base.entity import SWEEPS

SWEEP_FILE = "sweep.json"
STUDY_FILE = "optuna.sqlite"
LOG_FILE = "sweep.log"
ACTIVE = runfolder.ACTIVE


def sweeps_dir(store) -> Path:
    return SWEEPS.root(store.root)


def sweep_dir(store, sweep_id: str, change: bool = False) -> Path:
    """The folder of a sweep the store's person may see (with change: may stop, kill or resume)."""
    return SWEEPS.open(store.root, sweep_id, store.person, change=change)


def is_sweep_id(text: str) -> bool:
    return SWEEPS.is_id(text)


def storage_url(folder: Path) -> str:
    return f"sqlite:///{Path(folder).resolve() / STUDY_FILE}"


def read_status(folder: Path) -> dict[str, Any]:
    return runfolder.read_status(folder)


def write_status(folder: Path, status: str, **fields: Any) -> dict[str, Any]:
    return runfolder.write_status(folder, status, **fields)
