"""A run on a Ray cluster against the studio's own queue, and one run over two CPU workers, on real data.

Banking77 (10 training messages per intent, 770 rows; 5 test messages per intent, 385), the bundled MiniLM with the
default method, one epoch, the same config each time; wall clock from `Store.create` to the run's end (worker start,
model load, training, scoring on the test split), as a person waits for it.

- local: the studio's own queue on this machine (no cluster named);
- ray, 2 CPUs: the same run sent to a Ray cluster on loopback (a head with 2 CPUs and a second node with 1), asking
  for 2 CPUs (Ray sets a worker's threads to the CPUs it asked for, so this matches the local run's 2 threads);
- ray, 1 CPU: asking for 1 CPU (1 thread);
- ray, 2 workers x 1 CPU: Ray Train with two workers on the two nodes, batch 8 each (the same 16-row batches).

    .venv/bin/python bench/cluster_overhead.py [--per-class 10] [--epochs 1]

Writes bench/results/cluster_overhead.json.

    .venv/bin/python bench/cluster_overhead.py --storage [--repeats 3]

The run folder through object storage (--cluster-storage; an S3 server on loopback, moto's) against the shared
runs folder: the same "ray, 2 CPUs" run, alternating, `--repeats` times each. Writes bench/results/
cluster_storage.json.

    .venv/bin/python bench/cluster_overhead.py --storage --workers 2 [--repeats 3]

The same for the "ray, 2 workers x 1 CPU" run (Ray Train, a rank on each node: through object storage each node's
rank trains in a copy of its own). Writes bench/results/cluster_storage_workers.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "banking77"


def subset(df: pd.DataFrame, per_class: int, seed: int = 0) -> pd.DataFrame:
    return (df.groupby("category").sample(n=per_class, random_state=seed).sample(frac=1.0, random_state=seed)
            .reset_index(drop=True))


def one_run(runs: Path, train: Path, test: Path, epochs: float, bucket: str | None = None, **training) -> dict:
    from studio.config import RunConfig
    from studio.runs.store import Store

    store = Store(runs, cluster_storage=bucket)
    cfg = RunConfig.from_dict({"model": "sentence-transformers/all-MiniLM-L6-v2",
                               "data": {"train": str(train), "test": str(test), "text_column": "text",
                                        "label_column": "category"},
                               "training": {"epochs": epochs, "device": "cpu", "batch_size": 16, "seed": 0,
                                            "score_base": False, **training}})
    t0 = time.time()
    run_id = store.create(cfg)
    st = store.wait(run_id, timeout=3600, poll=0.2)
    wall = time.time() - t0
    if st["status"] != "completed":
        raise SystemExit(f"run {run_id} {st['status']}: {st.get('reason')}")
    train_s = next((r.get("train_runtime") for r in reversed(
        [json.loads(x) for x in (store.run_dir(run_id) / "metrics.jsonl").read_text().splitlines()])
        if r.get("train_runtime")), None)
    return {"wall_seconds": round(wall, 1), "started_after_seconds": round(st["started_at"] - t0, 1),
            "train_runtime": train_s, "accuracy": st["test_metrics"]["accuracy"],
            "macro_f1": st["test_metrics"]["f1"], "steps": st.get("max_steps"),
            "nodes": sorted({w["node_id"][:8] for w in st.get("worker_nodes") or []})
            or ([st["node"]["node_id"][:8]] if st.get("node") else [])}


def storage(work: Path, train: Path, test: Path, epochs: float, repeats: int, workers: int = 1) -> dict:
    """The same run on the cluster with a shared runs folder and through object storage, alternating."""
    training = {"cluster_cpus": 2} if workers == 1 else {"cluster_cpus": 1, "num_processes": workers,
                                                         "num_machines": workers, "batch_size": 16 // workers}
    from tests.object_store import bucket_on_loopback
    from tests.ray_cluster import LocalCluster

    results: dict[str, list] = {"shared runs folder": [], "object storage (S3 on loopback)": []}
    cluster = LocalCluster(head_cpus=2, head_resources={"node_a": 1})
    try:
        cluster.add_node("node_b", cpus=1)
        os.environ["STUDIO_RAY"] = cluster.address
        with bucket_on_loopback("bench") as url:
            for i in range(repeats):
                for name, bucket in (("shared runs folder", None), ("object storage (S3 on loopback)", url)):
                    got = one_run(work / f"{'bucket' if bucket else 'shared'}{i}", train, test, epochs, bucket,
                                  **training)
                    results[name].append(got)
                    print(name, got, flush=True)
    finally:
        import ray

        ray.shutdown()
        cluster.stop()
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-class", type=int, default=10)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--storage", action="store_true", help="shared runs folder against object storage")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1, help="with --storage: Ray Train workers (one per node)")
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    work = Path(tempfile.mkdtemp(prefix="cluster-bench-"))
    train = work / "train.csv"
    test = work / "test.csv"
    subset(pd.read_csv(DATA / "train.csv"), a.per_class).to_csv(train, index=False)
    subset(pd.read_csv(DATA / "test.csv"), 5).to_csv(test, index=False)
    if a.storage:
        out = {"command": "python bench/cluster_overhead.py " + " ".join(sys.argv[1:]),
               "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
               "train_rows": 77 * a.per_class, "test_rows": 385, "epochs": a.epochs,
               "workers": a.workers, "results": storage(work, train, test, a.epochs, a.repeats, a.workers)}
        path = ROOT / "bench" / "results" / ("cluster_storage.json" if a.workers == 1 else
                                             "cluster_storage_workers.json")
        path.write_text(json.dumps(out, indent=2) + "\n")
        print(json.dumps(out, indent=2))
        return

    results = {"local": one_run(work / "local", train, test, a.epochs)}
    print("local", results["local"], flush=True)
    from tests.ray_cluster import LocalCluster

    cluster = LocalCluster(head_cpus=2, head_resources={"node_a": 1})
    try:
        cluster.add_node("node_b", cpus=1)
        os.environ["STUDIO_RAY"] = cluster.address
        for name, training in (("ray, 2 CPUs", {"cluster_cpus": 2}), ("ray, 1 CPU", {"cluster_cpus": 1}),
                               ("ray, 2 workers x 1 CPU", {"cluster_cpus": 1, "num_processes": 2, "num_machines": 2,
                                                           "batch_size": 8})):
            results[name] = one_run(work / name.replace(" ", "_").replace(",", ""), train, test, a.epochs,
                                    **training)
            print(name, results[name], flush=True)
    finally:
        import ray

        ray.shutdown()
        cluster.stop()
    out = {"command": "python bench/cluster_overhead.py " + " ".join(sys.argv[1:]),
           "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
           "train_rows": 77 * a.per_class, "test_rows": 385, "epochs": a.epochs, "results": results}
    path = ROOT / "bench" / "results" / "cluster_overhead.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
