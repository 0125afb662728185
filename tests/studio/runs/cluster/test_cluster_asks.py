"""What a run asks a Ray cluster for, and the sentences that say what to do, without a cluster."""

from __future__ import annotations

import socket
import sys

import pytest

from studio.base.cluster_address import parse_resources
from studio.base.errors import ConfigError, RunError
from studio.cli import main as cli_main
from studio.config import RunConfig
from studio.runs.cluster.asks import asks_for, fits_somewhere
from studio.runs.cluster.connect import connect
from studio.runs.cluster.train import describe_loss


def test_a_run_asks_for_its_processes_device_memory_and_resources():
    cpu = asks_for({"device": "cpu", "cluster_cpus": 2, "cluster_resources": "pool_a:1, fast_disk:0.5"},
                   {"memory": {"total": 3 * 2**30, "where": "of available RAM"}}, cluster_has_gpus=True)
    assert cpu.per_process() == {"CPU": 2.0, "memory": float(3 * 2**30), "pool_a": 1.0, "fast_disk": 0.5}
    assert cpu.describe() == "2 CPU, 3.0 GiB memory, pool_a 1, fast_disk 0.5"
    # auto takes a GPU where the cluster has them; a GPU run's estimate is GPU memory, not the host's.
    gpu = asks_for({"device": "auto", "accelerator_type": "A100", "num_processes": 4, "num_machines": 2},
                   {"memory": {"total": 2**34, "where": "free on cuda:0 (NVIDIA A100)"}}, cluster_has_gpus=True)
    assert gpu.per_process() == {"CPU": 1.0, "GPU": 1.0, "accelerator_type:A100": 0.001}
    assert gpu.across_nodes and gpu.describe() == "1 CPU, 1 GPU (A100) per process; 4 processes over 2 nodes"
    assert asks_for({"device": "auto", "accelerator_type": "A100"}, {}, cluster_has_gpus=False).per_process() == {
        "CPU": 1.0}


def test_what_no_node_has_is_named():
    asks = asks_for({"device": "cuda", "cluster_resources": "pool_a:1"}, {}, cluster_has_gpus=True)
    nodes = [{"CPU": 8, "GPU": 1}, {"CPU": 4, "pool_a": 1}]
    assert fits_somewhere(asks, nodes) == "its resources together"  # each half exists, never on one node
    assert fits_somewhere(asks, [{"CPU": 8}]) == "1 GPU, 1 pool_a"
    assert fits_somewhere(asks, [{"CPU": 8, "GPU": 2, "pool_a": 1}]) is None


@pytest.mark.parametrize("text, message", [
    ("pool_a", "is not name:amount"),
    ("pool a:1", "is not name:amount"),
    ("GPU:1", "list only custom resources"),
    ("pool_a:many", "must be a number"),
    ("pool_a:0", "above 0"),
])
def test_custom_resources_that_cannot_work_are_refused_with_the_fix(text, message, separable_csv):
    with pytest.raises(ConfigError, match=message):
        parse_resources(text)
    with pytest.raises(ConfigError, match="training.cluster_resources"):
        RunConfig.from_dict({"data": {"train": str(separable_csv)}, "training": {"cluster_resources": text}})


def test_without_ray_or_without_a_cluster_the_sentence_says_what_to_do(monkeypatch, capsys):
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "ray", None)  # as where Ray is not installed
        with pytest.raises(ConfigError, match=r"pip install 'studio\[ray\]'"):
            connect("127.0.0.1:6379")
    pytest.importorskip("ray")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nobody answers there
    with pytest.raises(ConfigError, match=f"No Ray cluster answers at 127.0.0.1:{port}: start its head there"):
        connect(f"127.0.0.1:{port}")
    monkeypatch.delenv("STUDIO_RAY", raising=False)
    assert cli_main(["cluster"]) == 2
    assert "No Ray cluster is named" in capsys.readouterr().err


def test_a_lost_node_is_named_by_its_ranks():
    lost = [{"rank": 1, "node_id": "f5e5afcc7c97016428", "node_ip": "10.0.0.7"}]
    assert describe_loss(lost, RuntimeError("Training failed due to worker errors:\n  rank 1 died")) == (
        "the cluster lost the node of rank 1 on node 10.0.0.7 (f5e5afcc) (RuntimeError: Training failed due to "
        "worker errors:)")


def test_a_run_that_trained_on_a_cluster_resumes_on_this_machine_and_is_killed_only_from_its_cluster(
        tmp_path, tiny_bert, separable_csv, monkeypatch):
    """The same runs folder served with and without --ray: a run stopped on a node resumes on this machine's queue
    (its node is forgotten, so its liveness is its local worker's again); one still training on a node cannot be
    killed from a studio that does not reach the cluster."""
    import time

    from studio.base import files, runfolder
    from studio.base.runfolder import RunFolder
    from studio.runs.store import Store
    from tests.support import tiny_config

    monkeypatch.delenv("STUDIO_RAY", raising=False)
    store = Store(tmp_path / "runs")
    run_id = store.create(RunConfig.from_dict(tiny_config(tiny_bert, separable_csv, "lora", epochs=1)), start=False)
    rd = store.run_dir(run_id)
    node = {"executor": "ray", "node_id": "ab" * 28, "node_ip": "10.0.0.7", "actor": f"studio-run-{run_id}-1"}
    runfolder.write_status(rd, "running", node=node, cluster={"actor": node["actor"], "attempt": 1},
                           claimed_at=time.time(), pid=None)
    files.atomic_write_json(RunFolder(rd).node, {**node, "heartbeat_at": time.time()})
    with pytest.raises(RunError, match="trains on a node of a Ray cluster"):
        store.kill(run_id)
    runfolder.write_status(rd, "stopped", finished_at=time.time())
    store.resume(run_id)
    st = store.wait(run_id, timeout=300)
    assert st["status"] == "completed" and st.get("node") is None, (st.get("reason"), st.get("node"))
