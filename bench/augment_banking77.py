"""Augmentation on low-resource slices of Banking77: test accuracy with and without each operation, same seeds.

For each seed, a slice of --per-intent training rows per intent (drawn with that seed), a validation file of
--val-per-intent other training rows per intent (never augmented), and the official test rows (--test-per-intent
per intent, fixed). Every condition trains the studio's defaults (LoRA on the bundled MiniLM, 3 epochs, seed =
the slice's seed) through the real path (registry, worker) on the same files; only `augment` differs:

    none          no augmentation
    none-2x       no augmentation, twice the epochs: as many optimizer steps as one copy per row (the control)
    none-5x       no augmentation, five times the epochs: eda's optimizer steps (its control)
    swap, delete, insert, synonym, paraphrase   one new row per training row by that operation (copies 1)
    eda           the four word operations in turn, 4 new rows per training row (copies 4), as in EDA

    .venv/bin/python bench/augment_banking77.py --per-intent 5 10 --seeds 0 1 2
    .venv/bin/python bench/augment_banking77.py --per-intent 5 --seeds 0 --conditions paraphrase

Writes bench/results/augment_banking77.json (every run's scores, kept and extended by later calls with other
conditions or seeds) and prints the table of means: accuracy and macro F1, mean +- standard deviation over seeds.
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
OUT = ROOT / "bench" / "results" / "augment_banking77.json"
CONDITIONS = {
    "none": {},
    "none-2x": {},
    "none-5x": {},
    "swap": {"copies": 1, "operations": "swap"},
    "delete": {"copies": 1, "operations": "delete"},
    "insert": {"copies": 1, "operations": "insert"},
    "synonym": {"copies": 1, "operations": "synonym"},
    "eda": {"copies": 4, "operations": "swap, delete, insert, synonym"},
    "paraphrase": {"copies": 1, "operations": "paraphrase"},
}

STEPS = {"none-2x": 2, "none-5x": 5}  # the controls: the optimizer steps of copies 1 and of eda's copies 4


def files(work: Path, per_intent: int, val_per_intent: int, test_per_intent: int, seed: int) -> dict[str, Path]:
    train = pd.read_csv(DATA / "train.csv").sample(frac=1.0, random_state=seed)
    picked = train.groupby("category").head(per_intent + val_per_intent)
    ranks = picked.groupby("category").cumcount()
    out = {"train": work / "train.csv", "validation": work / "validation.csv", "test": work / "test.csv"}
    picked[ranks < per_intent].to_csv(out["train"], index=False)
    picked[ranks >= per_intent].to_csv(out["validation"], index=False)
    test = pd.read_csv(DATA / "test.csv").groupby("category").sample(n=test_per_intent, random_state=0)
    test.to_csv(out["test"], index=False)
    return out


def one_run(store, paths: dict[str, Path], condition: str, seed: int, epochs: float) -> dict:
    from studio.config import RunConfig

    raw = {"model": "sentence-transformers/all-MiniLM-L6-v2", "name": condition,
           "data": {k: str(v) for k, v in paths.items()},
           "training": {"seed": seed, "score_base": False, "epochs": epochs * STEPS.get(condition, 1)},
           "augment": CONDITIONS[condition]}
    t0 = time.time()
    run_id = store.create(RunConfig.from_dict(raw))
    st = store.wait(run_id, timeout=6 * 3600)
    if st["status"] != "completed":
        raise SystemExit(f"{condition} seed {seed}: run {run_id} {st['status']}: {st.get('reason')}")
    rd = store.run_dir(run_id)
    metrics = read_json(RunFolder(rd).report)["metrics"]
    aug = (read_json(RunFolder(rd).data_report) or {}).get("augmentation") or {}
    return {"accuracy": metrics["accuracy"], "macro_f1": metrics["f1"], "run": run_id,
            "train_rows": aug.get("train_rows_after"), "seconds": round(time.time() - t0, 1)}


def table(results: dict) -> str:
    lines = ["| rows per intent | condition | seeds | accuracy | macro F1 | vs none (accuracy) |",
             "|---:|---|---:|---:|---:|---:|"]
    for slice_key in sorted(results, key=int):
        runs = results[slice_key]
        base = _mean([r["accuracy"] for r in runs.get("none", {}).values()])
        for cond in [c for c in CONDITIONS if c in runs]:
            accs = [r["accuracy"] for r in runs[cond].values()]
            f1s = [r["macro_f1"] for r in runs[cond].values()]
            delta = "" if cond == "none" or base is None else f"{_mean(accs) - base:+.3f}"
            lines.append(f"| {slice_key} | {cond} | {len(accs)} | {_fmt(accs)} | {_fmt(f1s)} | {delta} |")
    return "\n".join(lines)


def _mean(xs):
    return statistics.mean(xs) if xs else None


def _fmt(xs) -> str:
    return f"{statistics.mean(xs):.3f} ± {statistics.stdev(xs):.3f}" if len(xs) > 1 else f"{xs[0]:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-intent", type=int, nargs="+", default=[5, 10])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--conditions", nargs="+", default=[c for c in CONDITIONS if c != "paraphrase"], choices=CONDITIONS)
    ap.add_argument("--val-per-intent", type=int, default=3)
    ap.add_argument("--test-per-intent", type=int, default=10)
    ap.add_argument("--epochs", type=float, default=3.0)
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from studio.runs.store import Store

    work = ROOT / "bench" / "_work" / f"augment-{int(time.time())}"
    store = Store(work / "runs")
    saved = json.loads(OUT.read_text()) if OUT.exists() else {}
    results = saved.get("results", {})
    t0 = time.time()
    for k in a.per_intent:
        for seed in a.seeds:
            folder = work / f"slice-{k}-seed{seed}"
            folder.mkdir(parents=True, exist_ok=True)
            paths = files(folder, k, a.val_per_intent, a.test_per_intent, seed)
            for cond in a.conditions:
                done = results.setdefault(str(k), {}).setdefault(cond, {})
                if str(seed) in done:
                    continue
                done[str(seed)] = one_run(store, paths, cond, seed, a.epochs)
                print(k, cond, seed, done[str(seed)], flush=True)
                _write(results, a, saved.get("minutes", 0) + (time.time() - t0) / 60)
    print(table(results))


def _write(results: dict, a, minutes: float) -> None:
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({
        "dataset": "banking77", "model": "minilm (bundled), LoRA, studio defaults", "epochs": a.epochs,
        "val_per_intent": a.val_per_intent, "test_rows": a.test_per_intent * 77, "minutes": round(minutes, 1),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "conditions": CONDITIONS, "results": results}, indent=2))


if __name__ == "__main__":
    main()
