"""The queue's side on a Ray cluster: each queued run becomes a detached actor (studio.runs.cluster.node) that asks
for what the run needs, so Ray, not the studio, decides where and when it trains.

A run stays `queued` in its folder until its actor starts on a node and claims it; status.json's `cluster` field
says which actor holds its place and what it asked for. The registry, the folders, the owner's limits and the
stop file work as under the studio's own queue; only where the worker starts differs.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

from studio.base import files, runfolder, secrets
from studio.base.runfolder import RunFolder
from studio.data.uploads import UPLOADS_DIR
from studio.runs.cluster import bucket, storage
from studio.runs.cluster.asks import asks_for
from studio.runs.cluster.connect import NAMESPACE, connect

# The Store (studio.runs.store) hands itself in as `store`: it imports this module, so this one names it only.
Store = Any


def actor_name(run_id: str, attempt: int) -> str:
    return f"studio-run-{run_id}-{attempt}"


def _actor(st: dict[str, Any], address: str | None):
    """The handle of the actor holding this run's place (pending or alive), or None."""
    name = (st.get("cluster") or {}).get("actor")
    if not name:
        return None
    ray = connect(address)
    try:
        return ray.get_actor(name, namespace=NAMESPACE)
    except ValueError:
        return None


def work_present(st: dict[str, Any], address: str | None = None) -> bool:
    """Whether the actor holding this run's place still exists (pending or alive)."""
    return _actor(st, address) is not None


def kill(st: dict[str, Any], address: str | None = None) -> bool:
    """Kill the run's actor (and with it the worker, which dies with its parent); True when there was one."""
    handle = _actor(st, address)
    if handle is None:
        return False
    connect(address).kill(handle, no_restart=True)
    return True


def submit(store: "Store", run_id: str, cluster_has_gpus: bool) -> str | None:
    """Hand one queued run to Ray: its actor asks for the run's resources (a run over several processes asks only
    for its driver, kept on the head node where it can be; Ray Train asks for each process). None when the run
    cannot go to this cluster at all (it is failed with the reason)."""
    ray = connect(store.cluster)
    from studio.runs.cluster.node import MAX_RESTARTS, RunOnNode

    rd = store.folder(run_id)
    st = runfolder.read_status(rd)
    training = (files.read_json(RunFolder(rd).config) or {}).get("training") or {}
    asks = asks_for(training, st, cluster_has_gpus)
    why = store.cluster_storage and not_through_a_bucket(store, rd)
    if why:
        runfolder.write_status(rd, "failed", if_active=True, finished_at=time.time(), reason=why)
        return None
    attempt = int((st.get("cluster") or {}).get("attempt", 0)) + 1
    name = actor_name(run_id, attempt)
    options: dict[str, Any] = {"name": name, "namespace": NAMESPACE, "lifetime": "detached",
                               "max_restarts": MAX_RESTARTS,
                               "max_concurrency": 64}  # where, and each rank's ask for its copy (copy_on)
    if asks.across_nodes:
        # The driver of Ray Train's workers needs no CPU of its own; on the head it outlives any worker node.
        options.update(num_cpus=0, resources={"node:__internal_head__": 0.001})
    else:
        options.update(num_cpus=asks.cpus, num_gpus=asks.gpus, resources=asks.resources or None)
        if asks.memory:
            options["memory"] = asks.memory
        if asks.accelerator_type:
            options["accelerator_type"] = asks.accelerator_type
    runfolder.write_status(rd, "queued", if_active=True, cluster={"actor": name, "attempt": attempt,
                                                                  "submitted_at": time.time(), "asks": asks.to_dict(),
                                                                  "waiting": None})
    if store.cluster_storage:  # before its actor can fetch it; the rest went up before the registry's lock
        bucket.RunCopy(store.cluster_storage, run_id, rd).hand_over(status_only=True)
    RunOnNode.options(**options).remote(str(rd), str(store.registry), _address_for_nodes(ray),
                                        store.handed_secrets(run_id), store.cluster_storage)
    store.token_handed_over(run_id)  # Ray keeps the actor's arguments for its restarts
    return name


def _address_for_nodes(ray) -> str:
    """The cluster's address as the nodes reach it (a run over several nodes drives Ray Train from its worker)."""
    return ray.get_runtime_context().gcs_address


def submit_queued(store: "Store") -> list[str]:
    """Every queued run without work on the cluster gets it, in the order they were queued, within each owner's
    limit of runs at once; none while a node cannot reach the runs folder (each waiting run says why)."""
    ray = connect(store.cluster)
    refresh_active(store)
    problem = storage.problem(store.root, store.cluster_storage)
    cluster_has_gpus = bool(ray.cluster_resources().get("GPU"))
    with store._db() as db:
        rows = [dict(r) for r in db.execute("SELECT id, owner FROM runs WHERE status IN ('queued','running',"
                                            "'stopping') ORDER BY seq")]
    active: dict[str | None, int] = {}
    queued = []
    for r in rows:
        rd = store.root / r["id"]
        if not rd.is_dir():
            continue
        st = runfolder.read_status(rd)
        placed = st.get("status") == "queued" and not _resumed(st) and work_present(st, store.cluster)
        if st.get("status") in ("running", "stopping") or placed:
            active[r["owner"]] = active.get(r["owner"], 0) + 1
        elif st.get("status") == "queued":
            queued.append((r, st))
    started = []
    for r, st in queued:
        rd = store.root / r["id"]
        if problem:
            _waiting(rd, problem)
            continue
        cap = (st.get("limits") or {}).get("runs_running")
        if r["owner"] is not None and cap and active.get(r["owner"], 0) >= cap:
            _waiting(rd, f"its owner already has {cap} run{'s' if cap != 1 else ''} on the cluster, as many as they "
                         "may")
            continue
        if st.get("secrets", "server") == "server" and not secrets.can_hand_out():
            continue  # the server's secrets are held by the app, which submits it
        if store.token_held_elsewhere(st):
            continue  # so is its owner's own hub token, by the process they signed in through
        if _submit_once(store, r["id"], cluster_has_gpus):
            active[r["owner"]] = active.get(r["owner"], 0) + 1
            started.append(r["id"])
        elif runfolder.read_status(rd).get("status") == "failed":
            store._sync(r["id"])  # refused by the cluster (not_through_a_bucket): the row says so too
    return started


def _submit_once(store: "Store", run_id: str, cluster_has_gpus: bool) -> bool:
    """Submit the run unless another dispatcher (the app's upkeep thread, a request, a worker) just did: the look
    and the submission happen under the registry's write lock, which every process of the studio takes."""
    ray = connect(store.cluster)
    rd = store.folder(run_id)
    if store.cluster_storage:
        st = runfolder.read_status(rd)
        if st.get("status") == "queued" and (_resumed(st) or not work_present(st, store.cluster)) \
                and not_through_a_bucket(store, rd) is None:
            # The folder goes up outside the registry's lock (a resumed run's checkpoints); under it, its status.
            bucket.RunCopy(store.cluster_storage, run_id, rd).hand_over()
    with store._db(immediate=True):
        st = runfolder.read_status(store.folder(run_id))
        # A run resumed a moment after it stopped may still have its last actor winding down: that one has done its
        # work (a new claim makes it leave the run alone), so the resume gets an actor of its own at once.
        if st.get("status") != "queued" or (not _resumed(st) and work_present(st, store.cluster)):
            return False
        try:
            return submit(store, run_id, cluster_has_gpus) is not None
        except ray.exceptions.ActorAlreadyExistsError:
            return False  # a dispatcher of another studio on the same registry got there first


def _resumed(st: dict[str, Any]) -> bool:
    """Resumed since it was last handed to Ray (its next place in Ray's queue is not taken yet)."""
    return (st.get("resumed_at") or 0) > ((st.get("cluster") or {}).get("submitted_at") or 0)


def _waiting(rd: Path, why: str) -> None:
    st = runfolder.read_status(rd)
    if (st.get("cluster") or {}).get("waiting") != why:
        runfolder.write_status(rd, "queued", if_active=True, cluster={**(st.get("cluster") or {}), "waiting": why})


def heartbeat_age(rd: Path) -> float | None:
    """Seconds since the run's node last said it was alive (None before it first did)."""
    beat = files.read_json(RunFolder(rd).node) or {}
    at = beat.get("heartbeat_at")
    return None if at is None else max(0.0, time.time() - float(at))


STALE_S = float(os.environ.get("STUDIO_CLUSTER_STALE_S", "30"))  # silence after which a run's node counts as lost


# ------------------------------------------------------------ object storage (studio.runs.cluster.bucket) --
def not_through_a_bucket(store: "Store", rd: Path) -> str | None:
    """Why this run cannot travel through object storage, or None. Its copy carries its own folder only: a run that
    reads another run's folder (a teacher, a judge) needs the runs folder on a file system every node mounts."""
    shared = ("needs the runs folder on a file system every node mounts at the same path (--runs-dir on NFS or a "
              "cloud file system) rather than --cluster-storage")
    root = str(store.root) + os.sep
    for name in (RunFolder.config.name, RunFolder.distill.name, RunFolder.judge.name, RunFolder.sweep_trial.name):
        text = (rd / name).read_text(encoding="utf-8") if (rd / name).is_file() else ""
        for found in re.finditer(re.escape(root) + r'([^/\\"]+)', text):
            # Its uploads are in its own data/ splits; another run's folder (a teacher, a judge) or a sweep's study
            # is not.
            if found.group(1) not in (rd.name, UPLOADS_DIR):
                return (f"This run reads {found.group(1)} in the runs folder (named in {name}: another run, a "
                        f"sweep's study), which {shared}.")
    return None


def _on_the_cluster(st: dict[str, Any], address: str | None) -> bool:
    """Whether the run is out on the cluster: active, or failed with its node lost while Ray may still start its
    work elsewhere (its actor lives)."""
    if not st.get("cluster"):
        return False
    if st.get("status") in runfolder.ACTIVE:
        return True
    return st.get("status") == "failed" and bool(st.get("lost_node")) and work_present(st, address)


def refresh(store: "Store", run_id: str, force: bool = False) -> None:
    """Bring this studio's copy of a run on the cluster up to date with what its node pushed (at most once a
    second unless forced; nothing for runs that are not out on the cluster)."""
    url = store.cluster_storage
    rd = store.root / run_id
    if not url or not rd.is_dir() or not (force or bucket.due(url, run_id)):
        return
    if not _on_the_cluster(runfolder.read_status(rd), store.cluster):
        return
    try:
        copy = bucket.RunCopy(url, run_id, rd)
        copy.pull(bucket.take_status)
        if runfolder.read_status(rd).get("status") in runfolder.FINISHED and runfolder.stop_requested(rd):
            runfolder.clear_stop(rd)
            copy.delete("STOP")
    except Exception as e:  # noqa: BLE001 - a store that does not answer (pyarrow's OSError, an fsspec back end's
        # own errors) must not fail a page's request or end the upkeep thread; the run's heartbeat ages meanwhile
        print(f"[studio] could not read run {run_id} from {bucket.shown(url)}: {type(e).__name__}: {e}", flush=True)


def refresh_active(store: "Store") -> None:
    if not store.cluster_storage:
        return
    with store._db() as db:
        ids = [r["id"] for r in db.execute("SELECT id FROM runs WHERE status IN ('queued','running','stopping',"
                                           "'failed')")]
    for run_id in ids:
        refresh(store, run_id)


def ask_stop(store: "Store", run_id: str) -> None:
    """A graceful stop reaches the run's node through the bucket (its actor looks every few seconds)."""
    if store.cluster_storage:
        try:
            bucket.RunCopy(store.cluster_storage, run_id, store.folder(run_id)).ask_stop()
        except Exception as e:  # noqa: BLE001 - the next pull asks again (the run is `stopping` with a STOP here)
            print(f"[studio] the stop of run {run_id} waits for {bucket.shown(store.cluster_storage)}: "
                  f"{type(e).__name__}: {e}", flush=True)


def forget_copy(store: "Store", run_id: str) -> None:
    """A deleted run's copy in the bucket goes too."""
    if store.cluster_storage:
        try:
            bucket.RunCopy(store.cluster_storage, run_id, store.folder(run_id)).remove()
        except Exception as e:  # noqa: BLE001 - the run is deleted here all the same
            print(f"[studio] run {run_id}'s copy in {bucket.shown(store.cluster_storage)} stays: {e}", flush=True)
