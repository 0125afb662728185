"""Run folders and the SQLite registry: create, list, show, stop, kill, resume, delete.

A run is a folder (the truth: config, status, metrics, logs, checkpoints,
model, reports) plus a row in a registry that makes listing and queueing
cheap. The registry runs in WAL mode with short IMMEDIATE transactions, so a
crash at any moment leaves it consistent; rows are re-synced from the
folders' status.json whenever they are read.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from studio import models
from studio.base import files, runfolder
from studio.base.entity import RUNS
from studio.base.errors import ConfigError, RunError
from studio.base.policy import local_models_allowed
from studio.base.runfolder import RunFolder
from studio.base.settings import check_bounds
from studio.config import RunConfig, load_run_config
from studio.data import check_held_out, save_splits
from studio.serve import inference
from studio.tasks import get_task
from studio.training import hooks
from studio.training.features import FEATURES

RUN_ID_RE = RUNS.pattern


def default_runs_dir() -> Path:
    return Path(os.environ.get("STUDIO_RUNS_DIR") or (Path.cwd() / "runs")).resolve()


def validate_run_id(run_id: str) -> str:
    return RUNS.check_id(run_id)


SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    name TEXT,
    task TEXT,
    model TEXT,
    method TEXT,
    device TEXT,
    status TEXT NOT NULL,
    reason TEXT,
    created_at REAL,
    started_at REAL,
    finished_at REAL,
    best_metric_name TEXT,
    best_metric REAL,
    pid INTEGER,
    pid_start REAL,
    sweep TEXT
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
"""
# status.json fields that mirror into the registry row
# What a resume may change: how each step's rows are split into micro-batches and what they keep in memory, never
# the rows a step takes (the checkpoint's step count means that many rows).
RESUME_CHANGES = ("batch_size", "gradient_accumulation_steps", "gradient_checkpointing")


def resume_changes(t, changes: dict[str, Any]):
    """The training settings with `changes` applied: a new batch_size alone brings the gradient accumulation that
    keeps the effective batch; together they must keep it."""
    unknown = sorted(set(changes) - set(RESUME_CHANGES))
    if unknown:
        raise ConfigError(f"training.{unknown[0]} cannot change on resume; a resume may change "
                          f"{', '.join(RESUME_CHANGES)}. Start a new run for other changes.")
    effective = t.batch_size * t.gradient_accumulation_steps
    batch = int(changes.get("batch_size") or t.batch_size)
    if "gradient_accumulation_steps" in changes:
        accumulation = int(changes["gradient_accumulation_steps"])
    elif effective % batch == 0:
        accumulation = effective // batch
    else:
        raise ConfigError(f"training.batch_size {batch} does not divide the effective batch {effective} "
                          f"({t.batch_size} x {t.gradient_accumulation_steps}); pick a divisor of it.")
    if batch * accumulation != effective:
        raise ConfigError(f"training.batch_size {batch} x gradient_accumulation_steps {accumulation} = "
                          f"{batch * accumulation}; a resume must keep the effective batch {effective}, which the "
                          "checkpoint's step count is made of.")
    out = dataclasses.replace(t, batch_size=batch, gradient_accumulation_steps=accumulation,
                              gradient_checkpointing=bool(changes.get("gradient_checkpointing",
                                                                      t.gradient_checkpointing)))
    check_bounds(out, "training")
    return out


ANY_GPU = "cuda"  # a queued run's device while it waits for whichever GPU frees first (devices.run_devices)
MIRRORED = ("status", "reason", "device", "started_at", "finished_at", "best_metric_name", "best_metric", "pid",
            "pid_start")


def process_alive(pid: int | None, start: float | None) -> bool:
    """True while the process that wrote pid/start still runs (pid reuse safe; zombies count as dead)."""
    if not pid:
        return False
    try:
        import psutil

        p = psutil.Process(int(pid))
        if p.status() == psutil.STATUS_ZOMBIE:
            return False
        return start is None or abs(p.create_time() - float(start)) < 1.0
    except Exception:
        return False


def process_start_time(pid: int) -> float | None:
    try:
        import psutil

        return psutil.Process(pid).create_time()
    except Exception:
        return None


def worker_env() -> dict[str, str]:
    """The environment a worker runs with: this process's, unbuffered, with the studio importable."""
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    src_root = str(Path(__file__).resolve().parents[2])
    if env.get("PYTHONPATH", "").split(os.pathsep)[0] != src_root:  # a worker's own children: already first
        env["PYTHONPATH"] = src_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


@dataclass
class Store:
    """The runs folder and its registry.

    `spare` starts workers for it when set: anything with `spawn(argv, log_path, env, cwd=...) -> pid | None` (the
    app hands it a studio.runs.prewarm.Spare, whose forked workers start ~4 s sooner); without one, or when it
    cannot serve, each worker is a fresh `python -m studio.runs.worker`.
    """

    root: Path
    registry: Path | None = None
    spare: Any = field(default=None, repr=False, compare=False)
    features: tuple = field(default=FEATURES, repr=False, compare=False)

    def __post_init__(self):
        self.root = Path(self.root).resolve()
        self.registry = Path(self.registry or os.environ.get("STUDIO_REGISTRY")
                             or (self.root / "registry.sqlite")).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.registry.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.registry, timeout=30)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(SCHEMA)
            if "sweep" not in {row[1] for row in con.execute("PRAGMA table_info(runs)")}:
                con.execute("ALTER TABLE runs ADD COLUMN sweep TEXT")  # a registry from before sweeps
        finally:
            con.close()

    # ---------------------------------------------------------- db --
    @contextmanager
    def _db(self, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.registry, timeout=30, isolation_level=None)
        try:
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        finally:
            con.close()

    def run_dir(self, run_id: str) -> Path:
        return self.root / validate_run_id(run_id)

    # ------------------------------------------------------ create --
    def create(self, cfg: RunConfig, start: bool = True, check_data: bool = True, sweep: str | None = None,
               extra_files: dict[str, Any] | None = None) -> str:
        """Check the config and data, then create the folder and row and start the worker.

        All checks run before anything is written (the run features' too: studio.training.hooks), so a bad
        config or file leaves no trace. A sweep's trial names its sweep (a registry tag) and brings the file that
        connects it to the sweep (extra_files: name -> JSON written into the folder)."""
        new = self._checked(cfg, start, check_data)
        new.files.update(extra_files or {})
        with RUNS.creating(self.root) as (run_id, tmp):
            files.atomic_write_text(RunFolder(tmp).config, new.cfg.to_json())
            if new.prepared is not None:
                save_splits(new.prepared, RunFolder(tmp).data)
                files.atomic_write_json(RunFolder(tmp).data_report, new.prepared.report.to_dict())
            for name, content in new.files.items():
                files.atomic_write_json(tmp / name, content)
            now = time.time()
            files.atomic_write_json(RunFolder(tmp).status, {"status": "queued", "created_at": now, "updated_at": now,
                                                            **new.status})
        try:
            with self._db(immediate=True) as db:
                db.execute("INSERT INTO runs (id, name, task, model, method, status, created_at, sweep) "
                           "VALUES (?,?,?,?,?,?,?,?)",
                           (run_id, new.cfg.display_name(), cfg.task, new.cfg.model, cfg.method, "queued", now, sweep))
        except BaseException:
            RUNS.remove(self.root, run_id)
            raise
        if start:
            self._launch(run_id)
        for created in hooks.each(self.features, "created"):
            created(new, run_id)
        return run_id

    def _checked(self, cfg: RunConfig, start: bool, check_data: bool) -> hooks.NewRun:
        """The run about to be created, every check passed: config, machine, data, model, and each feature's."""
        cfg.validate()
        cfg.check_machine()
        task = get_task(cfg.task)
        prepared = task.prepare_data(cfg.data) if check_data else None
        share = prepared.report.cjk_share if prepared is not None else 0.0
        auto = cfg.with_base(share) is not cfg
        cfg = cfg.with_base(share).resolved()
        if prepared is not None:
            check_held_out(prepared.splits, Path(cfg.data.train).name)
            if task.check_run is not None:
                task.check_run(cfg, prepared)
        resolved = models.resolve(cfg.model, allow_local=local_models_allowed(), materialize=False)
        if isinstance(resolved, str):  # a hub id: reachable, and there, before a run folder exists
            models.check_hub(resolved)
        new = hooks.NewRun(cfg=cfg, task=task, prepared=prepared, store=self, start=start)
        if auto:
            new.status["base_picked"] = (f"model auto: {cfg.model}, the {task.name} default" + (
                f" for texts mostly in Chinese, Japanese or Korean ({share:.0%} of their words)"
                if cfg.model != task.model.default_model else ""))
        for check in hooks.each(self.features, "check"):
            check(new)
        return new

    def _launch(self, run_id: str, resume: bool = False) -> int:
        rd = self.run_dir(run_id)
        cmd = [sys.executable, "-m", "studio.runs.worker", str(rd), "--registry", str(self.registry)]
        if resume:
            cmd.append("--resume")
        env = worker_env()
        if (files.read_json(RunFolder(rd).config) or {}).get("training", {}).get("device") != "cpu":
            inference.release_gpu_memory()  # the playground's models in this process give the run their GPU memory
        pid = self.spare.spawn(cmd[3:], RunFolder(rd).log, env, cwd=self.root) if self.spare is not None else None
        if pid is None:
            pid = self._spawn(cmd, rd, env)
        st = runfolder.read_status(rd)
        if st.get("status") == "queued" and not st.get("pid"):
            runfolder.write_status(rd, "queued", pid=pid, pid_start=process_start_time(pid))
        self.sync(run_id)
        return pid

    def _spawn(self, cmd: list[str], rd: Path, env: dict[str, str]) -> int:
        with open(RunFolder(rd).log, "ab") as log:
            # Own session/process group: it outlives us, and kill reaches its children too.
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, close_fds=True, env=env, cwd=str(self.root))
        # Reap it when it ends so it never lingers as a zombie of a long-lived UI process.
        threading.Thread(target=proc.wait, daemon=True).start()
        return proc.pid

    # ---------------------------------------------------- reading --
    def sync(self, run_id: str) -> dict[str, Any]:
        """Bring the row in line with status.json; mark runs whose worker vanished as failed."""
        rd = self.run_dir(run_id)
        st = runfolder.read_status(rd)
        if _worker_gone(st):
            # Re-read: the worker may have just finished and exited between our two looks.
            st = runfolder.read_status(rd)
            if _worker_gone(st):
                was = st.get("status")
                if st.get("pid"):
                    reason = (f"The worker process (pid {st.get('pid')}) ended without reporting while {was}: it was "
                              "killed or ran out of memory. Resume continues from the last checkpoint; if memory ran "
                              "out, lower training.batch_size or training.max_length, or use LoRA.")
                else:
                    reason = "The worker never started (the process that launched it ended first); resume starts it."
                st = runfolder.write_status(rd, "failed", finished_at=time.time(), reason=reason)
        if st.get("status") in runfolder.STATUSES:
            vals = {k: st.get(k) for k in MIRRORED}
            with self._db(immediate=True) as db:
                db.execute(f"UPDATE runs SET {', '.join(f'{k}=?' for k in vals)} WHERE id=?", (*vals.values(), run_id))
        return st

    def get(self, run_id: str) -> dict[str, Any]:
        rd = self.run_dir(run_id)
        if not rd.is_dir():
            raise RunError(f"No run {run_id} in {self.root}.")
        st = self.sync(run_id)
        with self._db() as db:
            row = db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        info = dict(row) if row else {"id": run_id}
        info.update(status=st.get("status"), status_detail=st, dir=str(rd))
        try:
            info["config"] = json.loads((RunFolder(rd).config).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            info["config"] = None
        for key, fname in (("test_report", RunFolder.report.name), ("data_report", RunFolder.data_report.name)):
            p = rd / fname
            info[key] = json.loads(p.read_text()) if p.exists() else None
        return info

    def list(self) -> list[dict[str, Any]]:
        with self._db() as db:
            rows = [dict(r) for r in db.execute("SELECT * FROM runs ORDER BY seq DESC")]
        out = []
        for r in rows:
            if r["status"] in runfolder.ACTIVE or not (self.root / r["id"]).is_dir():
                if not (self.root / r["id"]).is_dir():
                    continue  # folder removed by hand: not a run any more
                st = self.sync(r["id"])
                r.update({k: st.get(k, r.get(k)) for k in MIRRORED})
            r["duration"] = _duration(r)
            out.append(r)
        return out

    # -------------------------------------------------- queue (worker side) --
    def device_busy(self, device: str) -> bool:
        """Another run of this store trains on `device` now (or is about to: it holds it)."""
        with self._db() as db:
            rows = [dict(r) for r in db.execute("SELECT id FROM runs WHERE status IN ('running','stopping')")]
        for r in rows:
            st = runfolder.read_status(self.root / r["id"])
            if st.get("device") == device and process_alive(st.get("pid"), st.get("pid_start")):
                return True
        return False

    def try_claim(self, run_id: str, device: str, per_device: int = 1) -> bool:
        """Atomically move a queued run to running when its device is free and it is first in line."""
        with self._db(immediate=True) as db:
            rows = [dict(r) for r in db.execute(
                "SELECT id, seq, status, device, pid, pid_start FROM runs "
                "WHERE status IN ('queued','running','stopping')")]
            me = next((r for r in rows if r["id"] == run_id), None)
            if me is None:
                return False
            busy = 0
            ahead = False
            for r in rows:
                if r["id"] == run_id:
                    continue
                st = runfolder.read_status(self.root / r["id"])
                alive = process_alive(st.get("pid"), st.get("pid_start"))
                if not alive:
                    continue  # a dead worker holds nothing; sync() will mark it
                theirs = st.get("device") or r["device"] or device
                # A queued run that takes any GPU stands in line for each of them.
                same = theirs == device or (theirs == ANY_GPU and device.startswith("cuda") and
                                            st.get("status") == "queued")
                if not same:
                    continue
                if st.get("status") in ("running", "stopping"):
                    busy += 1
                elif st.get("status") == "queued" and r["seq"] < me["seq"]:
                    ahead = True
            if busy >= per_device or ahead:
                return False
            now = time.time()
            # status.json first (the truth other workers read), inside the registry lock
            runfolder.write_status(self.root / run_id, "running", device=device, started_at=now, finished_at=None,
                                   reason=None)
            db.execute("UPDATE runs SET status='running', device=?, started_at=? WHERE id=?", (device, now, run_id))
        return True

    # ------------------------------------------------------- control --
    def stop(self, run_id: str) -> dict[str, Any]:
        """Graceful: the worker finishes its step, saves a checkpoint and marks the run stopped."""
        st = self.sync(run_id)
        s = st.get("status")
        if s not in runfolder.ACTIVE:
            raise RunError(f"Run {run_id} is {s}; only queued or running runs can be stopped.")
        runfolder.request_stop(self.run_dir(run_id))
        if s == "queued":
            return self.kill(run_id, reason="Stopped while queued; it never started.")
        st = runfolder.write_status(self.run_dir(run_id), "stopping")
        self.sync(run_id)
        return st

    def kill(self, run_id: str,
             reason: str = "Killed by the user; progress since the last checkpoint is lost.") -> dict[str, Any]:
        """At once: SIGKILL to the worker's whole process group."""
        rd = self.run_dir(run_id)
        st = runfolder.read_status(rd)
        if st.get("status") not in runfolder.ACTIVE:
            raise RunError(f"Run {run_id} is {st.get('status')}; there is nothing to kill.")
        pid = st.get("pid")
        if pid and process_alive(pid, st.get("pid_start")):
            try:
                os.killpg(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
            for _ in range(50):
                if not process_alive(pid, st.get("pid_start")):
                    break
                time.sleep(0.05)
        st = runfolder.write_status(rd, "stopped", reason=reason, finished_at=time.time())
        self.sync(run_id)
        return st

    def resume(self, run_id: str, changes: dict[str, Any] | None = None) -> dict[str, Any]:
        """Start a stopped or failed run again from its last checkpoint, with the same config, or with the
        training changes a checkpoint allows (RESUME_CHANGES: a smaller batch for one that ran out of memory)."""
        st = self.sync(run_id)
        if st.get("status") in runfolder.ACTIVE:
            raise RunError(f"Run {run_id} is {st.get('status')}; it is not finished, so there is nothing to resume.")
        if st.get("status") == "completed":
            raise RunError(f"Run {run_id} already completed; start a new run to train further.")
        rd = self.run_dir(run_id)
        try:
            cfg = load_run_config(rd)
        except RunError:
            cfg = None  # the worker records why it cannot run, as for any failure
        if changes and cfg is None:
            raise RunError(f"Run {run_id}'s config cannot be read, so it cannot be changed; resume it without changes.")
        if changes:
            cfg = dataclasses.replace(cfg, training=resume_changes(cfg.training, changes))
            files.atomic_write_text(RunFolder(rd).config, cfg.to_json())
        if cfg is not None:
            cfg.check_machine()  # this server may differ from the one the run started on
        runfolder.clear_stop(rd)
        runfolder.write_status(rd, "queued", reason=None, pid=None, pid_start=None, finished_at=None,
                               resumed_at=time.time(),
                               **({"resumed_with": changes} if changes else {}))
        with self._db(immediate=True) as db:
            # Back of the queue: a resumed run waits behind those already queued.
            db.execute("UPDATE runs SET seq=(SELECT MAX(seq)+1 FROM runs), status='queued' WHERE id=?", (run_id,))
        self._launch(run_id, resume=True)
        return self.sync(run_id)

    def delete(self, run_id: str) -> None:
        rd = self.run_dir(run_id)
        st = runfolder.read_status(rd) if rd.exists() else {}
        if st.get("status") in runfolder.ACTIVE and process_alive(st.get("pid"), st.get("pid_start")):
            raise RunError(f"Run {run_id} is {st.get('status')}; stop or kill it before deleting.")
        with self._db(immediate=True) as db:
            n = db.execute("DELETE FROM runs WHERE id=?", (run_id,)).rowcount
        if not RUNS.remove(self.root, run_id) and not n:
            raise RunError(f"No run {run_id} in {self.root}.")

    def wait(self, run_id: str, timeout: float = 3600, poll: float = 0.5) -> dict[str, Any]:
        """Block until the run finishes (for scripts and tests)."""
        end = time.time() + timeout
        while True:
            st = self.sync(run_id)
            if st.get("status") in runfolder.FINISHED:
                return st
            if time.time() > end:
                raise TimeoutError(f"Run {run_id} still {st.get('status')} after {timeout:.0f}s.")
            time.sleep(poll)


LAUNCH_GRACE_S = 60.0  # a run is created a moment before its worker writes its pid


def _worker_gone(st: dict[str, Any]) -> bool:
    if st.get("status") not in runfolder.ACTIVE:
        return False
    if not st.get("pid"):
        return time.time() - float(st.get("updated_at") or 0) > LAUNCH_GRACE_S
    return not process_alive(st.get("pid"), st.get("pid_start"))


def _duration(r: dict[str, Any]) -> float | None:
    if not r.get("started_at"):
        return None
    end = r.get("finished_at") or time.time()
    return max(0.0, end - r["started_at"])


def open_store(runs_dir: str | Path | None = None) -> Store:
    return Store(Path(runs_dir) if runs_dir else default_runs_dir())
