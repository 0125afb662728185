"""A sweep's lifecycle from outside its driver: its true status, stop, kill, resume, the list, waiting."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from studio.base import files, runfolder
from studio.base.entity import SWEEPS
from studio.base.errors import RunError
from studio.runs.store import Store, process_alive
from studio.sweeps.driver import launch
from studio.sweeps.folders import ACTIVE, SWEEP_FILE, read_status, sweep_dir, sweeps_dir, write_status


# ----------------------------------------------------------------------------------------------- control --
def _gone(st: dict[str, Any]) -> bool:
    return st.get("status") in ACTIVE and st.get("pid") and not process_alive(st.get("pid"), st.get("pid_start"))


def sync(store: Store, sweep_id: str) -> dict[str, Any]:
    """The sweep's status; one whose driver vanished while active is recorded failed (resume continues it)."""
    folder = sweep_dir(store, sweep_id)
    st = read_status(folder)
    if _gone(st):
        st = write_status(folder, "failed", finished_at=time.time(), reason=_gone_reason(st))
    return st


def status(store: Store, sweep_id: str) -> dict[str, Any]:
    """The sweep's status as it stands (a vanished driver reads failed); writes nothing."""
    st = read_status(sweep_dir(store, sweep_id))
    return {**st, "status": "failed", "reason": _gone_reason(st)} if _gone(st) else st


def _gone_reason(st: dict[str, Any]) -> str:
    return f"The sweep's driver (pid {st.get('pid')}) ended without reporting; resume continues it."


def stop(store: Store, sweep_id: str) -> dict[str, Any]:
    """Graceful: the running trial saves a checkpoint and stops; the sweep ends stopped (resume continues it)."""
    folder = sweep_dir(store, sweep_id, change=True)
    st = sync(store, sweep_id)
    if st.get("status") not in ACTIVE:
        raise RunError(f"Sweep {sweep_id} is {st.get('status')}; only a queued or running sweep can be stopped.")
    runfolder.request_stop(folder)
    return write_status(folder, "stopping")


def kill(store: Store, sweep_id: str) -> dict[str, Any]:
    """At once: the driver's process group and the running trial's worker."""
    folder = sweep_dir(store, sweep_id, change=True)
    st = sync(store, sweep_id)
    if st.get("status") not in ACTIVE:
        raise RunError(f"Sweep {sweep_id} is {st.get('status')}; there is nothing to kill.")
    if st.get("pid") and process_alive(st.get("pid"), st.get("pid_start")):
        try:
            os.killpg(int(st["pid"]), signal.SIGKILL)
        except ProcessLookupError:
            pass
    # Its running trial, and any trial run of it still active (one the driver was starting when it died).
    trials = {st.get("current_run")} | {r["id"] for r in store.list() if r.get("sweep") == sweep_id
                                          and r.get("status") in runfolder.ACTIVE}
    for run_id in sorted(t for t in trials if t):
        try:
            if store.sync(run_id).get("status") in runfolder.ACTIVE:
                store.kill(run_id, reason="Killed with its sweep; resuming the sweep resumes it.")
        except RunError:
            pass
    return write_status(folder, "stopped", reason="Killed by the user; resume continues it.", finished_at=time.time())


def resume(store: Store, sweep_id: str) -> dict[str, Any]:
    folder = sweep_dir(store, sweep_id, change=True)
    st = sync(store, sweep_id)
    if st.get("status") in ACTIVE:
        raise RunError(f"Sweep {sweep_id} is {st.get('status')}; it is not finished, so there is nothing to resume.")
    if st.get("status") == "completed":
        raise RunError(f"Sweep {sweep_id} already completed; start a new sweep to try more settings.")
    runfolder.clear_stop(folder)
    write_status(folder, "queued", reason=None, finished_at=None, pid=None, pid_start=None, resumed_at=time.time())
    launch(folder, store.spare)
    return read_status(folder)


def list_sweeps(store: Store) -> list[dict[str, Any]]:
    """Every sweep the store's person may see, newest first: id, status, trials done of asked, best value and run."""
    out = []
    root = sweeps_dir(store)
    for sweep_id in SWEEPS.visible(store.root, store.person):
        folder = root / sweep_id
        spec = files.read_json(folder / SWEEP_FILE) or {}
        st = status(store, sweep_id)
        out.append({"id": folder.name, "status": st.get("status"), "trials_done": st.get("trials_done", 0),
                    "trials": (spec.get("settings") or {}).get("trials"), "metric": spec.get("metric"),
                    "best_value": st.get("best_value"), "best_run": st.get("best_run"),
                    "model": (spec.get("config") or {}).get("model"), "created_at": spec.get("created_at")})
    return out


def wait(store: Store, sweep_id: str, timeout: float = 3600, poll: float = 1.0) -> dict[str, Any]:
    end = time.time() + timeout
    while True:
        st = status(store, sweep_id)
        if st.get("status") not in ACTIVE:
            return sync(store, sweep_id)
        if time.time() > end:
            raise TimeoutError(f"Sweep {sweep_id} still {st.get('status')} after {timeout:.0f}s.")
        time.sleep(poll)
