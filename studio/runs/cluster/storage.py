"""Whether every node of the cluster reaches the runs folder (or the object storage run folders travel through,
studio.runs.cluster.bucket): the folder is the truth (config, status, metrics, checkpoints, the model), so a node
that sees another folder at that path, or none, would train a run nobody sees.

The head writes a probe file with a fresh token into the runs folder; a small task pinned to each alive node reads
it back and writes an answer beside it, which the head reads. Checked before the first run and again whenever the
set of nodes changes (a node that joins later is checked before it gets a run)."""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path

from studio.base import files
from studio.runs.cluster.connect import connect

PROBE = ".cluster-probe"
_CHECKED: dict[tuple[str, frozenset[str]], tuple[str | None, float]] = {}
RECHECK_FAILURE_S = 60.0  # a node whose mount the operator fixed gets runs within a minute
_LOCK = threading.Lock()


def _read_on_node(root: str, token: str, node_id: str) -> str | None:
    """On the node: None when it reads the head's token from the runs folder and leaves its own answer there."""
    import os

    probe = os.path.join(root, PROBE)
    try:
        with open(probe, encoding="utf-8") as fh:
            seen = fh.read().strip()
    except OSError as e:
        return f"cannot read the runs folder {root} ({type(e).__name__}: {e.strerror or e})"
    if seen != token:
        return f"sees another folder at {root} (not the one the studio writes)"
    try:
        with open(os.path.join(root, f"{PROBE}-{node_id[:12]}"), "w", encoding="utf-8") as fh:
            fh.write(token)
    except OSError as e:
        return f"cannot write to the runs folder {root} ({type(e).__name__}: {e.strerror or e})"
    return None


def _read_bucket_on_node(url: str, token: str, node_id: str) -> str | None:
    """On the node: None when it reads the head's token from the object store and leaves its own answer there."""
    from studio.runs.cluster import bucket

    where = bucket.shown(url)
    try:
        fs, base = bucket.open_url(url)
        with fs.open_input_stream(f"{base.rstrip('/')}/{PROBE}") as fh:
            seen = fh.read().decode("utf-8").strip()
    except Exception as e:  # noqa: BLE001 - credentials, network and missing objects fail differently per store
        return f"cannot read {where} ({type(e).__name__}: {_first_line(e)})"
    if seen != token:
        return f"sees another {where} (not the one the studio writes)"
    try:
        with fs.open_output_stream(f"{base.rstrip('/')}/{PROBE}-{node_id[:12]}") as fh:
            fh.write(token.encode())
    except Exception as e:  # noqa: BLE001
        return f"cannot write to {where} ({type(e).__name__}: {_first_line(e)})"
    return None


def _first_line(e: BaseException) -> str:
    return next((ln.strip() for ln in str(e).splitlines() if ln.strip()), "")[:200]


def _each_node_answers(on_node, place: str, token: str, answer, timeout: float) -> list[str]:
    """Run `on_node(place, token, node_id)` pinned to each alive node (None: it read the token and left its answer),
    then `answer(node key, look)`, which reads that answer when `look` (None: it holds the token; else why not) and
    tidies it away. One sentence per node that failed."""
    ray = connect()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    remote = ray.remote(num_cpus=0, max_retries=0)(on_node)
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    refs = {n["NodeID"]: remote.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
            .remote(place, token, n["NodeID"]) for n in nodes}
    problems = []
    deadline = time.time() + timeout
    for n in nodes:
        where = f"node {n['NodeManagerAddress']} ({n['NodeID'][:8]})"
        try:
            why = ray.get(refs[n["NodeID"]], timeout=max(1.0, deadline - time.time()))
        except ray.exceptions.TaskUnschedulableError:
            continue  # a node that died a moment ago, still listed: it gets no run either
        except Exception as e:  # noqa: BLE001 - a node that does not answer cannot be trusted with a run either
            why = f"did not answer the check ({type(e).__name__})"
        why = answer(n["NodeID"][:12], why is None) or why
        if why:
            problems.append(f"{where} {why}")
    return problems


def check_bucket(url: str, timeout: float = 120.0) -> list[str]:
    """As check, for run folders that travel through object storage: the studio writes the token there, each node
    reads it and answers beside it."""
    from studio.runs.cluster import bucket

    token = secrets.token_hex(8)
    try:
        fs, base = bucket.open_url(url)
        base = base.rstrip("/")
        with fs.open_output_stream(f"{base}/{PROBE}") as fh:
            fh.write(token.encode())
    except Exception as e:  # noqa: BLE001
        return [f"this studio cannot write to {bucket.shown(url)} ({type(e).__name__}: {_first_line(e)})"]

    def answer(key: str, look: bool) -> str | None:
        path, why = f"{base}/{PROBE}-{key}", None
        if look:
            try:
                with fs.open_input_stream(path) as fh:
                    if fh.read().decode("utf-8").strip() != token:
                        why = f"writes to another {bucket.shown(url)}"
            except Exception:  # noqa: BLE001
                why = f"writes to another {bucket.shown(url)} (its answer never reached this one)"
        try:
            fs.delete_file(path)
        except Exception:  # noqa: BLE001 - nothing to tidy where the node wrote nothing
            pass
        return why

    try:
        return _each_node_answers(_read_bucket_on_node, url, token, answer, timeout)
    finally:
        try:
            fs.delete_file(f"{base}/{PROBE}")
        except Exception:  # noqa: BLE001
            pass


def check(root: Path, timeout: float = 120.0) -> list[str]:
    """One sentence per alive node that does not share the runs folder; empty when all do."""
    root = Path(root).resolve()
    token = secrets.token_hex(8)
    files.atomic_write_text(root / PROBE, token)

    def answer(key: str, look: bool) -> str | None:
        path, why = root / f"{PROBE}-{key}", None
        if look and (not path.exists() or path.read_text(encoding="utf-8").strip() != token):
            why = f"writes to another folder at {root} (its answer never reached this one)"
        path.unlink(missing_ok=True)
        return why

    try:
        return _each_node_answers(_read_on_node, str(root), token, answer, timeout)
    finally:
        (root / PROBE).unlink(missing_ok=True)


def sentence(root: Path, problems: list[str], url: str | None = None) -> str:
    if url:
        from studio.runs.cluster import bucket

        return (f"The studio and every node of the cluster must reach the object storage {bucket.shown(url)} "
                f"(--cluster-storage) with credentials that may read and write it: {'; '.join(problems)}. Runs wait "
                "until they do.")
    return (f"Every node of the cluster must reach the runs folder {Path(root).resolve()} (a shared file system "
            f"mounted at the same path): {'; '.join(problems)}. Runs wait until it does.")


def problem(root: Path, url: str | None = None) -> str | None:
    """The sentence for the current set of nodes (checked once per set), or None when every node shares the folder
    (or, with `url`, reaches the object storage the runs travel through)."""
    ray = connect()
    key = (url or str(Path(root).resolve()), frozenset(n["NodeID"] for n in ray.nodes() if n.get("Alive")))
    with _LOCK:
        got = _CHECKED.get(key)
        if got is None or (got[0] is not None and time.time() - got[1] > RECHECK_FAILURE_S):
            found = check_bucket(url) if url else check(root)
            got = _CHECKED[key] = (sentence(root, found, url) if found else None, time.time())
        return got[0]


def forget() -> None:
    """Check again next time (`studio cluster --check`, tests)."""
    with _LOCK:
        _CHECKED.clear()
