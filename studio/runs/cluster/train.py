"""One run over several processes and nodes with Ray Train: a TorchTrainer whose workers each run the studio's own
recipe as one rank (studio.runs.distributed.rank_main, as under accelerate), in the process group Ray Train sets up
(gloo on CPUs, NCCL on GPUs; DDP, FSDP or DeepSpeed as the run's config says, through the Trainer and accelerate).

Called by the run's worker on the node Ray placed it on. When a worker's node dies the attempt fails; the run says
which node was lost and starts a new attempt from its last checkpoint once Ray finds room for every process, up to
MAX_ATTEMPTS. A rank that fails by itself (bad data, out of memory) ends the run with its reason, as it would
anywhere else.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from pathlib import Path
from typing import Any

from studio.base import files, runfolder, secrets
from studio.base.cluster_address import COPIES_ENV
from studio.base.errors import LaunchFailed
from studio.base.process_rank import LAUNCH_ENV
from studio.base.runfolder import RunFolder
from studio.runs import distributed
from studio.runs.cluster import bucket
from studio.runs.cluster.asks import asks_for
from studio.runs.cluster.connect import NAMESPACE, connect, node_address
from studio.training.checkpoints import last_checkpoint

MAX_ATTEMPTS = 4
NODE_LOSS_WAIT_S = 45.0  # Ray's default health checks mark a dead node within about half a minute


def _rank(config: dict[str, Any]) -> None:
    """One Ray Train worker: the studio's rank, launched as accelerate would (the launch record in STUDIO_LAUNCH)."""
    import ray

    os.environ[LAUNCH_ENV] = json.dumps(config["record"])
    # Ray started this process with its node's environment: the run's secrets replace the node's own.
    for name in (*secrets.SECRET_NAMES, "HF_TOKEN_PATH"):
        os.environ.pop(name, None)
    os.environ.update(ray.get(config["secrets"]))
    rank = int(os.environ.get("RANK", "0"))
    node_id = ray.get_runtime_context().get_node_id()
    run_dir = Path(config["run_dir"])
    if config.get("copies"):  # the run's folder travels through object storage: a copy of it on this node
        # This process runs the run's code: the store is its actors' alone (Ray started it with the keys emptied,
        # run_on_workers; here they go from the environment it hands on too).
        for name in bucket.STORAGE_KEYS:
            os.environ.pop(name, None)
        keeper = ray.get_actor(config["copies"], namespace=NAMESPACE)
        run_dir = Path(ray.get(keeper.copy_on.remote(node_id, config["attempt"], rank)))
    if rank == 0:
        _note_lost_workers(ray, run_dir)  # Ray Train itself may have started this group again after a loss
    files.atomic_write_json(run_dir / f".node-rank{rank}-{os.getpid()}.json", {
        "rank": rank, "node_id": node_id, "node_ip": node_address(ray, node_id), "pid": os.getpid(),
        "folder": str(run_dir), "at": time.time()})
    _write_to_train_log(run_dir, rank)
    if distributed.rank_main(run_dir, config["resume"] or _checkpointed(run_dir)) != 0:
        raise RuntimeError("this rank failed; its reason is in its result file")  # ends every rank of the attempt


def _write_to_train_log(run_dir: Path, rank: int) -> None:
    """Rank 0 writes into train.log, the others into train.rank<N>.log, as under accelerate; Ray would otherwise
    keep their output in the node's own log files."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    path = RunFolder(run_dir).log if rank == 0 else distributed.rank_log(run_dir, rank)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    # Ray's workers print through streams of their own that copy each line to both descriptors: plain ones here.
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)


def _checkpointed(run_dir: Path) -> bool:
    return last_checkpoint(run_dir) is not None  # a whole one: a torn checkpoint is not resumed from


def describe_loss(lost: list[dict[str, Any]], error: BaseException | None = None) -> str:
    """What ended an attempt, as a person reads it: which ranks' nodes the cluster lost."""
    ranks = ", ".join(f"rank {n.get('rank')} on node {n.get('node_ip')} ({str(n.get('node_id'))[:8]})" for n in lost)
    first = next((ln.strip() for ln in str(error or "").splitlines() if ln.strip()), "")
    return f"the cluster lost the node of {ranks}" + (f" ({type(error).__name__}: {first[:200]})" if first else "")


def run_on_workers(run_dir: Path, training, device: str, resume: bool) -> dict[str, Any]:
    """Train the run with one Ray Train worker per process; rank 0's result, as distributed.run_launched gives."""
    copies = os.environ.get(COPIES_ENV) or None
    # Where run folders travel through object storage the ranks (the run's own code) start without the node's keys
    # to the store: emptied in the environment Ray starts them with, which is what /proc shows of them.
    ray = connect(runtime_env={"env_vars": {k: "" for k in bucket.STORAGE_KEYS}} if copies else None)
    from ray.train import FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    run_dir = Path(run_dir)
    # Where run folders travel through object storage, each node's ranks train in a copy of the run there, which
    # the run's actor (named in `copies`) keeps in step with the bucket; this folder stands aside meanwhile.
    # Ray Train sends each print through its own logger as well (a second copy of every line in train.log).
    os.environ["RAY_TRAIN_ENABLE_PRINT_PATCH"] = "0"
    st = runfolder.read_status(run_dir)
    asks = asks_for(dataclasses.asdict(training), st, bool(ray.cluster_resources().get("GPU")))
    per_worker = asks.per_process()
    on_gpu = "GPU" in per_worker
    record = {"launcher": "ray", "num_processes": training.num_processes, "num_machines": training.num_machines,
              "distributed": training.distributed, "backend": "nccl" if on_gpu else "gloo",
              "command": f"Ray Train TorchTrainer: {asks.describe()}"}
    runfolder.write_status(run_dir, "running", if_active=True, launch=record)
    # The ranks get this worker's secrets (only those its run may use) through Ray's memory: Ray Train records its
    # train_loop_config for its dashboard, where a reference shows and the values do not.
    handed = ray.put({k: os.environ[k] for k in (*secrets.SECRET_NAMES, "HF_TOKEN_PATH") if os.environ.get(k)})
    attempt = 0
    while True:
        attempt += 1
        distributed.clear_results(run_dir)
        print(f"[studio] attempt {attempt}: {training.num_processes} Ray Train workers ({asks.describe()})",
              flush=True)
        fixed = {k: v for k, v in per_worker.items() if k != "GPU"}  # use_gpu asks for the GPU
        trainer = TorchTrainer(
            _rank, train_loop_config={"run_dir": str(run_dir), "resume": resume, "record": record,
                                      "secrets": handed, "copies": copies, "attempt": attempt},
            scaling_config=ScalingConfig(num_workers=training.num_processes, use_gpu=on_gpu,
                                         resources_per_worker=fixed,
                                         placement_strategy="SPREAD" if training.num_machines > 1 else "PACK"),
            run_config=RunConfig(name=f"{run_dir.name}-attempt{attempt}",
                                 storage_path=str(RunFolder(run_dir).ray_results),
                                 failure_config=FailureConfig(max_failures=0, max_preemption_failures=0)))
        # Ray Train would restart a lost node's attempt itself, from the start; this loop says what was lost
        # and resumes from the checkpoint, and leaves a rank's own failure (bad data, memory) unretried.
        error: BaseException | None
        try:
            error = trainer.fit().error
        except Exception as e:  # noqa: BLE001 - Ray Train raises what ended the attempt
            error = e
        if copies:  # what the ranks' copies hold comes into this folder (their results, nodes, progress)
            ray.get(ray.get_actor(copies, namespace=NAMESPACE).gather.remote(attempt))
        nodes = _record_workers(run_dir)
        lost_nodes = [] if error is None or runfolder.stop_requested(run_dir) else _lost(
            ray, nodes, NODE_LOSS_WAIT_S if _peer_trouble(run_dir, error) else 0.0)
        if not lost_nodes:
            return distributed.read_outcome(run_dir, 0 if error is None else 1)
        lost = describe_loss(lost_nodes, error)
        if attempt >= MAX_ATTEMPTS:
            raise LaunchFailed(f"The run gave up after {attempt} attempts on the cluster; the last: {lost}.")
        resume = _checkpointed(run_dir)
        _note_restart(run_dir, lost, resume, attempt)
        print(f"[studio] {lost}; attempt {attempt + 1} starts " + (
            "from the last checkpoint" if resume else "from the beginning (no checkpoint yet)")
            + " once Ray finds room for every worker", flush=True)


PEER_TROUBLE = re.compile(r"gloo|nccl|connection (reset|closed|refused)|broken pipe|timed out|process ?group|"
                          r"actor ?died|node .*(dead|died)|worker .*(died|unexpectedly)", re.I)


def _peer_trouble(run_dir: Path, error: BaseException) -> bool:
    """Whether the attempt ended the way a lost peer ends it (a reset connection, a dead actor), rather than by a
    rank's own error (bad data, out of memory), which no restart would cure."""
    reasons = [str((files.read_json(p) or {}).get("reason", "")) for p in Path(run_dir).glob(distributed.RESULT_GLOB)]
    return not reasons or any(PEER_TROUBLE.search(r) for r in reasons) or bool(PEER_TROUBLE.search(str(error)))


def _lost(ray, nodes: list[dict[str, Any]], wait_s: float) -> list[dict[str, Any]]:
    """The ranks whose node the cluster has lost. A rank that lost its peer fails at once (the connection is reset)
    while Ray notices a dead node a few health checks later: wait that long before calling it the rank's own
    failure."""
    deadline = time.time() + wait_s
    while True:
        alive = {n["NodeID"] for n in ray.nodes() if n.get("Alive")}
        lost = [n for n in nodes if n.get("node_id") not in alive]
        if lost or time.time() > deadline:
            return lost
        time.sleep(1.0)


def _note_restart(run_dir: Path, lost: str, resume: bool, attempt: int | None = None) -> None:
    note = {"at": time.time(), "lost": lost, "from_checkpoint": resume, **({"attempt": attempt} if attempt else {})}
    now = runfolder.read_status(run_dir)
    runfolder.write_status(run_dir, now.get("status", "running"), if_active=True,
                           worker_restarts=[*(now.get("worker_restarts") or []), note])


def _note_lost_workers(ray, run_dir: Path) -> None:
    """On rank 0, at the start of a group: ranks of an earlier group whose node is gone (their files remain) mean
    Ray Train started the group again after losing a node; the run says so."""
    alive = {n["NodeID"] for n in ray.nodes() if n.get("Alive")}
    stale = [(p, files.read_json(p) or {}) for p in Path(run_dir).glob(".node-rank*.json")]
    lost = [got for _, got in stale if got.get("node_id") not in alive]
    if not lost:
        return
    for p, got in stale:
        if got.get("node_id") not in alive:
            p.unlink(missing_ok=True)
    text = describe_loss(lost)
    _note_restart(run_dir, text, _checkpointed(run_dir))
    print(f"[studio] {text}; the workers start again, " + (
        "from the last checkpoint" if _checkpointed(run_dir) else "from the beginning (no checkpoint yet)"),
        flush=True)


def _record_workers(run_dir: Path) -> list[dict[str, Any]]:
    """Which nodes the ranks trained on (each rank leaves its node in a small file when it starts)."""
    latest: dict[int, dict[str, Any]] = {}
    for p in Path(run_dir).glob(".node-rank*.json"):
        got = files.read_json(p)
        if got and got.get("at", 0) >= latest.get(got.get("rank", -1), {}).get("at", 0):
            latest[got["rank"]] = got
        p.unlink(missing_ok=True)
    nodes = [latest[r] for r in sorted(latest)]
    if nodes:
        runfolder.write_status(run_dir, runfolder.read_status(run_dir).get("status", "running"), if_active=True,
                               worker_nodes=nodes)
    return nodes
