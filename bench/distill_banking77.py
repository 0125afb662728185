"""Distillation on Banking77: a fully fine-tuned MiniLM teaches minilm-l3 (MiniLM with 3 of its 6 layers).

One slice: --per-intent training rows per intent, --val-per-intent validation rows per intent (both from
Banking77's train file, seeded), the official test rows (--test-per-intent per intent). The teacher trains once
(full fine-tuning of the bundled MiniLM, --teacher-epochs). Then, for each seed, the student (minilm-l3, full
fine-tuning, --epochs) trains three ways through the studio's real path, same data, epochs and seed:

    alone       on the labels alone (the run distillation queues beside itself: compare_alone)
    distilled   on the labels and the teacher's softened probabilities (temperature 2, teacher weight 0.5)
    +transfer   the same, plus --transfer-per-intent unlabelled training texts per intent that only the teacher labels

Each distilled run's report holds the teacher's and the student's measured speed (median latency of one text,
texts per second in batches of 64, on this machine's CPU).

    .venv/bin/python bench/distill_banking77.py --per-intent 20 --seeds 0 1 2

Writes bench/results/distill_banking77.json and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

from studio.base.files import read_json
from studio.base.runfolder import RunFolder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "banking77"
OUT = ROOT / "bench" / "results" / "distill_banking77.json"


def files(work: Path, a) -> dict[str, Path]:
    train = pd.read_csv(DATA / "train.csv").sample(frac=1.0, random_state=0)
    picked = train.groupby("category").head(a.per_intent + a.val_per_intent + a.transfer_per_intent)
    rank = picked.groupby("category").cumcount()
    out = {k: work / f"{k}.csv" for k in ("train", "validation", "test", "transfer")}
    picked[rank < a.per_intent].to_csv(out["train"], index=False)
    picked[(rank >= a.per_intent) & (rank < a.per_intent + a.val_per_intent)].to_csv(out["validation"], index=False)
    picked[rank >= a.per_intent + a.val_per_intent][["text"]].to_csv(out["transfer"], index=False)
    pd.read_csv(DATA / "test.csv").groupby("category").sample(n=a.test_per_intent, random_state=0).to_csv(
        out["test"], index=False)
    return out


def run(store, raw: dict) -> str:
    from studio.config import RunConfig

    run_id = store.create(RunConfig.from_dict(raw))
    st = store.wait(run_id, timeout=6 * 3600)
    if st["status"] != "completed":
        raise SystemExit(f"{raw.get('name')}: run {run_id} {st['status']}: {st.get('reason')}")
    return run_id


def report(store, run_id: str) -> dict:

    return read_json(RunFolder(store.run_dir(run_id)).report)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-intent", type=int, default=20)
    ap.add_argument("--val-per-intent", type=int, default=3)
    ap.add_argument("--transfer-per-intent", type=int, default=20)
    ap.add_argument("--test-per-intent", type=int, default=20)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=float, default=5.0)
    ap.add_argument("--teacher-epochs", type=float, default=5.0)
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from studio.runs.store import Store

    work = ROOT / "bench" / "_work" / f"distill-{int(time.time())}"
    work.mkdir(parents=True)
    store = Store(work / "runs")
    paths = files(work, a)
    data = {k: str(paths[k]) for k in ("train", "validation", "test")}
    t0 = time.time()
    teacher = run(store, {"model": "minilm", "method": "full", "name": "teacher", "data": data,
                          "training": {"epochs": a.teacher_epochs, "seed": 0, "score_base": False}})
    print("teacher", report(store, teacher)["metrics"], flush=True)
    rows = {"alone": {}, "distilled": {}, "+transfer": {}}
    speed = {}
    for seed in a.seeds:
        student = {"model": "minilm-l3", "method": "full", "data": data,
                   "training": {"epochs": a.epochs, "seed": seed, "score_base": False}}
        distilled = run(store, {**student, "name": f"distilled-{seed}", "distill": {"teacher": teacher}})
        rep = report(store, distilled)
        alone = rep["distillation"]["alone"]
        st = store.wait(alone, timeout=6 * 3600)
        assert st["status"] == "completed", st
        transfer = run(store, {**student, "name": f"transfer-{seed}",
                               "distill": {"teacher": teacher, "transfer": str(paths["transfer"]),
                                           "compare_alone": False}})
        for name, rid in (("alone", alone), ("distilled", distilled), ("+transfer", transfer)):
            m = report(store, rid)["metrics"]
            rows[name][str(seed)] = {"accuracy": m["accuracy"], "macro_f1": m["f1"], "run": rid}
            print(seed, name, rows[name][str(seed)], flush=True)
        speed[str(seed)] = {k: rep["distillation"][k] for k in ("teacher", "student")}
        _write(a, rows, speed, time.time() - t0)
    print(table(json.loads(OUT.read_text())))


def _write(a, rows: dict, speed: dict, seconds: float) -> None:
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({
        "dataset": "banking77", "per_intent": a.per_intent, "val_per_intent": a.val_per_intent,
        "transfer_per_intent": a.transfer_per_intent, "test_rows": a.test_per_intent * 77, "epochs": a.epochs,
        "teacher_epochs": a.teacher_epochs, "minutes": round(seconds / 60, 1),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "students": rows, "speed": speed}, indent=2))


def table(res: dict) -> str:
    speeds = list(res["speed"].values())
    t = speeds[0]["teacher"]
    lines = ["| model | accuracy | macro F1 | parameters | ms per text | texts per second |",
             "|---|---:|---:|---:|---:|---:|",
             f"| teacher: MiniLM (6 layers), full | {t['metrics']['accuracy']:.3f} | {t['metrics']['f1']:.3f} | "
             f"{t['parameters'] / 1e6:.1f}M | {_med(s['teacher']['latency_ms'] for s in speeds):.1f} | "
             f"{_med(s['teacher']['texts_per_second'] for s in speeds):.0f} |"]
    s = speeds[0]["student"]
    for name, runs in res["students"].items():
        acc = [r["accuracy"] for r in runs.values()]
        f1 = [r["macro_f1"] for r in runs.values()]
        lines.append(f"| student: minilm-l3, {name} | {_fmt(acc)} | {_fmt(f1)} | {s['parameters'] / 1e6:.1f}M | "
                     f"{_med(x['student']['latency_ms'] for x in speeds):.1f} | "
                     f"{_med(x['student']['texts_per_second'] for x in speeds):.0f} |")
    return "\n".join(lines)


def _med(xs) -> float:
    return statistics.median(list(xs))


def _fmt(xs) -> str:
    return f"{statistics.mean(xs):.3f} ± {statistics.stdev(xs):.3f}" if len(xs) > 1 else f"{xs[0]:.3f}"


if __name__ == "__main__":
    main()
