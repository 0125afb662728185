"""Load on a public deployment: many people queue runs beyond their quota at once.

    .venv/bin/python bench/public_load.py --people 20 --tries 3

Starts `launch.py` on 127.0.0.1 with an accounts file of N people and the public policy (a tiny local model allowed,
runs_active 2, runs_running 1), then every person at once, through the app's API, picks the sample and presses
Start `tries` times. Measures:

- quotas: how many starts were accepted and refused per person (each may have runs_active queued or training);
- processes: the processes under the web process while the runs wait (queued runs have none: they wait in the
  registry), against the number of queued runs;
- memory: the web process's RSS once it is warm (one person's run checked, queued and trained: the imports a first
  run brings), at its peak while everyone queues, and once every run has finished;
- order: whether runs started in the order they were queued (one device, one run of each person at a time).

Prints a table and writes bench/results/public_load.json. Benchmarks are not tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FAST = {"epochs": 1, "max_length": 32, "logging_steps": 2, "batch_size": 32}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return []


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=20)
    ap.add_argument("--tries", type=int, default=3, help="Start presses per person (the quota is 2).")
    ap.add_argument("--waves", type=int, default=2, help="Waves of new people, each once the last one's runs ended: "
                                                         "memory that stays bounded stops growing after the first.")
    ap.add_argument("--sessions", type=int, default=None, help="STUDIO_SESSIONS: browser sessions the web process "
                                                                "keeps (default the app's, 256).")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "public_load.json"))
    a = ap.parse_args()

    from gradio_client import Client

    from studio.base.accounts import Accounts
    from studio.runs.store import Store
    from tests.support import make_learnable_bert

    work = Path(tempfile.mkdtemp(prefix="public-load-"))
    model = make_learnable_bert(work / "tiny-bert")
    accounts = work / "accounts.txt"
    waves = [[f"w{w}-person{i:02d}" for i in range(a.people)] for w in range(a.waves)]
    people = [n for wave in waves for n in wave]
    for name in [*people, "warmup"]:
        Accounts.write_line(accounts, name, f"{name}-pw")
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "STUDIO_PREWARM": "1"}
    if a.sessions:
        env["STUDIO_SESSIONS"] = str(a.sessions)
    cmd = [sys.executable, str(ROOT / "launch.py"), "--host", "127.0.0.1", "--port", str(port), "--auth-file",
           str(accounts), "--policy", "public", "--limit", "local_models=true", "--limit", "model_billions=none",
           "--limit", "runs_active=2", "--runs-dir", str(work / "runs")]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "wb"))
    web = psutil.Process(server.pid)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(240):
        try:
            Client(url, auth=(people[0], f"{people[0]}-pw"), verbose=False)
            break
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.5)
    rss = {"started": web.memory_info().rss}
    warm = Client(url, auth=("warmup", "warmup-pw"), verbose=False)
    warm.predict("support_tickets.csv", api_name="/use_sample")
    _, warm_run = warm.predict(model_custom=str(model), run_name="warmup", api_name="/start_run", **FAST)
    while warm.predict(warm_run, api_name="/run_status")["status"] not in ("completed", "failed", "stopped"):
        time.sleep(1)
    rss["warm"] = web.memory_info().rss
    samples: list[tuple[float, int, int]] = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            procs = tree(web)
            samples.append((time.time(), web.memory_info().rss, len(procs)))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    def person(name: str) -> list[str]:
        client = Client(url, auth=(name, f"{name}-pw"), verbose=False)
        client.predict("support_tickets.csv", api_name="/use_sample")
        out = []
        for i in range(a.tries):
            try:
                msg, run_id = client.predict(model_custom=str(model), run_name=f"{name}-{i}", api_name="/start_run",
                                             **FAST)
                out.append(run_id)
            except Exception as e:  # noqa: BLE001 - a refusal: its sentence
                out.append(f"refused: {str(e)[:160]}")
        return out

    store = Store(work / "runs")
    results, per_wave = {}, []
    for w, wave in enumerate(waves):
        t0 = time.time()
        with ThreadPoolExecutor(max_workers=a.people) as pool:
            results.update(dict(zip(wave, pool.map(person, wave))))
        queued_in = time.time() - t0
        rows = store.list()
        queued = [r for r in rows if r["status"] == "queued" and r["owner"] in wave]
        workers_now = len(tree(web)) - 1
        after_queueing = web.memory_info().rss
        end = time.time() + 3600
        while any(r["status"] in ("queued", "running", "stopping") for r in store.list()) and time.time() < end:
            time.sleep(2)
        per_wave.append({"wave": w, "queueing_seconds": round(queued_in, 1), "queued_after_queueing": len(queued),
                         "processes_under_web_after_queueing": workers_now,
                         "rss_mb_after_queueing": round(after_queueing / 2 ** 20, 1),
                         "rss_mb_after_all_finished": round(web.memory_info().rss / 2 ** 20, 1)})
    stop.set()
    sampler.join()
    rss["peak"] = max(s[1] for s in samples)
    rss["end"] = web.memory_info().rss
    finished = store.list()
    by_seq = sorted((r for r in finished if r["owner"] != "warmup"), key=lambda r: r["seq"])
    started = [r["started_at"] for r in by_seq if r.get("started_at")]
    in_order = all(x <= y for x, y in zip(started, started[1:]))
    server.terminate()
    server.wait(timeout=30)

    accepted = {n: sum(1 for r in v if not r.startswith("refused")) for n, v in results.items()}
    refusals = [r for v in results.values() for r in v if r.startswith("refused")]
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "command": " ".join(["bench/public_load.py", "--people", str(a.people), "--tries", str(a.tries), "--waves",
                             str(a.waves)]
                            + (["--sessions", str(a.sessions)] if a.sessions else [])),
        "people": a.people, "tries": a.tries, "accepted_per_person": sorted(set(accepted.values())),
        "refused": len(refusals), "refusal_example": refusals[0] if refusals else None,
        "waves": per_wave, "max_processes_under_web": max(s[2] for s in samples) - 1,
        "rss_mb": {k: round(v / 2 ** 20, 1) for k, v in rss.items()},
        "statuses": {s: sum(1 for r in by_seq if r["status"] == s) for s in {r["status"] for r in by_seq}},
        "started_in_queue_order": in_order,
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
