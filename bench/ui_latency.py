"""How fast the UI answers while a run trains: the light calls a page makes, timed from a client.

    .venv/bin/python bench/ui_latency.py                 # bundled MiniLM + LoRA, 1 epoch of the sample
    .venv/bin/python bench/ui_latency.py --model PATH --epochs 2

Serves components.app.build_app() on a free local port, times the runs list (/list_runs), the status poll
(/run_status) and the Train tab's redraw (/poll_run, which its timer's tick runs when the run folder changed: it
reads new metric lines and redraws the charts) first with nothing training (idle), then every 0.25 s while one run
trains on the same machine.
Writes bench/results/ui_latency.json and prints p50/p95/max per call. tests/components/test_load.py checks
the same calls answer while runs train (without timing assertions).
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.latency import summary  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    ap.add_argument("--method", default="lora")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--idle-calls", type=int, default=20)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "ui_latency.json"))
    a = ap.parse_args()

    from gradio_client import Client

    from studio.base import runfolder
    from tests.components.ui_support import running_app, stop_active_runs

    runs_dir = Path(tempfile.mkdtemp(prefix="studio-latency-")) / "runs"
    result: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                    "model": a.model, "method": a.method, "epochs": a.epochs}
    with running_app(runs_dir) as url:
        try:
            page, watcher = Client(url, verbose=False), Client(url, verbose=False)
            page.predict("support_tickets.csv", api_name="/use_sample")

            def sample(run_id: str | None) -> dict[str, float]:
                out = {}
                for name, call in (("list_runs", lambda: watcher.predict(api_name="/list_runs")),
                                   ("run_status", lambda: watcher.predict(run_id, api_name="/run_status")),
                                   ("poll_run", lambda: watcher.predict(run_id, api_name="/poll_run"))):
                    if run_id is None and name != "list_runs":
                        continue
                    s0 = time.perf_counter()
                    call()
                    out[name] = time.perf_counter() - s0
                return out

            idle = [sample(None) for _ in range(a.idle_calls)]
            result["idle"] = {"list_runs": summary([s["list_runs"] for s in idle])}
            _, run_id = page.predict(model_custom=a.model, method=a.method, epochs=a.epochs, api_name="/start_run")
            busy: list[dict[str, float]] = []
            while runfolder.read_status(runs_dir / run_id)["status"] in runfolder.ACTIVE:
                if runfolder.read_status(runs_dir / run_id)["status"] == "running":
                    busy.append(sample(run_id))
                time.sleep(0.25)
            result["status"] = runfolder.read_status(runs_dir / run_id)["status"]
            result["while_training"] = {k: summary([s[k] for s in busy])
                                        for k in ("list_runs", "run_status", "poll_run")}
        finally:
            stop_active_runs(runs_dir)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
