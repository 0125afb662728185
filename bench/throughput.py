"""Training throughput: the studio's recipe against three alternatives, in one process, interleaved.

    .venv/bin/python bench/throughput.py            # quick: 256 Banking77 rows, 1 epoch, 2 rounds
    .venv/bin/python bench/throughput.py --full     # 2,048 rows, 1 epoch, 3 rounds

Same model (bundled MiniLM, full fine-tuning so every contender does the same work per sample), same rows,
batch size 16, one epoch. Contenders:
  studio       studio.training.recipe.run on a run folder (length-grouped dynamic padding, prototype head init
               excluded as set-up; its evaluation, checkpoint and test report after the loop excluded)
  loop         (a) a minimal hand-written PyTorch loop with dynamic padding, random order
  pad128       (b) the same loop padding every batch to max_length 128 (the seeds' recipe)
  trainer      (c) a plain HF Trainer script with default settings (DataCollatorWithPadding)
Rounds are interleaved (studio, loop, pad128, trainer, studio, ...) so machine noise hits all alike;
the table reports the median samples/s and real (non-padding) tokens/s and the ratios to the studio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "banking77" / "train.csv"
BATCH = 16
MAX_LEN = 128


def load_rows(n: int):
    import pandas as pd

    df = pd.read_csv(DATA).sample(n=n, random_state=0).reset_index(drop=True)
    return df["text"].tolist(), df["category"].tolist()


def _model_path():
    from studio.models import resolve

    return str(resolve("minilm"))


def _labels(cats):
    names = sorted(set(cats))
    l2i = {l: i for i, l in enumerate(names)}
    return names, [l2i[c] for c in cats]


def real_tokens(tok, texts) -> int:
    return sum(len(x) for x in tok(texts, truncation=True, max_length=MAX_LEN)["input_ids"])


def run_loop(texts, cats, pad_to_max: bool) -> float:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    names, y = _labels(cats)
    path = _model_path()
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=len(names))
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=5e-5)
    order = torch.randperm(len(texts)).tolist()
    t0 = time.perf_counter()
    for i in range(0, len(order), BATCH):
        idx = order[i:i + BATCH]
        enc = tok([texts[j] for j in idx], truncation=True, max_length=MAX_LEN, return_tensors="pt",
                  padding="max_length" if pad_to_max else True)
        out = model(**enc, labels=torch.tensor([y[j] for j in idx]))
        out.loss.backward()
        opt.step()
        opt.zero_grad()
    return time.perf_counter() - t0


def run_trainer(texts, cats) -> float:
    import datasets
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    names, y = _labels(cats)
    path = _model_path()
    tok = AutoTokenizer.from_pretrained(path)
    ds = datasets.Dataset.from_dict({"text": texts, "label": y}).map(
        lambda b: tok(b["text"], truncation=True, max_length=MAX_LEN), batched=True)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=len(names))
    with tempfile.TemporaryDirectory() as d:
        args = TrainingArguments(output_dir=d, num_train_epochs=1, per_device_train_batch_size=BATCH, report_to="none",
                                 save_strategy="no", use_cpu=True, disable_tqdm=True, logging_strategy="no")
        tr = Trainer(model=model, args=args, train_dataset=ds, data_collator=DataCollatorWithPadding(tok),
                     processing_class=tok)
        out = tr.train()
    return float(out.metrics["train_runtime"])


def run_studio(texts, cats, work: Path) -> float:
    import pandas as pd

    from studio.base import runfolder
    from studio.config import RunConfig
    from studio.runs.store import Store
    from studio.training import recipe

    work.mkdir(parents=True, exist_ok=True)
    csv = work / "rows.csv"
    pd.DataFrame({"text": texts, "label": cats}).to_csv(csv, index=False)
    store = Store(work / "runs")
    # Given validation/test files: all rows train, like the other contenders.
    cfg = RunConfig.from_dict({"model": "minilm", "method": "full",
                               "data": {"train": str(csv), "validation": str(csv), "test": str(csv)},
                               "training": {"epochs": 1, "batch_size": BATCH, "max_length": MAX_LEN,
                                            "learning_rate": 5e-5, "logging_steps": 1}})
    rid = store.create(cfg, start=False)
    rd = store.run_dir(rid)
    recipe.run(rd)
    recs = runfolder.read_metrics(rd)
    # Every step logs a line (logging_steps=1): the loop runs from the start line to the last step's line,
    # which leaves out the epoch-end evaluation, checkpoint and test report the others do not do.
    start = next(r for r in recs if r.get("kind") == "start")["time"]
    last = [r for r in recs if r.get("kind") == "train"][-1]["time"]
    return last - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=None)
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    rows = a.rows or (2048 if a.full else 256)
    rounds = a.rounds or (3 if a.full else 2)
    texts, cats = load_rows(rows)
    tok = AutoTokenizer.from_pretrained(_model_path())
    toks = real_tokens(tok, texts)
    times: dict[str, list[float]] = {k: [] for k in ("studio", "loop", "pad128", "trainer")}
    with tempfile.TemporaryDirectory() as d:
        for r in range(rounds):
            times["studio"].append(run_studio(texts, cats, Path(d) / f"s{r}"))
            times["loop"].append(run_loop(texts, cats, pad_to_max=False))
            times["pad128"].append(run_loop(texts, cats, pad_to_max=True))
            times["trainer"].append(run_trainer(texts, cats))
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f}s" for k, v in times.items()), flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    res = {"rows": rows, "rounds": rounds, "batch_size": BATCH, "real_tokens": toks,
           "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
                      f"{torch.get_num_threads()} threads",
           "seconds": times,
           "samples_per_second": {k: rows / v for k, v in med.items()},
           "tokens_per_second": {k: toks / v for k, v in med.items()},
           "studio_speed_ratio_vs": {k: med[k] / med["studio"] for k in med if k != "studio"}}
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"throughput_{rows}.json").write_text(json.dumps(res, indent=2))
    print("\n| contender | samples/s | real tokens/s | studio speed-up |")
    print("|---|---:|---:|---:|")
    for k in med:
        ratio = "1.00" if k == "studio" else f"{res['studio_speed_ratio_vs'][k]:.2f}x"
        print(f"| {k} | {res['samples_per_second'][k]:.1f} | {res['tokens_per_second'][k]:.0f} | {ratio} |")


if __name__ == "__main__":
    main()
