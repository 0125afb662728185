"""Two runs training on one CPU at once, each in its own runs folder: samples/s with the studio's fair shares
of the cores (studio.training.cpu_share) against one run alone and against both taking every core (STUDIO_CPU_SHARE=0
turns the sharing off for the comparison).

    .venv/bin/python bench/cpu_share.py

Each run: the bundled MiniLM with LoRA on the bundled support-ticket sample, --epochs epochs. Writes
bench/results/cpu_share.json: samples/s of each run in each setting (the Trainer's own train_samples_per_second)
and the wall time until both finished.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT / "assets" / "samples" / "support_tickets.csv"


def speeds(stores_and_runs) -> list[float]:
    from studio.base import runfolder

    out = []
    for store, run_id in stores_and_runs:
        st = store.wait(run_id, timeout=3600)
        if st["status"] != "completed":
            raise SystemExit(f"run {run_id} {st['status']}: {st.get('reason')}")
        summary = [r for r in runfolder.read_metrics(store.run_dir(run_id)) if r["kind"] == "summary"]
        out.append(round(summary[-1]["train_samples_per_second"], 1))
    return out


def setting(work: Path, name: str, runs: int, epochs: float, share: bool) -> dict:
    from studio.config import RunConfig
    from studio.runs.store import Store

    os.environ["STUDIO_CPU_SHARE"] = "1" if share else "0"  # read by the workers, which inherit it
    cfg = RunConfig.from_dict({"data": {"train": str(SAMPLE)},
                               "training": {"epochs": epochs, "score_base": False, "seed": 42}})
    t0 = time.time()
    started = []
    for i in range(runs):
        store = Store(work / f"{name}-{i}")  # separate runs folders: each has its own queue, so both train at once
        started.append((store, store.create(cfg)))
    got = speeds(started)
    return {"setting": name, "runs": runs, "shared": share, "samples_per_second": got,
            "wall_seconds": round(time.time() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=float, default=2.0)
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    work = ROOT / "bench" / "_work" / f"cpu-share-{int(time.time())}"
    work.mkdir(parents=True)
    rows = [setting(work, "alone", 1, a.epochs, True), setting(work, "two, shared", 2, a.epochs, True),
            setting(work, "two, every core each", 2, a.epochs, False)]
    for r in rows:
        print(f"{r['setting']:24} samples/s {r['samples_per_second']}  wall {r['wall_seconds']} s", flush=True)
    res = {"machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
           "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "epochs": a.epochs, "rows": rows}
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "cpu_share.json").write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
