"""Label review on Banking77 with labels flipped at random: does it find them, and does cleaning help?

A stratified Banking77 slice (--per-class training rows per intent) gets --noise shares of its labels
flipped, each to another intent drawn at random. For each noise level:

1. detection: `studio.labels.label_review.find_suspects` with its defaults (5-fold logistic regression on the
   frozen bundled MiniLM's embeddings, cleanlab) -> precision and recall against the flipped rows;
2. training: the studio's default run (LoRA, 3 epochs) on the noisy file, on the file with every suspect
   dropped, and on the file with every suspect relabelled to the suggestion (what a person pressing
   "Take every suggestion" gets), scored on the same official test rows. The clean file trains once as the
   ceiling.

    .venv/bin/python bench/label_noise_banking77.py --per-class 20 --noise 0.05 0.10

Writes bench/results/label_noise_banking77_seed<SEED>.json and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from studio.base import files
from studio.base.runfolder import RunFolder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "banking77"


def flip(df: pd.DataFrame, share: float, seed: int) -> tuple[pd.DataFrame, list[int]]:
    rng = np.random.default_rng(seed)
    labels = sorted(df["category"].unique())
    rows = sorted(int(i) for i in rng.choice(len(df), int(round(share * len(df))), replace=False))
    out = df.copy()
    for i in rows:
        out.loc[i, "category"] = rng.choice([lab for lab in labels if lab != df.loc[i, "category"]])
    return out, rows


def train(store, train_csv: Path, test_csv: Path, seed: int) -> dict:
    from studio.config import RunConfig

    cfg = RunConfig.from_dict({"model": "sentence-transformers/all-MiniLM-L6-v2",
                               "data": {"train": str(train_csv), "test": str(test_csv), "text_column": "text",
                                        "label_column": "category"},
                               "training": {"seed": seed, "score_base": False}})
    t0 = time.time()
    run_id = store.create(cfg)
    st = store.wait(run_id, timeout=6 * 3600)
    if st["status"] != "completed":
        raise SystemExit(f"run {run_id} {st['status']}: {st.get('reason')}")
    m = (files.read_json(RunFolder(store.run_dir(run_id)).report) or {})["metrics"]
    return {"run": run_id, "accuracy": m["accuracy"], "macro_f1": m["f1"], "wall_seconds": round(time.time() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-class", type=int, default=20)
    ap.add_argument("--test-per-class", type=int, default=20)
    ap.add_argument("--noise", type=float, nargs="+", default=[0.05, 0.10])
    ap.add_argument("--seed", type=int, default=0, help="Seed of the flips (training uses seed 42).")
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from studio.config import DataConfig
    from studio.labels import label_review
    from studio.runs.store import Store

    work = ROOT / "bench" / "_work" / f"label-noise-{int(time.time())}"
    work.mkdir(parents=True)
    store = Store(work / "runs")
    clean = (pd.read_csv(DATA / "train.csv").groupby("category").sample(n=a.per_class, random_state=0)
             .sample(frac=1.0, random_state=0).reset_index(drop=True))
    test = pd.read_csv(DATA / "test.csv").groupby("category").sample(n=a.test_per_class, random_state=0)
    test_csv = work / "test.csv"
    test.to_csv(test_csv, index=False)
    clean.to_csv(work / "clean.csv", index=False)
    res: dict = {"dataset": "banking77", "train_rows": len(clean), "test_rows": len(test), "flip_seed": a.seed,
                 "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                 "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
                 "clean": train(store, work / "clean.csv", test_csv, 42), "levels": []}
    print("clean", res["clean"], flush=True)
    for share in a.noise:
        noisy, flipped = flip(clean, share, a.seed)
        path = work / f"noisy-{share:.2f}.csv"
        noisy.to_csv(path, index=False)
        data = DataConfig(train=str(path), text_column="text", label_column="category")
        review = label_review.find_suspects("text-classification", data)
        found = {s.row for s in review.suspects}
        hits = found & set(flipped)
        truth = clean["category"].tolist()
        level = {"noise": share, "flipped": len(flipped), "suspects": len(found), "caught": len(hits),
                 "precision": round(len(hits) / max(len(found), 1), 4), "recall": round(len(hits) / len(flipped), 4),
                 "suggestion_right": round(sum(1 for s in review.suspects
                                               if s.row in hits and s.suggested == truth[s.row])
                                           / max(len(hits), 1), 4),
                 "review_seconds": round(review.seconds, 1), "cv_accuracy": round(review.cv_accuracy, 4)}
        print("detection", level, flush=True)
        dropped = label_review.apply_decisions("text-classification", data, {r: "drop" for r in found},
                                               work / f"dropped-{share:.2f}.csv").path
        relabelled = label_review.apply_decisions("text-classification", data,
                                                  {s.row: s.suggested for s in review.suspects},
                                                  work / f"relabelled-{share:.2f}.csv").path
        for name, file in (("noisy", path), ("suspects_dropped", dropped), ("suspects_relabelled", relabelled)):
            level[name] = train(store, file, test_csv, 42)
            print(name, share, level[name], flush=True)
        res["levels"].append(level)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"label_noise_banking77_seed{a.seed}.json").write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
