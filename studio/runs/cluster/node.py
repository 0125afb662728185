"""What runs on the node Ray picks for a run: one detached actor (RunOnNode) that starts the studio's own worker
there (`python -m studio.runs.worker RUN_DIR --on-cluster`), writes node.json every few seconds so the page knows
the node is alive, and ends itself when the worker ends.

Detached, so a restart of the web server leaves training runs alone; restartable, so when its node dies Ray starts
it again on another node with room, where it records what happened and resumes the run from its last checkpoint.
Killing the actor (Store.kill) kills the worker too: the worker asks Linux to die with its parent.

Where run folders travel through object storage (studio.runs.cluster.bucket), the actor trains the run in a scratch
copy it pushes; a run over several nodes has one more copy on each node its ranks train on (RunCopyOnNode, owned
by the actor, so it ends with it), and the actor's own copy stands aside until the attempt ends (copy_on, gather).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import ray

from studio.base import files, runfolder, secrets
from studio.base.cluster_address import COPIES_ENV, RAY_ENV, STORAGE_ENV
from studio.base.runfolder import RunFolder
from studio.runs.cluster import bucket
from studio.runs.cluster.connect import NAMESPACE, node_address
from studio.training.checkpoints import last_checkpoint

HEARTBEAT_S = 3.0
LOGS = frozenset({RunFolder.log.name})  # held open by the worker, which appends to it
MAX_RESTARTS = 3  # node losses a run survives before it stays failed


def node_info() -> dict[str, Any]:
    ctx = ray.get_runtime_context()
    return {"executor": "ray", "node_id": ctx.get_node_id(), "node_ip": node_address(ray, ctx.get_node_id()),
            "hostname": socket.gethostname(), "actor": ctx.get_actor_name()}


def worker_env(address: str) -> dict[str, str]:
    """The worker's environment: this node's, the studio importable from where it is installed here, and the
    cluster's address (a run over several nodes drives Ray Train from its worker)."""
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    src_root = str(Path(__file__).resolve().parents[3])
    if env.get("PYTHONPATH", "").split(os.pathsep)[0] != src_root:
        env["PYTHONPATH"] = src_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env[RAY_ENV] = address
    return env


def run_env(address: str, handed: dict[str, Any] | None, storage: str | None = None,
            actor: str | None = None) -> dict[str, str]:
    """The worker's environment with only the secrets its run may use (studio.base.secrets.on_node), and none of
    the object store's keys where the run's files travel through one; there it learns which actor (this one)
    gives its ranks on other nodes their copies of the run (a run over several nodes)."""
    env = secrets.on_node(worker_env(address), handed)
    env.pop(STORAGE_ENV, None)  # the worker's own Store must not pull the run from the bucket into its copy
    env.pop(COPIES_ENV, None)
    if storage:
        for name in bucket.STORAGE_KEYS:
            env.pop(name, None)
        if actor:
            env[COPIES_ENV] = actor
    return env


def _checkpointed(rd: Path) -> bool:
    return last_checkpoint(rd) is not None  # a whole one: a torn checkpoint is not resumed from


def claim(rd: Path, me: dict[str, Any], restarted: bool) -> tuple[str, bool, float] | None:
    """Mark the run running on this node: (device, resume, the claim's time), or None when it is no longer this
    work's to run (stopped or killed while it waited; finished)."""
    st = runfolder.read_status(rd)
    status = st.get("status")
    picked_up = status in ("running", "stopping") or (status == "failed" and st.get("lost_node"))
    if status != "queued" and not (restarted and picked_up):
        return None
    if status == "queued" and runfolder.stop_requested(rd):
        runfolder.write_status(rd, "stopped", reason="Stopped while queued; it never started.", finished_at=time.time())
        runfolder.clear_stop(rd)
        return None
    gpus = ray.get_gpu_ids()
    device = "cpu" if not gpus else "cuda:0" if len(gpus) == 1 else "cuda"
    now = time.time()
    fields: dict[str, Any] = {"device": device, "claimed_at": now, "pid": None, "pid_start": None, "node": me,
                              "finished_at": None, "reason": None, "lost_node": None}
    resume = bool(st.get("resume"))
    if status == "queued":
        fields["started_at"] = now
    else:  # Ray started this work again after its node died: say so, and go on from the last checkpoint
        before = st.get("node") or {}
        resume = _checkpointed(rd)
        note = {"at": now, "lost": before.get("node_ip"), "lost_node_id": before.get("node_id"),
                "now": me["node_ip"], "now_node_id": me["node_id"], "from_checkpoint": resume}
        fields["node_restarts"] = [*(st.get("node_restarts") or []), note]
        fields["resume"] = resume
        with open(RunFolder(rd).log, "a", encoding="utf-8") as log:
            log.write(f"[studio] node {before.get('node_ip')} ({str(before.get('node_id'))[:8]}) was lost; the run "
                      f"goes on on {me['node_ip']} ({me['node_id'][:8]}) "
                      + ("from its last checkpoint\n" if resume else "from the start\n"))
    runfolder.write_status(rd, "running", **fields)
    return device, resume, now


def supervise(run_dir: str, registry: str, address: str, restarted: bool, handed: dict[str, Any] | None = None,
              storage: str | None = None, sync: Callable[[], None] = lambda: None,
              settle: Callable[[], None] = lambda: None) -> None:
    """Claim the run here, train it in a worker process, and keep node.json fresh until the worker ends; `sync`
    runs after each heartbeat (where the run's files travel through object storage: its push), `settle` once the
    worker ended (there: what its ranks' copies on other nodes pushed comes down)."""
    rd = Path(run_dir)
    me = node_info()
    claimed = claim(rd, me, restarted)
    if claimed is None:
        return
    sync()
    device, resume, claimed_at = claimed
    argv = [sys.executable, "-m", "studio.runs.worker", str(rd), "--registry", registry, "--device", device,
            "--on-cluster"] + (["--resume"] if resume else [])
    with open(RunFolder(rd).log, "ab") as log:  # the worker dies with this actor
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=str(rd.parent), env=run_env(address, handed, storage, me["actor"]))
    beat = {**me, "worker_pid": proc.pid, **({"scratch": str(rd)} if storage else {})}
    while proc.poll() is None:
        files.atomic_write_json(RunFolder(rd).node, {**beat, "heartbeat_at": time.time()})
        sync()
        try:
            proc.wait(timeout=HEARTBEAT_S)
        except subprocess.TimeoutExpired:
            pass
    files.atomic_write_json(RunFolder(rd).node, {**beat, "heartbeat_at": time.time(), "ended_at": time.time(),
                                                 "returncode": proc.returncode})
    settle()
    st = runfolder.read_status(rd)
    mine = st.get("claimed_at") == claimed_at and (st.get("node") or {}).get("actor") == me["actor"]
    if st.get("status") in ("running", "stopping") and mine:  # killed without a word (out of memory, a signal)
        code = proc.returncode
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        runfolder.write_status(rd, "failed", finished_at=time.time(),
                               reason=f"The worker on node {me['node_ip']} ended with {how} without reporting: it "
                                      "was killed or ran out of memory. Resume continues from the last checkpoint.")


def _tried(step: Callable[[], Any], waits: tuple[float, ...] = (0, 2, 5)) -> Any:
    """`step`, tried again after a short wait when the store does not answer; the last try's error is raised."""
    for i, wait in enumerate(waits):
        time.sleep(wait)
        try:
            return step()
        except Exception:  # noqa: BLE001 - a store's errors differ by scheme; the last one is raised
            if i == len(waits) - 1:
                raise


class Pushes:
    """The node's side of a run's copy (studio.runs.cluster.bucket): called at each heartbeat, it sends node.json
    at once and keeps a pusher thread going for the rest, so a long upload (a checkpoint of gigabytes) never
    silences the heartbeat; a store that does not answer for a moment is said once in the run's log; the last
    push is tried again before the actor ends. While the ranks of a run over several nodes train in copies of
    their own, the driver's copy is held: only its heartbeat goes up (see RunOnNode.copy_on). `options`: how this
    copy pushes (bucket.RunCopy.push's whole_folders, follow_removals, before_marker)."""

    def __init__(self, copy: bucket.RunCopy, folder: str, log: str = RunFolder.log.name):
        self.copy, self.folder, self.log, self.failing = copy, folder, log, False
        self.options: dict[str, Any] = {}
        self.done = threading.Event()
        self.thread: threading.Thread | None = None
        self.turn = threading.Lock()  # one push at a time: the pusher's, a hold's or a release's
        self.held = False

    def __call__(self) -> None:
        try:
            self.copy.send(RunFolder.node.name)
        except Exception as e:  # noqa: BLE001 - a store that does not answer is said once and tried again
            self._say(e)
        self.start()

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._loop, daemon=True, name="studio-push")
            self.thread.start()

    def _loop(self) -> None:
        while not self.done.is_set():
            try:
                self.now()
                self.failing = False
            except Exception as e:  # noqa: BLE001 - the pusher must outlive a bad moment of the store
                self._say(e)
            self.done.wait(HEARTBEAT_S)

    def now(self) -> None:
        """One push, unless held."""
        with self.turn:
            if not self.held and not self.done.is_set():  # after the last push, nothing more (a late flush)
                self.copy.push(skip=frozenset({RunFolder.node.name}), **self.options)

    def hold(self) -> None:
        """Stand aside for the ranks' copies: everything here goes up first (the launch the driver recorded, the
        results it cleared, its log whatever its size), so each rank's copy starts from it."""
        with self.turn:
            if not self.held:
                _tried(lambda: self.copy.push(skip=frozenset({RunFolder.node.name}), final=True))
                self.held = True

    def release(self) -> None:
        """The ranks' copies are all in the bucket: what they changed comes down here, and the pushes go on."""
        with self.turn:
            if self.held:
                _tried(lambda: self.copy.refresh(in_place=LOGS))
                self.held = False

    def _say(self, e: Exception) -> None:
        if not self.failing:
            with open(Path(self.folder) / self.log, "a", encoding="utf-8") as log:
                log.write(f"[studio] could not write to {bucket.shown(self.copy.url)} ({e}); trying again\n")
        self.failing = True

    def last(self) -> bool:
        """The last push, tried again for a while; True once the bucket holds everything."""
        self.done.set()
        if self.thread is not None:
            self.thread.join()
        def final() -> None:
            with self.turn:
                if self.held:  # what the ranks' copies pushed comes down first (a release that failed)
                    self.copy.refresh(in_place=LOGS)
                    self.held = False
                self.copy.push(final=True, **self.options)

        try:
            _tried(final, (0, 2, 5, 10))
            return True
        except Exception:  # noqa: BLE001 - after the last try the copy stays on the node
            return False


@ray.remote(num_cpus=0)
class RunCopyOnNode:
    """The copy of a run the ranks of a run over several nodes train in on one node, in step with the bucket as
    the run's actor keeps its own: fetched when the first rank there asks, pushed every few seconds, removed once
    its last push is in. Owned by the run's actor, so it ends with it (a kill, a lost node). Rank 0's copy holds
    the run's status, log and checkpoints; the others send what their ranks write (their logs, results, shards of
    a checkpoint) and follow rank 0's rotation of checkpoints."""

    def __init__(self, storage: str, run_id: str, holder: str, actor: str, attempt: int):
        bucket.sweep_scratch(storage)
        self.actor, self.attempt = actor, attempt
        holder = f"{holder}-{os.getpid()}"  # the process id last, as sweep_scratch reads it
        self.copy = bucket.RunCopy(storage, run_id, bucket.scratch_dir(storage, run_id, holder))
        self.folder = str(_tried(self.copy.fetch))
        # Said in a log of this node's own until rank 0 trains here: an older train.log sent from here would
        # replace rank 0's.
        node = ray.get_runtime_context().get_node_id()[:8]
        self.pushes = Pushes(self.copy, self.folder, log=f"train.copy-{node}.log")
        self.pushes.options = {"follow_removals": True}
        self.pushes.start()

    def folder_for(self, lead: bool) -> str:
        """The copy's folder; `lead`: rank 0 trains here (its checkpoints' markers go up after the other copies
        sent their shards; a checkpoint it rotates away goes from the bucket with them)."""
        if lead and self.pushes.log != RunFolder.log.name:
            self.pushes.log = RunFolder.log.name
            self.pushes.options = {"whole_folders": True, "before_marker": self._others_first}
        return self.folder

    def _others_first(self) -> None:
        ray.get(ray.get_actor(self.actor, namespace=NAMESPACE).flush.remote(self.attempt))

    def push_now(self) -> None:
        self.pushes.now()

    def finish(self) -> bool:
        done = self.pushes.last()
        if done:
            shutil.rmtree(self.copy.local.parent, ignore_errors=True)
        return done


@ray.remote
class RunOnNode:
    """One run's work on the node Ray placed it on (see the module's doc)."""

    def __init__(self, run_dir: str, registry: str, address: str, handed: dict[str, Any] | None = None,
                 storage: str | None = None):
        restarted = ray.get_runtime_context().was_current_actor_reconstructed
        self.done = threading.Event()
        self.storage, self.run_id = storage, Path(run_dir).name
        self.pushes: Pushes | None = None
        self.copies: dict[tuple[int, str], Any] = {}  # (attempt, node id) -> RunCopyOnNode
        self.leads: dict[int, tuple[int, str]] = {}  # attempt -> the copy rank 0 trains in
        self.gathered: set[int] = set()  # attempts whose copies are gone: a late ask is refused
        self.copies_lock = threading.Lock()

        def work():
            folder, copy, pushes = run_dir, None, None
            try:
                if storage:  # no shared runs folder: the run's copy in the bucket, in a scratch folder of this node
                    bucket.sweep_scratch(storage)  # copies of killed runs' actors on this node
                    holder = f"{ray.get_runtime_context().get_actor_name()}-{os.getpid()}"
                    copy = bucket.RunCopy(storage, Path(run_dir).name,
                                          bucket.scratch_dir(storage, Path(run_dir).name, holder))
                    folder = str(copy.fetch())
                    self.pushes = pushes = Pushes(copy, folder)
                    supervise(folder, str(Path(folder).parent / "registry.sqlite"), address, restarted, handed,
                              storage, pushes, settle=lambda: self.gather(None))
                else:
                    supervise(run_dir, registry, address, restarted, handed)
            except BaseException as e:  # noqa: BLE001 - the run says why; the actor must still end
                reason = f"Its work on the cluster failed: {type(e).__name__}: {e}"
                try:
                    if copy is not None and pushes is None:  # no copy of its own to write in: the bucket's
                        copy.report_failure(reason)
                    else:
                        runfolder.write_status(Path(folder), "failed", if_active=True, finished_at=time.time(),
                                               reason=reason)
                except (OSError, ValueError):
                    pass
            finally:
                if copy is not None and (pushes is None or pushes.last()):
                    # The studio has it all: the node's disk is free again (the copy and its registry).
                    shutil.rmtree(copy.local.parent, ignore_errors=True)
                self.done.set()
                ray.kill(ray.get_runtime_context().current_actor, no_restart=True)

        threading.Thread(target=work, daemon=True, name="studio-run").start()

    def where(self) -> dict[str, Any]:
        return node_info()

    def copy_on(self, node_id: str, attempt: int, rank: int) -> str:
        """Asked by each rank of a run over several nodes whose folder travels through object storage: the folder
        it trains in on its node, a copy of the run shared by the ranks there. The first ask of an attempt holds
        this actor's own pushes (the driver's copy stands aside until gather)."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        if self.pushes is None:
            raise RuntimeError("this run's folder does not travel through object storage")
        with self.copies_lock:
            if attempt in self.gathered:
                raise RuntimeError(f"attempt {attempt} of this run has ended")
            self.pushes.hold()
            key = (attempt, node_id)
            if key not in self.copies:
                me = ray.get_runtime_context().get_actor_name()
                self.copies[key] = RunCopyOnNode.options(
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False)).remote(
                    self.storage, self.run_id, f"{me}-ranks{attempt}", me, attempt)
            if rank == 0:
                self.leads[attempt] = key
            keeper = self.copies[key]
        return ray.get(keeper.folder_for.remote(rank == 0))

    def flush(self, attempt: int) -> None:
        """Asked by rank 0's copy before a checkpoint's marker goes up: every other copy of the attempt pushes
        now (its ranks' shards of that checkpoint are written by then)."""
        with self.copies_lock:
            lead = self.leads.get(attempt)
            others = [k for key, k in self.copies.items() if key[0] == attempt and key != lead]
        for keeper in others:
            try:
                ray.get(keeper.push_now.remote())
            except Exception:  # noqa: BLE001 - a lost node's shards are lost with it; the attempt says so
                pass

    def gather(self, attempt: int | None) -> None:
        """The driver's, when an attempt ended (None: every attempt, as the worker ends): each rank copy's last
        push, rank 0's last (its status after the others' files), the copies removed, and what they pushed
        brought into the driver's copy, whose pushes go on."""
        with self.copies_lock:
            ended = {k: v for k, v in self.copies.items() if attempt is None or k[0] == attempt}
            for k in ended:
                self.copies.pop(k)
            self.gathered |= {k[0] for k in ended} | ({attempt} if attempt is not None else set())
            leads = {self.leads.pop(a) for a in {k[0] for k in ended} if a in self.leads}
        for key in sorted(ended, key=lambda k: (k[0], k in leads)):
            try:
                ray.get(ended[key].finish.remote())
            except Exception:  # noqa: BLE001 - its node was lost: what it pushed before is the last of it
                pass
            ray.kill(ended[key])
        if self.pushes is not None:
            self.pushes.release()
