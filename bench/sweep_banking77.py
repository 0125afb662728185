"""Does a sweep find better settings than the defaults, and what does pruning save? (Banking77)

Same data for everything: a stratified Banking77 slice with its own validation file (so every run
selects on the same rows) and the official test rows. Three things run one after another through the
studio's real path (registry, detached workers, the sweep driver):

1. the defaults, on --seeds training seeds (the spread a sweep has to beat);
2. a sweep over the default space (learning rate a quarter to four times the method's default, epochs
   around the default), --trials trials, TPE, median pruning on; then the best trial's settings
   retrained on the other seeds, so its gain is not one lucky seed;
3. the same sweep with pruning off: the steps and minutes pruning saved, and whether it cost score.

    .venv/bin/python bench/sweep_banking77.py --per-class 10 --trials 8

Writes bench/results/sweep_banking77.json and prints a summary. The sweep picks by validation score;
test scores are only read afterwards.
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

from studio.base import files
from studio.base.runfolder import RunFolder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "banking77"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def slices(per_class: int, val_per_class: int, test_per_class: int, work: Path) -> dict[str, str]:
    train_all = pd.read_csv(DATA / "train.csv")
    picked = train_all.groupby("category").sample(n=per_class + val_per_class, random_state=0)
    val = picked.groupby("category").head(val_per_class)
    train = picked.drop(val.index)
    test = pd.read_csv(DATA / "test.csv").groupby("category").sample(n=test_per_class, random_state=0)
    out = {}
    for name, df in (("train", train), ("validation", val), ("test", test)):
        out[name] = str(work / f"{name}.csv")
        df.sample(frac=1.0, random_state=0).to_csv(out[name], index=False)
    return out


def base_config(files: dict[str, str], seed: int = 42, **training) -> dict:
    return {"model": MODEL, "data": {**files, "text_column": "text", "label_column": "category"},
            "training": {"seed": seed, **training}}


def test_scores(store, run_id: str) -> dict:

    report = files.read_json(RunFolder(store.run_dir(run_id)).report) or {}
    m = report.get("metrics") or {}
    return {"run": run_id, "accuracy": m.get("accuracy"), "macro_f1": m.get("f1")}


def train_once(store, cfg: dict) -> dict:
    from studio.config import RunConfig

    t0 = time.time()
    run_id = store.create(RunConfig.from_dict(cfg))
    st = store.wait(run_id, timeout=6 * 3600)
    if st["status"] != "completed":
        raise SystemExit(f"run {run_id} {st['status']}: {st.get('reason')}")
    return {**test_scores(store, run_id), "wall_seconds": round(time.time() - t0, 1)}


def sweep(store, files: dict[str, str], trials: int, prune: bool) -> dict:
    from studio import sweeps
    from studio.config import RunConfig

    t0 = time.time()
    sid = sweeps.create(store, RunConfig.from_dict(base_config(files)),
                        settings=sweeps.SweepSettings(trials=trials, prune=prune, seed=0))
    st = sweeps.wait(store, sid, timeout=12 * 3600, poll=5)
    info = sweeps.describe(store, sid)
    best = info["best"]
    return {"id": sid, "status": st["status"], "wall_seconds": round(time.time() - t0, 1),
            "space": info["space"], "trial_steps": info["trial_steps"],
            "trials": [{k: r[k] for k in ("trial", "state", "value", "params")}
                       | {"test_accuracy": (r["test"] or {}).get("accuracy")} for r in info["trials"]],
            "best": {"params": best["params"], "validation": best["value"], **test_scores(store, best["run"])}}


def summary(rows: list[dict]) -> dict:
    acc = [r["accuracy"] for r in rows]
    return {"mean_accuracy": round(statistics.mean(acc), 4),
            "sd_accuracy": round(statistics.stdev(acc), 4) if len(acc) > 1 else 0.0,
            "mean_macro_f1": round(statistics.mean(r["macro_f1"] for r in rows), 4)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-class", type=int, default=10, help="Training rows per intent.")
    ap.add_argument("--val-per-class", type=int, default=3, help="Validation rows per intent (from train.csv).")
    ap.add_argument("--test-per-class", type=int, default=10, help="Test rows per intent (from test.csv).")
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2],
                    help="Training seeds; the sweep uses the first.")
    ap.add_argument("--skip-no-prune", action="store_true")
    ap.add_argument("--only-pruned", metavar="NAME", help="Run only the pruned sweep and write "
                                                          "bench/results/sweep_banking77_NAME.json (a pruner change).")
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from studio.runs.store import Store

    work = ROOT / "bench" / "_work" / f"sweep-banking77-{int(time.time())}"
    work.mkdir(parents=True)
    store = Store(work / "runs")
    files = slices(a.per_class, a.val_per_class, a.test_per_class, work)
    res: dict = {"dataset": "banking77", "per_class": [a.per_class, a.val_per_class, a.test_per_class],
                 "trials": a.trials, "seeds": a.seeds, "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                 "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"}

    if a.only_pruned:
        res["sweep_pruned"] = sweep(store, files, a.trials, prune=True)
        (ROOT / "bench" / "results" / f"sweep_banking77_{a.only_pruned}.json").write_text(json.dumps(res, indent=2))
        print(json.dumps(res["sweep_pruned"], indent=2))
        return
    res["defaults"] = [train_once(store, base_config(files, seed=s)) for s in a.seeds]
    res["defaults_summary"] = summary(res["defaults"])
    print("defaults", res["defaults_summary"], flush=True)

    res["sweep_pruned"] = sweep(store, files, a.trials, prune=True)
    best = res["sweep_pruned"]["best"]
    print("sweep (pruning)", best, res["sweep_pruned"]["trial_steps"], flush=True)
    training = {k.split(".", 1)[1]: v for k, v in best["params"].items() if k.startswith("training.")}
    reseeded = [train_once(store, base_config(files, seed=s, **training)) for s in a.seeds[1:]]
    res["best_settings_on_seeds"] = [{k: best[k] for k in ("run", "accuracy", "macro_f1")}] + reseeded
    res["best_settings_summary"] = summary(res["best_settings_on_seeds"])
    print("best settings", res["best_settings_summary"], flush=True)

    if not a.skip_no_prune:
        res["sweep_unpruned"] = sweep(store, files, a.trials, prune=False)
        print("sweep (no pruning)", res["sweep_unpruned"]["best"], res["sweep_unpruned"]["trial_steps"], flush=True)

    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "sweep_banking77.json").write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
