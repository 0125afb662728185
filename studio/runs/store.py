"""Run folders and the SQLite registry: create, list, show, stop, kill, resume, delete, share; the queue.

A run is a folder (the truth: config, status, owner, metrics, logs, checkpoints, model, reports) plus a row in a
registry that makes listing and queueing cheap. The registry runs in WAL mode with short IMMEDIATE transactions, so
a crash at any moment leaves it consistent; a run folder the registry lost is adopted again (studio.runs.recovery).

A Store acts for one person (`person`; the machine itself, `LOCAL`, by default, which sees every run): it lists what
they may see, and refuses what they may not do, with the sentence a missing run gets where they may not see it.
The app hands each request a Store for the person asking (`as_person`).

Queued runs wait in the registry, not in processes: `dispatch` claims the first queued run whose device is free (in
the order they were queued; a person's runs beyond their running limit let others go first) and only then starts its
worker. Creating, resuming, stopping or killing a run dispatches, a worker dispatches as it ends, and the app
dispatches every few seconds, so a worker that died unseen still frees its device.

Reading (`status`, `get`, `list`) writes nothing: a worker that vanished reads as failed; `sync` records it.
"""

from __future__ import annotations

import copy
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
from studio.base import files, limits, runfolder, secrets
from studio.base.access import LOCAL, Access, Person, check_change, check_see, owned_by, read_access, write_access
from studio.base.cluster_address import cluster_storage, ray_address
from studio.base.devices import gpus_in, ranks_here, run_devices
from studio.base.entity import RUNS
from studio.base.errors import ConfigError, RunError
from studio.base.runfolder import RunFolder
from studio.base.settings import check_bounds
from studio.config import RunConfig, load_run_config
from studio.data import check_held_out, save_splits
from studio.runs import quotas
from studio.runs.cluster import executor as cluster_executor
from studio.serve import inference
from studio.tasks import get_task
from studio.training import hooks, lengths, memory
from studio.training.features import FEATURES


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
    sweep TEXT,
    owner TEXT,
    readers TEXT
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
"""
ADDED_COLUMNS = ("sweep", "owner", "readers")  # columns a registry from an older studio gains when opened
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


MIRRORED = ("status", "reason", "device", "started_at", "finished_at", "best_metric_name", "best_metric", "pid",
            "pid_start")
LAUNCH_GRACE_S = 60.0  # a run is claimed a moment before its worker writes its pid
# Hub tokens of the people signed in through this process, for the workers of their runs: kept in memory only, by
# run id, while the run may still start (a worker gets its owner's token in its environment, never on disk).
TOKENS: dict[str, str] = {}


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
    """The environment a worker runs with: this process's, unbuffered, with the studio importable, and none of the
    server's secrets (a run that may use them gets them from Store._launch)."""
    env = secrets.without_secrets(dict(os.environ))
    env.setdefault("PYTHONUNBUFFERED", "1")
    src_root = str(Path(__file__).resolve().parents[2])
    if env.get("PYTHONPATH", "").split(os.pathsep)[0] != src_root:  # a worker's own children: already first
        env["PYTHONPATH"] = src_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


@dataclass
class Store:
    """The runs folder and its registry, as seen by one person.

    `spare` starts workers for it when set: anything with `spawn(argv, log_path, env, cwd=...) -> pid | None` (the
    app hands it a studio.runs.prewarm.Spare, whose forked workers start ~4 s sooner); without one, or when it
    cannot serve, each worker is a fresh `python -m studio.runs.worker`. `limits` are the server's (studio.base.
    limits; by default those of the environment), which apply to people who are not admins.
    """

    root: Path
    registry: Path | None = None
    spare: Any = field(default=None, repr=False, compare=False)
    features: tuple = field(default=FEATURES, repr=False, compare=False)
    person: Person = field(default=LOCAL, compare=False)
    limits: limits.Limits | None = field(default=None, repr=False, compare=False)
    # The Ray cluster queued runs go to (studio.runs.cluster); None: this machine's own queue.
    cluster: str | None = field(default_factory=ray_address, compare=False)
    # Object storage run folders travel through to the cluster's nodes (studio.runs.cluster.bucket); None: the
    # nodes mount the runs folder itself.
    cluster_storage: str | None = field(default_factory=cluster_storage, compare=False, repr=False)

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
            have = {row[1] for row in con.execute("PRAGMA table_info(runs)")}
            for column in ADDED_COLUMNS:
                if column not in have:
                    con.execute(f"ALTER TABLE runs ADD COLUMN {column} TEXT")
        finally:
            con.close()

    def as_person(self, person: Person) -> "Store":
        """This store acting for `person` (same folder, registry and spare)."""
        other = copy.copy(self)
        other.person = person
        return other

    def person_limits(self, person: Person | None = None) -> limits.Limits:
        """The limits `person` (default: this store's) works under: none for admins and the machine itself."""
        person = person or self.person
        return limits.OPEN if person.sees_all else (self.limits or limits.current())

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

    # ------------------------------------------------------ access --
    def folder(self, run_id: str) -> Path:
        """A run's folder by id, checked to be a run id; no ownership check (the worker's and the store's own)."""
        return self.root / validate_run_id(run_id)

    def access(self, run_id: str) -> Access:
        return read_access(self.folder(run_id))

    def run_dir(self, run_id: str) -> Path:
        """The folder of a run this store's person may see (a RunError, as for a missing run, otherwise)."""
        rd = self.folder(run_id)
        if not self.person.sees_all:
            if not rd.is_dir():
                raise RunError(f"No run {run_id} on this server.")
            check_see(read_access(rd), self.person, "run", run_id)
        return rd

    def changeable(self, run_id: str) -> Path:
        """The folder of a run this store's person may change (its owner, an admin); a RunError otherwise."""
        rd = self.run_dir(run_id)
        if not rd.is_dir():
            raise RunError(f"No run {run_id} on this server.")
        return self._changeable(run_id)

    def _changeable(self, run_id: str) -> Path:
        rd = self.run_dir(run_id)
        if rd.is_dir():
            check_change(read_access(rd), self.person, "run", run_id)
        else:
            self.person.check_can_write()
        return rd

    def share(self, run_id: str, readers: tuple[str, ...]) -> Access:
        """Let others look at a run (read-only): names, or access.EVERYONE; an empty tuple makes it private again."""
        rd = self._changeable(run_id)
        access = read_access(rd)
        if access.owner is None and not self.person.sees_all:
            raise RunError(f"Run {run_id} has no owner; only an admin can share it.")
        access = access.shared_with(readers)
        write_access(rd, access)
        with self._db(immediate=True) as db:
            db.execute("UPDATE runs SET readers=? WHERE id=?", (json.dumps(list(access.readers)), run_id))
        return access

    # ------------------------------------------------------ create --
    def create(self, cfg: RunConfig, start: bool = True, check_data: bool = True, sweep: str | None = None,
               extra_files: dict[str, Any] | None = None) -> str:
        """Check the config, data and the person's limits, then create the folder and row, and queue it.

        All checks run before anything is written (the run features' too: studio.training.hooks), so a bad
        config or file leaves no trace. A sweep's trial names its sweep (a registry tag) and brings the file that
        connects it to the sweep (extra_files: name -> JSON written into the folder)."""
        self.person.check_can_write()
        new = self._checked(cfg, start, check_data)
        new.files.update(extra_files or {})
        access = owned_by(self.person)
        with RUNS.creating(self.root, access) as (run_id, tmp):
            files.atomic_write_text(RunFolder(tmp).config, new.cfg.to_json())
            if new.prepared is not None:
                save_splits(new.prepared, RunFolder(tmp).data)
                files.atomic_write_json(RunFolder(tmp).data_report, new.prepared.report.to_dict())
            for name, content in new.files.items():
                files.atomic_write_json(tmp / name, content)
            now = time.time()
            files.atomic_write_json(RunFolder(tmp).status, {"status": "queued", "created_at": now, "updated_at": now,
                                                            **self._launch_terms(), **new.status})
        try:
            with self._db(immediate=True) as db:
                db.execute("INSERT INTO runs (id, name, task, model, method, status, created_at, sweep, owner, readers)"
                           " VALUES (?,?,?,?,?,?,?,?,?,?)",
                           (run_id, new.cfg.display_name(), cfg.task, new.cfg.model, cfg.method, "queued", now, sweep,
                            access.owner, "[]"))
        except BaseException:
            RUNS.remove(self.root, run_id)
            raise
        self._hold_token(run_id)
        if start:
            self.dispatch()
        for created in hooks.each(self.features, "created"):
            for follow in hooks.queued(created(new, run_id)):
                self._queue_behind(run_id, follow, start)
        return run_id

    def _queue_behind(self, run_id: str, follow: hooks.QueueRun, start: bool) -> str:
        """The run a feature asked for behind `run_id` (a distilled run's labels-only comparison): created here, as
        any run of this person is, and named in `run_id`'s file."""
        follow_id = self.create(follow.cfg, start=start)
        path = self.folder(run_id) / follow.named_in.name
        files.atomic_write_json(path, {**(files.read_json(path) or {}), follow.key: follow_id})
        return follow_id

    def _launch_terms(self, person: Person | None = None) -> dict[str, Any]:
        """What a new (or resumed) run records of the person it works for: the limits its worker keeps (the wall
        clock, how many of the owner's runs train at once) and which secrets its worker may have."""
        person = person or self.person
        lim = self.person_limits(person)
        own_token = bool(person.token) and not person.trusted
        uses = "server" if (person.sees_all or lim.server_secrets) and not own_token else (
            "own" if own_token else "none")
        return {"limits": {"wall_minutes": lim.wall_minutes, "runs_running": lim.runs_running}, "secrets": uses}

    def _hold_token(self, run_id: str) -> None:
        """Keep the person's own hub token in this process for their run's worker (the dispatchers of other
        processes leave the run to this one while it lives)."""
        if self.person.token and not self.person.trusted:
            TOKENS[run_id] = self.person.token
            rd = self.folder(run_id)
            runfolder.write_status(rd, runfolder.read_status(rd)["status"], if_active=True,
                                   token_held_by={"pid": os.getpid(), "pid_start": process_start_time(os.getpid())})

    def _checked(self, cfg: RunConfig, start: bool, check_data: bool) -> hooks.NewRun:
        """The run about to be created, every check passed: config, machine, data, model, the person's limits and
        each feature's."""
        cfg.validate()
        lim = self.person_limits()
        quotas.check_config(cfg, lim)  # before the machine: what the server allows is the first thing to say
        cfg.check_machine()
        quotas.check_files(self, cfg)
        task = get_task(cfg.task)
        prepared = task.prepare_data(cfg.data) if check_data else None
        share = prepared.report.cjk_share if prepared is not None else 0.0
        auto = cfg.with_base(share) is not cfg
        cfg = cfg.with_base(share).resolved()
        if prepared is not None:
            check_held_out(prepared.splits, Path(cfg.data.train).name)
            task.check_run(cfg, prepared)
        quotas.check_models(self, cfg, lim)  # its base (and generator): theirs to use, reachable, within bounds
        cfg, picked = self._length_from_data(cfg, task, prepared, lim)
        # A distilled run queues its labels-only comparison run too (the distill feature's `created` returns it).
        quotas.check_room(self, lim, runs=2 if cfg.distill.teacher and cfg.distill.compare_alone else 1)
        new = hooks.NewRun(cfg=cfg, task=task, prepared=prepared, run_dir=self.run_dir, busy=self.busy_devices(),
                           start=start)
        if picked is not None:
            new.status["max_length_picked"] = picked
        if auto:
            new.status["base_picked"] = (f"model auto: {cfg.model}, the {task.name} default" + (
                f" for texts mostly in Chinese, Japanese or Korean ({share:.0%} of their words)"
                if cfg.model != task.model.default_model else ""))
        for check in hooks.each(self.features, "check"):
            check(new)
        return new

    def _length_from_data(self, cfg: RunConfig, task, prepared, lim) -> tuple[RunConfig, dict | None]:
        """An empty training.max_length chosen from the training records' token lengths (studio.training.lengths);
        without data or a tokenizer to count them, the length the estimate assumes, said."""
        if cfg.training.max_length is not None:
            return cfg, None
        device = memory.device_for(cfg.training, self.busy_devices())
        if prepared is not None:
            try:
                tokenizer = task.load_tokenizer(models.resolve(cfg.model))
            except Exception as e:  # noqa: BLE001 - the worker says why the model cannot load; the length falls back
                why = f"its tokenizer could not be read ({type(e).__name__})"
            else:
                train = prepared.splits["train"].head(lengths.SAMPLE)
                choice = lengths.choose(cfg, task.count_tokens(train, tokenizer), len(prepared.labels), device,
                                        lim.max_length)
                return lengths.with_length(cfg, choice.value), choice.to_dict()
        else:
            why = "the data was not read"
        value = min(memory.ASSUMED_LENGTH, lim.max_length or memory.ASSUMED_LENGTH)
        return lengths.with_length(cfg, value), {"value": value, "summary": f"max_length {value}: {why}, so not "
                                                 "chosen from the data.",
                                                 "summary_zh": f"max_length {value}：未能按数据选取。"}

    def hub_token(self) -> str | bool | None:
        """The hub token this store's person reaches the hub with: their own, the server's (None: huggingface_hub's
        default) where they may use it, else False (anonymous)."""
        if self.person.token and not self.person.trusted:
            return self.person.token
        if self.person.sees_all or self.person_limits().server_secrets:
            return secrets.server_secrets().get("HF_TOKEN") or None
        return False

    def handed_secrets(self, run_id: str) -> dict[str, Any]:
        """What this process hands a run's work on another machine (a node of a Ray cluster): which secrets it may
        use and those this process can give it, the server's where it may use them, or its owner's own hub token
        where this process holds it. Ray keeps them with the actor for its restarts; the studio writes them nowhere."""
        uses = runfolder.read_status(self.folder(run_id)).get("secrets", "server")
        if uses == "server":
            return {"uses": uses, "env": secrets.server_secrets()}
        token = TOKENS.get(run_id) if uses == "own" else None
        return {"uses": uses, "env": {"HF_TOKEN": token} if token else {}}

    @staticmethod
    def token_handed_over(run_id: str) -> None:
        TOKENS.pop(run_id, None)

    def token_held_elsewhere(self, st: dict[str, Any]) -> bool:
        """Another live process holds the owner's own hub token for this run: that one starts it."""
        holder = st.get("token_held_by") or {}
        return bool(holder.get("pid") and holder.get("pid") != os.getpid()
                    and process_alive(holder.get("pid"), holder.get("pid_start")))

    # ---------------------------------------------------- the queue --
    def dispatch(self) -> list[str]:
        """Start the worker of every queued run whose device is free and whose turn it is; the runs started.

        Runs whose worker vanished are recorded as failed first (freeing their device). On a Ray cluster every
        queued run is handed to Ray instead, which starts it where and when what it asks for is free."""
        if self.cluster:
            cluster_executor.refresh_active(self)  # what the nodes pushed, before a silent heartbeat is judged
        self.reap()
        if self.cluster:
            return cluster_executor.submit_queued(self)
        started = []
        for _ in range(64):  # a bound, not a limit: each pass claims one run or ends
            claimed = self._claim_next()
            if claimed is None:
                break
            run_id, device, resume = claimed
            try:
                self._launch(run_id, device, resume)
            except Exception as e:  # noqa: BLE001 - the run, not the caller, fails: its status says why
                runfolder.write_status(self.folder(run_id), "failed", finished_at=time.time(),
                                       reason=f"Its worker could not be started: {type(e).__name__}: {e}")
                self._sync(run_id)
                continue
            started.append(run_id)
        return started

    def reap(self) -> None:
        """Record as failed every active run whose worker vanished (best effort: a full disk leaves it to a later
        pass; reading shows them failed meanwhile)."""
        try:
            with self._db() as db:
                ids = [r["id"] for r in db.execute(
                    "SELECT id FROM runs WHERE status IN ('queued','running','stopping')")]
        except sqlite3.Error:
            return
        for run_id in ids:
            try:
                rd = self.folder(run_id)
                # Only what changed is written: a queue of many runs costs the upkeep reads, not a write each.
                if rd.is_dir() and _worker_gone(runfolder.read_status(rd), rd):
                    self._sync(run_id)
            except (OSError, sqlite3.Error, RunError):
                continue

    def claim(self, run_id: str, poll: float = 0.5) -> str | None:
        """For a worker started by hand on a queued run (`python -m studio.runs.worker RUN_DIR`): wait until the run
        may start, claim it, and return its device; None when a stop is asked for first."""
        rd = self.folder(run_id)
        announced = False
        while True:
            got = self._claim_next(only=run_id)
            if got is not None:
                return got[1]
            if runfolder.stop_requested(rd) or runfolder.read_status(rd).get("status") != "queued":
                return None
            if not announced:
                print(f"[studio] queued: waiting for {' or '.join(_devices_of(rd)[:3])} to be free", flush=True)
                announced = True
            time.sleep(poll)

    def _claim_next(self, only: str | None = None) -> tuple[str, str, bool] | None:
        """In one registry transaction: the first queued run that may start now (or only `only`, when its turn has
        come), marked running on its device."""
        per_device = int(os.environ.get("STUDIO_RUNS_PER_DEVICE", "1"))
        with self._db(immediate=True) as db:
            rows = [dict(r) for r in db.execute(
                "SELECT id, seq, status, device, owner FROM runs WHERE status IN ('queued','running','stopping') "
                "ORDER BY seq")]
            holding: dict[str, int] = {}
            running: dict[str | None, int] = {}
            for r in rows:
                st = runfolder.read_status(self.root / r["id"])
                if st.get("status") in ("running", "stopping") and not _worker_gone(st, self.root / r["id"]):
                    for gpu in gpus_in(st.get("device") or r["device"] or "cpu"):  # a group holds each of its GPUs
                        holding[gpu] = holding.get(gpu, 0) + 1
                    running[r["owner"]] = running.get(r["owner"], 0) + 1
            taken: set[str] = set()  # devices a queued run ahead waits for: later runs do not jump the line there
            for r in rows:
                rd = self.root / r["id"]
                st = runfolder.read_status(rd)
                if st.get("status") != "queued" or not rd.is_dir():
                    continue
                if r["id"] != only and process_alive(st.get("pid"), st.get("pid_start")):
                    # a worker started by hand waits for this one: it claims it
                    taken.update(g for d in _devices_of(rd) for g in gpus_in(d))
                    continue
                cap = (st.get("limits") or {}).get("runs_running")
                if r["owner"] is not None and cap and running.get(r["owner"], 0) >= cap:
                    continue  # the owner trains as many as they may: the next person's run goes first
                if self.token_held_elsewhere(st):
                    continue  # the process that holds its owner's token starts it
                if st.get("secrets", "server") == "server" and not secrets.can_hand_out():
                    continue  # the server's secrets are held by the app, which starts it
                devices = _devices_of(rd)
                free = next((d for d in devices
                             if all(g not in taken and holding.get(g, 0) < per_device for g in gpus_in(d))), None)
                if free is None or (only is not None and r["id"] != only):
                    taken.update(g for d in devices for g in gpus_in(d))
                    continue
                now = time.time()
                # status.json first (the truth other processes read), inside the registry lock
                runfolder.write_status(rd, "running", device=free, started_at=now, finished_at=None, reason=None,
                                       pid=None, pid_start=None, claimed_at=now, node=None)  # on this machine
                db.execute("UPDATE runs SET status='running', device=?, started_at=?, pid=NULL WHERE id=?",
                           (free, now, r["id"]))
                return r["id"], free, bool(st.get("resume"))
        return None

    def _launch(self, run_id: str, device: str, resume: bool = False) -> int:
        rd = self.folder(run_id)
        argv = [str(rd), "--registry", str(self.registry), "--device", device]
        if resume:
            argv.append("--resume")
        st = runfolder.read_status(rd)
        env = secrets.for_worker(worker_env(), server=st.get("secrets", "server") == "server",
                                 token=TOKENS.get(run_id) if st.get("secrets") == "own" else None)
        if hasattr(self.spare, "lend"):  # the worker starts the next queued run from the same spare when it ends
            env = self.spare.lend(env)
        if device != "cpu":
            inference.release_gpu_memory()  # the playground's models in this process give the run their GPU memory
        pid = self.spare.spawn(argv, RunFolder(rd).log, env, cwd=self.root) if self.spare is not None else None
        if pid is None:
            pid = self._spawn([sys.executable, "-m", "studio.runs.worker", *argv], rd, env)
        now = runfolder.read_status(rd)
        if now.get("status") in runfolder.ACTIVE and not now.get("pid"):  # the worker may have written its own
            runfolder.write_status(rd, now["status"], if_active=True, pid=pid, pid_start=process_start_time(pid))
        TOKENS.pop(run_id, None)
        self._sync(run_id)
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
    def status(self, run_id: str) -> dict[str, Any]:
        """The run's status.json as it stands; a run whose worker vanished reads as failed. Writes nothing."""
        rd = self.run_dir(run_id)
        if self.cluster_storage:
            cluster_executor.refresh(self, run_id)
        st = runfolder.read_status(rd)
        if _worker_gone(st, rd):
            st = {**st, "status": "failed", "reason": _gone_reason(st), "finished_at": st.get("finished_at")}
        return st

    def sync(self, run_id: str) -> dict[str, Any]:
        """Bring status.json and the row in line: a run whose worker vanished is recorded as failed."""
        self.run_dir(run_id)
        return self._sync(run_id)

    def _sync(self, run_id: str) -> dict[str, Any]:
        rd = self.folder(run_id)
        if self.cluster_storage:
            cluster_executor.refresh(self, run_id)
        st = runfolder.read_status(rd)
        if _worker_gone(st, rd):
            # Re-read: the worker may have just finished and exited between our two looks.
            st = runfolder.read_status(rd)
            if _worker_gone(st, rd):
                # On a cluster, Ray may start its work again on another node: lost_node lets it pick the run up.
                st = runfolder.write_status(rd, "failed", finished_at=time.time(), reason=_gone_reason(st),
                                            **({"lost_node": True} if _on_cluster(st) else {}))
        if st.get("status") in runfolder.STATUSES:
            vals = {k: st.get(k) for k in MIRRORED}
            with self._db(immediate=True) as db:
                db.execute(f"UPDATE runs SET {', '.join(f'{k}=?' for k in vals)} WHERE id=?", (*vals.values(), run_id))
        return st

    def get(self, run_id: str) -> dict[str, Any]:
        rd = self.run_dir(run_id)
        if not rd.is_dir():
            raise RunError(f"No run {run_id} on this server.")
        st = self.status(run_id)
        with self._db() as db:
            row = db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        info = dict(row) if row else {"id": run_id}
        info.update({k: st.get(k, info.get(k)) for k in MIRRORED})
        info.update(status=st.get("status"), status_detail=st, dir=str(rd), access=read_access(rd).to_dict())
        try:
            info["config"] = json.loads((RunFolder(rd).config).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            info["config"] = None
        for key, fname in (("test_report", RunFolder.report.name), ("data_report", RunFolder.data_report.name)):
            p = rd / fname
            info[key] = json.loads(p.read_text()) if p.exists() else None
        return info

    def list(self) -> list[dict[str, Any]]:
        """The runs this store's person may see, newest first, each with its status as it stands."""
        with self._db() as db:
            rows = [dict(r) for r in db.execute("SELECT * FROM runs ORDER BY seq DESC")]
        out = []
        for r in rows:
            if not self.person.sees_all and not _row_access(r).can_see(self.person):
                continue
            rd = self.root / r["id"]
            if not rd.is_dir():
                continue  # folder removed by hand: not a run any more
            if r["status"] in runfolder.ACTIVE:
                st = runfolder.read_status(rd)
                if _worker_gone(st, rd):
                    st = {**st, "status": "failed", "reason": _gone_reason(st)}
                r.update({k: st.get(k, r.get(k)) for k in MIRRORED})
            r["duration"] = _duration(r)
            out.append(r)
        return out

    def owned_active(self, owner: str | None) -> list[str]:
        """Ids of `owner`'s runs that are queued or training (what their active-run quota counts)."""
        with self._db() as db:
            rows = [dict(r) for r in db.execute("SELECT id FROM runs WHERE owner IS ? AND status IN "
                                                "('queued','running','stopping')", (owner,))]
        out = []
        for r in rows:
            st = runfolder.read_status(self.root / r["id"])
            if st.get("status") in runfolder.ACTIVE and not _worker_gone(st, self.root / r["id"]):
                out.append(r["id"])
        return out

    # -------------------------------------------------- queue (worker side) --
    def busy_devices(self) -> frozenset[str]:
        """The devices runs of this store train on now (or are about to: they hold them)."""
        with self._db() as db:
            rows = [dict(r) for r in db.execute("SELECT id FROM runs WHERE status IN ('running','stopping')")]
        busy = set()
        for r in rows:
            st = runfolder.read_status(self.root / r["id"])
            if _on_cluster(st):
                continue  # its device is on the node Ray placed it on, not this machine
            if st.get("device") and st.get("status") in ("running", "stopping") \
                    and not _worker_gone(st, self.root / r["id"]):
                busy.update(gpus_in(st["device"]))
        return frozenset(busy)

    # ------------------------------------------------------- control --
    def stop(self, run_id: str) -> dict[str, Any]:
        """Graceful: the worker finishes its step, saves a checkpoint and marks the run stopped (a queued run, which
        has no worker, stops at once)."""
        rd = self._changeable(run_id)
        st = self.sync(run_id)
        s = st.get("status")
        if s not in runfolder.ACTIVE:
            raise RunError(f"Run {run_id} is {s}; only queued or running runs can be stopped.")
        if s == "queued":
            if self.cluster and (st.get("cluster") or {}).get("actor"):
                cluster_executor.kill(st, self.cluster)  # its place in Ray's queue goes too
            st = runfolder.write_status(rd, "stopped", reason="Stopped while queued; it never started.",
                                        finished_at=time.time())
            TOKENS.pop(run_id, None)
            self.sync(run_id)
            return st
        runfolder.request_stop(rd)
        if _on_cluster(st):
            cluster_executor.ask_stop(self, run_id)  # through object storage where the node has no shared folder
        st = runfolder.write_status(rd, "stopping")
        self.sync(run_id)
        return st

    def kill(self, run_id: str,
             reason: str = "Killed by the user; progress since the last checkpoint is lost.") -> dict[str, Any]:
        """At once: SIGKILL to the worker's whole process group."""
        rd = self._changeable(run_id)
        st = runfolder.read_status(rd)
        if st.get("status") not in runfolder.ACTIVE:
            raise RunError(f"Run {run_id} is {st.get('status')}; there is nothing to kill.")
        pid = st.get("pid")
        if _on_cluster(st) and not self.cluster and not _worker_gone(st, rd):
            raise RunError(f"Run {run_id} trains on a node of a Ray cluster; kill it from a studio joined to that "
                           "cluster (--ray ADDRESS).")
        if self.cluster and (st.get("cluster") or {}).get("actor"):
            cluster_executor.kill(st, self.cluster)  # the actor on its node, and the worker with it
        elif pid and process_alive(pid, st.get("pid_start")) and not _on_cluster(st):
            try:
                os.killpg(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
            for _ in range(50):
                if not process_alive(pid, st.get("pid_start")):
                    break
                time.sleep(0.05)
        if st.get("status") == "queued":
            reason = "Stopped while queued; it never started."
        st = runfolder.write_status(rd, "stopped", reason=reason, finished_at=time.time())
        if _on_cluster(st):
            st = _stays_stopped(rd, reason)
        TOKENS.pop(run_id, None)
        self.sync(run_id)
        self.dispatch()
        return st

    def resume(self, run_id: str, changes: dict[str, Any] | None = None) -> dict[str, Any]:
        """Queue a stopped or failed run again; it continues from its last checkpoint, with the same config, or with
        the training changes a checkpoint allows (RESUME_CHANGES: a smaller batch for one that ran out of memory)."""
        rd = self._changeable(run_id)
        st = self.sync(run_id)
        if st.get("status") in runfolder.ACTIVE:
            raise RunError(f"Run {run_id} is {st.get('status')}; it is not finished, so there is nothing to resume.")
        if st.get("status") == "completed":
            raise RunError(f"Run {run_id} already completed; start a new run to train further.")
        quotas.check_active(self, self.person_limits())
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
        # The run works for its owner, whoever resumes it: an admin resuming another's run lends it neither their
        # own token nor, unless the owner may use them, the server's secrets.
        owner = read_access(rd).owner
        mine = owner is None or owner == self.person.name
        runfolder.write_status(rd, "queued", reason=None, pid=None, pid_start=None, finished_at=None,
                               resumed_at=time.time(), resume=True, token_held_by=None, forked=None,
                               **self._launch_terms(None if mine else Person(owner)),
                               **({"resumed_with": changes} if changes else {}))
        with self._db(immediate=True) as db:
            # Back of the queue: a resumed run waits behind those already queued.
            db.execute("UPDATE runs SET seq=(SELECT MAX(seq)+1 FROM runs), status='queued' WHERE id=?", (run_id,))
        if mine:
            self._hold_token(run_id)
        self.dispatch()
        return self.status(run_id)

    def delete(self, run_id: str) -> None:
        rd = self._changeable(run_id)
        st = runfolder.read_status(rd) if rd.exists() else {}
        if st.get("status") == "queued":  # no process yet: stopped first, so no dispatcher starts it meanwhile
            st = self.stop(run_id)
        if st.get("status") in runfolder.ACTIVE and not _worker_gone(st, rd):
            raise RunError(f"Run {run_id} is {st.get('status')}; stop or kill it before deleting.")
        with self._db(immediate=True) as db:
            n = db.execute("DELETE FROM runs WHERE id=?", (run_id,)).rowcount
        if st.get("cluster"):
            if self.cluster and st.get("status") == "failed" and st.get("lost_node"):
                cluster_executor.kill(st, self.cluster)  # Ray may still be starting its work on another node
            cluster_executor.forget_copy(self, run_id)
        if not RUNS.remove(self.root, run_id) and not n:
            raise RunError(f"No run {run_id} on this server.")

    def wait(self, run_id: str, timeout: float = 3600, poll: float = 0.5) -> dict[str, Any]:
        """Block until the run finishes (for scripts and tests)."""
        end = time.time() + timeout
        while True:
            st = self.sync(run_id)
            if st.get("status") in runfolder.FINISHED:
                return st
            if st.get("status") == "queued":
                self.dispatch()  # nobody else may be there to start it (a script's own store)
            if time.time() > end:
                raise TimeoutError(f"Run {run_id} still {st.get('status')} after {timeout:.0f}s.")
            time.sleep(poll)


def _devices_of(rd: Path) -> list[str]:
    """The devices a queued run may take (a config that cannot be read: the CPU; its worker then says why)."""
    training = (files.read_json(RunFolder(rd).config) or {}).get("training") or {}
    try:
        here = ranks_here(training.get("num_processes"), training.get("num_machines"))
        return run_devices(str(training.get("device", "auto")), here)
    except (TypeError, ValueError):
        return ["cpu"]


def _row_access(row: dict[str, Any]) -> Access:
    try:
        readers = tuple(json.loads(row.get("readers") or "[]"))
    except ValueError:
        readers = ()
    return Access(row.get("owner"), readers)


def _stays_stopped(rd: Path, reason: str, within: float = 5.0) -> dict[str, Any]:
    """A killed cluster run's ranks end a moment after its actor (Ray ends a dead driver's workers itself), and a
    rank that read the status just before the kill was written may write it back as running: written again until
    it stays stopped (here a kill can wait for its processes; on another machine it cannot)."""
    end = time.time() + within
    st = runfolder.read_status(rd)
    while time.time() < end:
        time.sleep(0.25)
        st = runfolder.read_status(rd)
        if st.get("status") in runfolder.ACTIVE:
            st = runfolder.write_status(rd, "stopped", reason=reason, finished_at=time.time())
    return st


def _on_cluster(st: dict[str, Any]) -> bool:
    return (st.get("node") or {}).get("executor") == "ray"


def _worker_gone(st: dict[str, Any], rd: Path) -> bool:
    """A running (or stopping) run whose worker is not there: it ended unseen, or never started after its claim.
    A queued run has no worker yet, so it is never gone. On a cluster the worker's process is on another machine:
    its node's word (node.json, every few seconds) says it is alive."""
    if st.get("status") not in ("running", "stopping"):
        return False
    if _on_cluster(st):
        age = cluster_executor.heartbeat_age(rd)
        if age is None:
            return time.time() - float(st.get("claimed_at") or st.get("updated_at") or 0) > LAUNCH_GRACE_S
        return age > cluster_executor.STALE_S
    if not st.get("pid"):
        return time.time() - float(st.get("claimed_at") or st.get("updated_at") or 0) > LAUNCH_GRACE_S
    return not process_alive(st.get("pid"), st.get("pid_start"))


def _gone_reason(st: dict[str, Any]) -> str:
    if _on_cluster(st):
        node = st.get("node") or {}
        return (f"Its node {node.get('node_ip')} ({str(node.get('node_id'))[:8]}) stopped answering for "
                f"{cluster_executor.STALE_S:.0f} s: the node or its worker died. Ray starts its work again on another "
                "node with room, from the last checkpoint; if none has room, resume it later.")
    if st.get("pid"):
        return (f"The worker process (pid {st.get('pid')}) ended without reporting while {st.get('status')}: it was "
                "killed or ran out of memory. Resume continues from the last checkpoint; if memory ran out, lower "
                "training.batch_size or training.max_length, or use LoRA.")
    return "The worker never started (the process that launched it ended first); resume starts it."


def _duration(r: dict[str, Any]) -> float | None:
    if not r.get("started_at"):
        return None
    end = r.get("finished_at") or time.time()
    return max(0.0, end - r["started_at"])


def open_store(runs_dir: str | Path | None = None) -> Store:
    return Store(Path(runs_dir) if runs_dir else default_runs_dir())
