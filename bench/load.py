"""Load on one studio server: sessions starting runs at once, the UI while runs train, concurrent predictions.

    .venv/bin/python bench/load.py                      # bundled MiniLM + LoRA, 1 epoch of the sample
    .venv/bin/python bench/load.py --sessions 2 --runs-per-session 2 --predictions 50

The app is built with components.app.build_app() and served on a free local port; everything goes through
gradio_client, as a script or a browser would:

1. N sessions each start M runs at the same moment (threads): every run must complete, ids distinct, exactly
   N*M rows in the runs list, and no two runs trained at once on the one device (started_at/finished_at).
2. While they train, a watcher session times the light calls a page makes (runs list, status poll).
3. K concurrent playground predictions (threads over several sessions) on the first finished run; each
   answer is checked against studio.serve.inference.predict; p50/p95 of the wait per request.

Writes bench/results/load.json and prints the figures. tests/components/test_load.py is the small variant
that runs in CI (a tiny model, the same checks, no timing assertions).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.latency import summary  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TEXTS = ["I was charged twice for my subscription", "Where is my parcel?", "The app crashes when I log in",
         "How do I reset my password?", "Refund the duplicate payment please"]




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    ap.add_argument("--method", default="lora")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--sessions", type=int, default=2)
    ap.add_argument("--runs-per-session", type=int, default=2)
    ap.add_argument("--predictions", type=int, default=50)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "load.json"))
    a = ap.parse_args()

    from gradio_client import Client

    from studio.base import runfolder
    from studio.serve import inference
    from tests.components.ui_support import running_app, stop_active_runs

    runs_dir = Path(tempfile.mkdtemp(prefix="studio-load-")) / "runs"
    form = {"model_custom": a.model, "method": a.method, "epochs": a.epochs, "batch_size": a.batch_size}
    result: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                    "model": a.model, "method": a.method, "epochs": a.epochs}
    with running_app(runs_dir) as url:
        try:
            sessions = [Client(url, verbose=False) for _ in range(a.sessions)]
            for s in sessions:
                s.predict("support_tickets.csv", api_name="/use_sample")
            t0 = time.time()
            jobs = [s.submit(run_name=f"load-{i}-{j}", api_name="/start_run", **form)
                    for i, s in enumerate(sessions) for j in range(a.runs_per_session)]
            run_ids = [job.result(timeout=600)[1] for job in jobs]
            watcher = Client(url, verbose=False)
            list_t, status_t, poll_t = [], [], []
            while not all(runfolder.read_status(runs_dir / r)["status"] in runfolder.FINISHED for r in run_ids):
                for bucket, call in ((list_t, lambda: watcher.predict(api_name="/list_runs")),
                                     (status_t, lambda: watcher.predict(run_ids[0], api_name="/run_status")),
                                     (poll_t, lambda: watcher.predict(run_ids[0], api_name="/poll_run"))):
                    s0 = time.perf_counter()
                    call()
                    bucket.append(time.perf_counter() - s0)
                time.sleep(0.25)
            wall = time.time() - t0
            done = [runfolder.read_status(runs_dir / r) for r in run_ids]
            spans = sorted((s["started_at"], s["finished_at"]) for s in done)
            table, *_ = watcher.predict(api_name="/list_runs")
            result["runs"] = {
                "started": len(run_ids), "distinct_ids": len(set(run_ids)), "rows_listed": len(table["data"]),
                "completed": sum(s["status"] == "completed" for s in done),
                "overlapping": sum(b[0] < a_[1] for a_, b in zip(spans, spans[1:])),
                "wall_s": round(wall, 1),
                "per_run_s": [round(s["finished_at"] - s["started_at"], 1) for s in done],
                "test_accuracy": [s.get("test_metrics", {}).get("accuracy") for s in done]}
            result["ui_while_training"] = {"list_runs": summary(list_t), "run_status": summary(status_t),
                                           "poll_run": summary(poll_t)}

            run_id = run_ids[0]
            texts = [TEXTS[i % len(TEXTS)] + f" (ticket {i})" for i in range(a.predictions)]
            expected = [inference.predict(runs_dir / run_id, [t])[0] for t in texts]
            clients = [Client(url, verbose=False) for _ in range(5)]

            def ask(i: int):
                s0 = time.perf_counter()
                out = clients[i % len(clients)].predict(run_id, texts[i], api_name="/predict")
                return out, time.perf_counter() - s0

            s0 = time.perf_counter()
            with ThreadPoolExecutor(max_workers=a.predictions) as pool:
                answers = list(pool.map(ask, range(a.predictions)))
            total = time.perf_counter() - s0
            correct = sum(out["label"] == want["label"] and all(
                abs(c["confidence"] - want["probabilities"][c["label"]]) < 1e-4 for c in out["confidences"])
                for (out, _), want in zip(answers, expected))
            result["predictions"] = {**summary([t for _, t in answers]), "correct": correct,
                                     "total_s": round(total, 3)}
        finally:
            stop_active_runs(runs_dir)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
