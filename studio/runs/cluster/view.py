"""The cluster as a person reads it: its nodes with their CPUs, GPUs and memory free and used, which runs train
where, and what each queued run waits for. `studio cluster` prints it; the Runs tab's Cluster panel shows it.

Runs are listed as the Store's person may see them: another person's run shows as one, without its id or name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from studio.base import runfolder
from studio.base.access import LOCAL
from studio.runs.cluster import bucket, storage
from studio.runs.cluster.asks import Asks, fits_somewhere
from studio.runs.cluster.connect import connect

if TYPE_CHECKING:
    from studio.runs.store import Store

STANDARD = ("CPU", "GPU", "memory", "object_store_memory")
HIDDEN_STORAGE = "a node of the cluster cannot reach the runs folder; runs wait until the operator fixes it"


def _available_per_node(ray) -> dict[str, dict[str, float]]:
    try:  # what each node has free now; Ray keeps it in its state API's private module
        from ray._private.state import available_resources_per_node

        return available_resources_per_node()
    except Exception:  # noqa: BLE001 - without it the view shows totals only
        return {}


def snapshot(store: "Store") -> dict[str, Any]:
    """Nodes, the runs on each, the queued runs and why they wait (JSON-ready)."""
    ray = connect(store.cluster)
    free = _available_per_node(ray)
    nodes = []
    for n in ray.nodes():
        total = {k: v for k, v in n["Resources"].items() if not k.startswith("node:")}
        nodes.append({"node_id": n["NodeID"], "address": n["NodeManagerAddress"], "alive": bool(n.get("Alive")),
                      "head": "node:__internal_head__" in n["Resources"], "total": total,
                      "free": ({k: v for k, v in free[n["NodeID"]].items() if not k.startswith("node:")}
                               if n["NodeID"] in free else None),
                      "runs": []})
    by_id = {n["node_id"]: n for n in nodes}
    queued = []
    visible = {r["id"] for r in store.list()}
    for r in store.as_person(LOCAL).list():
        if r["status"] not in runfolder.ACTIVE:
            continue
        st = runfolder.read_status(store.root / r["id"])
        mine = r["id"] in visible
        label = r["id"] if mine else "another person's run"
        if r["status"] == "queued":
            queued.append({"run": label, "asks": (st.get("cluster") or {}).get("asks"),
                           "why": _why_waiting(st, nodes, store) if mine else ""})
            continue
        places = {(st.get("node") or {}).get("node_id")}
        places |= {w.get("node_id") for w in st.get("worker_nodes") or []}
        for node_id in places:
            if node_id in by_id:
                by_id[node_id]["runs"].append({"run": label, "status": r["status"]})
    problem = storage.problem(store.root, store.cluster_storage)
    if not store.person.sees_all:  # the machines' addresses and the server's folders are the operator's business
        for i, n in enumerate(nodes, 1):
            n.update(address=f"node {i}", node_id="")
        if problem:
            for q in queued:
                q["why"] = HIDDEN_STORAGE if q["why"] == problem or "runs folder" in q["why"] else q["why"]
            problem = HIDDEN_STORAGE
    # Where the nodes find run folders: the operator's business, as the addresses are.
    travels = bucket.shown(store.cluster_storage) if store.cluster_storage and store.person.sees_all else ""
    return {"address": store.cluster if store.person.sees_all else "", "nodes": nodes, "queued": queued,
            "storage": problem, "bucket": travels}


def _why_waiting(st: dict[str, Any], nodes: list[dict[str, Any]], store: "Store") -> str:
    c = st.get("cluster") or {}
    if c.get("waiting"):
        return c["waiting"]
    if not c.get("asks"):
        return "not handed to the cluster yet"
    raw = {k: v for k, v in c["asks"].items() if k != "described"}
    asks = Asks(**raw)
    missing = fits_somewhere(asks, [n["total"] for n in nodes if n["alive"]])
    if missing:
        return f"no node has {missing}: it waits for a node that has to join"
    return f"waiting for {asks.describe()} to be free"


def _used(node: dict[str, Any], key: str) -> float:
    """In use on the node: Ray leaves a resource out of what is free once all of it is taken."""
    if node["free"] is None:
        return 0.0
    return node["total"][key] - node["free"].get(key, 0.0)


def _amount(key: str, value: float) -> str:
    return f"{value / 2**30:.1f} GiB" if key in ("memory", "object_store_memory") else f"{value:g}"


def text(snap: dict[str, Any], zh: bool = False) -> str:
    """The snapshot as lines for a terminal or a page (in Chinese with zh)."""
    alive = sum(n["alive"] for n in snap["nodes"])
    where = f" at {snap['address']}" if snap.get("address") else ""
    lines = [f"Ray 集群{where.replace(' at ', ' ')}：{alive} 个节点在线" if zh
             else f"Ray cluster{where}: {alive} node{'s' if alive != 1 else ''} alive"]
    if snap.get("bucket"):
        lines.append(f"  运行文件夹经对象存储 {snap['bucket']} 传到节点" if zh
                     else f"  run folders travel to the nodes through {snap['bucket']}")
    if snap.get("storage"):
        lines.append(f"  ! {snap['storage']}")
    for n in snap["nodes"]:
        if not n["alive"]:
            continue
        used = ", ".join(f"{k} {_amount(k, _used(n, k))}/{_amount(k, n['total'][k])}"
                         for k in ("CPU", "GPU", "memory") if k in n["total"])
        custom = ", ".join(f"{k} {v:g}" for k, v in n["total"].items() if k not in STANDARD)
        runs = ", ".join(f"{r['run']} ({r['status']})" for r in n["runs"]) or ("无运行" if zh else "no run")
        kind = ("头节点" if n["head"] else "节点") if zh else ("head" if n["head"] else "node")
        ident = f" ({n['node_id'][:8]})" if n["node_id"] else ""
        lines.append(f"  {kind} {n['address']}{ident}: " + ("已用 " if zh else "used ") + used
                     + (f"; {custom}" if custom else "") + f"; {runs}")
    if snap["queued"]:
        lines.append(f"  {'排队' if zh else 'queued'}: {len(snap['queued'])}")
        for q in snap["queued"]:
            lines.append(f"    {q['run']}" + (f": {q['why']}" if q["why"] else ""))
    return "\n".join(lines)
