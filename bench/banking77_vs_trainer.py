"""Studio defaults vs a plain hand-written HF Trainer script on Banking77.

Same base model (bundled MiniLM), same training rows, same test rows, same
epochs. The studio runs through its real path (registry, worker subprocess,
defaults: LoRA); the baseline is the script people write from the HF text
classification tutorial: full fine-tuning, dynamic padding, Trainer defaults.

    .venv/bin/python bench/banking77_vs_trainer.py --per-class 30 --epochs 3

Writes bench/results/banking77_vs_trainer.json and prints a markdown row.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "banking77"


def subset(df: pd.DataFrame, per_class: int, seed: int) -> pd.DataFrame:
    n = min(per_class, int(df["category"].value_counts().min()))
    return (df.groupby("category").sample(n=n, random_state=seed).sample(frac=1.0, random_state=seed)
            .reset_index(drop=True))


def run_studio(train_csv: Path, test_csv: Path, epochs: float, work: Path) -> dict:
    from studio.config import RunConfig
    from studio.runs.store import Store

    store = Store(work / "runs")
    cfg = RunConfig.from_dict({"model": "sentence-transformers/all-MiniLM-L6-v2",
                               "data": {"train": str(train_csv), "test": str(test_csv),
                                        "text_column": "text", "label_column": "category"},
                               "training": {"epochs": epochs}})
    t0 = time.time()
    run_id = store.create(cfg)
    st = store.wait(run_id, timeout=6 * 3600)
    wall = time.time() - t0
    if st["status"] != "completed":
        raise SystemExit(f"studio run {run_id} {st['status']}: {st.get('reason')}")
    rep = json.loads((store.run_dir(run_id) / "test_report.json").read_text())
    return {"method": cfg.method, "wall_seconds": round(wall, 1), "accuracy": rep["metrics"]["accuracy"],
            "macro_f1": rep["metrics"]["f1"], "run": run_id}


def run_baseline(train: pd.DataFrame, test: pd.DataFrame, epochs: float, work: Path) -> dict:
    """The tutorial script: tokenise, DataCollatorWithPadding, Trainer with default arguments."""
    import datasets
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    from studio.models import resolve

    t0 = time.time()
    path = str(resolve("sentence-transformers/all-MiniLM-L6-v2"))
    labels = sorted(train["category"].unique())
    l2i = {l: i for i, l in enumerate(labels)}
    tok = AutoTokenizer.from_pretrained(path)

    def to_ds(df):
        ds = datasets.Dataset.from_dict({"text": df["text"].tolist(), "label": [l2i[l] for l in df["category"]]})
        return ds.map(lambda b: tok(b["text"], truncation=True), batched=True)

    tr, te = to_ds(train), to_ds(test)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=len(labels))
    args = TrainingArguments(output_dir=str(work / "baseline"), num_train_epochs=epochs, report_to="none",
                             save_strategy="no", use_cpu=True, seed=42)
    trainer = Trainer(model=model, args=args, train_dataset=tr, data_collator=DataCollatorWithPadding(tok),
                      processing_class=tok)
    trainer.train()
    pred = trainer.predict(te).predictions.argmax(-1)
    wall = time.time() - t0
    from sklearn.metrics import accuracy_score, f1_score

    y = np.array(te["label"])
    return {"method": "full (Trainer defaults)", "wall_seconds": round(wall, 1),
            "accuracy": float(accuracy_score(y, pred)), "macro_f1": float(f1_score(y, pred, average="macro"))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-class", type=int, default=30, help="Training rows per intent (of ~130).")
    ap.add_argument("--test-per-class", type=int, default=20, help="Test rows per intent (of 40).")
    ap.add_argument("--epochs", type=float, default=3)
    ap.add_argument("--only", choices=("studio", "baseline"), default=None)
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    work = ROOT / "bench" / "_work" / f"banking77-{a.per_class}-{int(time.time())}"
    work.mkdir(parents=True)
    train = subset(pd.read_csv(DATA / "train.csv"), a.per_class, 0)
    test = subset(pd.read_csv(DATA / "test.csv"), a.test_per_class, 0)
    train.to_csv(work / "train.csv", index=False)
    test.to_csv(work / "test.csv", index=False)
    res = {"dataset": "banking77", "train_rows": len(train), "test_rows": len(test), "epochs": a.epochs,
           "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}"}
    if a.only in (None, "studio"):
        res["studio"] = run_studio(work / "train.csv", work / "test.csv", a.epochs, work)
        print("studio", res["studio"], flush=True)
    if a.only in (None, "baseline"):
        res["baseline"] = run_baseline(train, test, a.epochs, work)
        print("baseline", res["baseline"], flush=True)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"banking77_vs_trainer_{a.per_class}pc.json").write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
