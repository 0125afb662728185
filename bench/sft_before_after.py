"""SFT before/after on real public data: Banking77 intents as instructions, SmolLM2-135M-Instruct + LoRA.

Each customer message becomes an instruction that lists the candidate intents; the answer is the
intent's name. The studio trains through its real path (registry, worker subprocess, task module);
then the same test prompts go to the untrained base (the run's adapter switched off) and to the
fine-tuned model, greedy, and we compare exact-match accuracy of the generated intent name, and the
answer-token loss / perplexity on the same test conversations.

    .venv/bin/python bench/sft_before_after.py --intents 10 --per-intent 15 --test-per-intent 10 --epochs 2

Writes bench/results/sft_before_after.json and prints a markdown table. Banking77 is CC BY 4.0
(PolyAI); the copy in ../shared/data/banking77 is read, never modified.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "banking77"
INSTRUCTION = "Which banking intent does this customer message express? Answer with the intent name."


def pick_intents(n: int, seed: int) -> list[str]:
    cats = json.loads((DATA / "categories.json").read_text())
    return sorted(np.random.default_rng(seed).choice(cats, size=n, replace=False).tolist())


def records(df: pd.DataFrame, intents: list[str]) -> list[dict]:
    options = "Intents: " + ", ".join(intents) + "."
    return [{"instruction": INSTRUCTION, "input": f"{options}\n\nMessage: {text}", "output": cat}
            for text, cat in zip(df["text"], df["category"])]


def sample(df: pd.DataFrame, intents: list[str], per_intent: int, seed: int) -> pd.DataFrame:
    df = df[df["category"].isin(intents)]
    return df.groupby("category").sample(n=per_intent, random_state=seed).sample(frac=1.0, random_state=seed)


def write_jsonl(path: Path, recs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    return path


def answer_loss(model, tokenizer, conversations: list[list[dict]], max_length: int, batch_size: int = 8) -> float:
    """Mean cross-entropy per answer token (the studio's labels: only the assistant's tokens count)."""
    import torch

    from studio.tasks.sft import tokens as sft_tokens

    collate = sft_tokens.collator(tokenizer)
    total, count = 0.0, 0
    model.eval()
    with torch.inference_mode():
        for i in range(0, len(conversations), batch_size):
            batch = collate([sft_tokens.encode(tokenizer, c, max_length) for c in conversations[i:i + batch_size]])
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
            labels = batch["labels"][:, 1:]
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1),
                                                     ignore_index=sft_tokens.IGNORE, reduction="sum")
            total += float(loss)
            count += int((labels != sft_tokens.IGNORE).sum())
    return total / max(count, 1)


def score(run_dir: Path, test: list[dict], base: bool, max_new_tokens: int, max_length: int) -> dict:
    from studio.serve import inference
    from studio.tasks.sft import report as sft_report

    loaded = inference.load(run_dir)
    convs = [[{"role": "user", "content": f"{r['instruction']}\n\n{r['input']}"},
              {"role": "assistant", "content": r["output"]}]
             for r in test]
    t0 = time.time()
    outputs = [p["output"] for p in loaded.predict([c[0]["content"] for c in convs], base=base, batch_size=8,
                                                    max_new_tokens=max_new_tokens)]
    gen_s = time.time() - t0
    with loaded.lock, loaded._model(base) as model:
        loss = answer_loss(model, loaded.tokenizer, convs, max_length)
    exact = [sft_report._normalise(o) == sft_report._normalise(r["output"]) for o, r in zip(outputs, test)]
    in_set = {sft_report._normalise(r["output"]) for r in test}
    return {"exact_match": float(np.mean(exact)), "loss": loss, "perplexity": math.exp(loss),
            "answers_naming_a_listed_intent": float(np.mean([sft_report._normalise(o) in in_set for o in outputs])),
            "generation_seconds": round(gen_s, 1),
            "examples": [{"message": r["input"].split("Message: ", 1)[1], "reference": r["output"], "output": o}
                         for r, o in list(zip(test, outputs))[:8]]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--intents", type=int, default=10)
    ap.add_argument("--per-intent", type=int, default=15)
    ap.add_argument("--val-per-intent", type=int, default=2)
    ap.add_argument("--test-per-intent", type=int, default=10)
    ap.add_argument("--epochs", type=float, default=2)
    ap.add_argument("--learning-rate", type=float, default=1e-3)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=192)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "_work" / "sft_before_after")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "sft_before_after.json")
    a = ap.parse_args()

    from studio.config import RunConfig
    from studio.runs.store import Store

    intents = pick_intents(a.intents, a.seed)
    train_df = pd.read_csv(DATA / "train.csv")
    test_df = pd.read_csv(DATA / "test.csv")
    train_rows = sample(train_df, intents, a.per_intent + a.val_per_intent, a.seed)
    val_rows = train_rows.groupby("category").head(a.val_per_intent)
    train_rows = train_rows.drop(val_rows.index)
    test_rows = sample(test_df, intents, a.test_per_intent, a.seed)
    a.work.mkdir(parents=True, exist_ok=True)
    files = {k: write_jsonl(a.work / f"{k}.jsonl", records(df, intents))
             for k, df in (("train", train_rows), ("validation", val_rows), ("test", test_rows))}
    max_new = max(len(i) for i in intents) // 2 + 8  # an intent name is at most ~half its characters in tokens
    cfg = RunConfig.from_dict({
        "task": "sft", "model": "smollm2", "method": "lora", "name": "banking77 sft before/after",
        "data": {k: str(v) for k, v in files.items()},
        "training": {"epochs": a.epochs, "batch_size": a.batch_size, "learning_rate": a.learning_rate,
                     "max_length": a.max_length, "max_new_tokens": max_new, "sample_prompts": 1, "logging_steps": 1,
                     "seed": a.seed, "device": "cpu"}})
    store = Store(a.work / "runs")
    t0 = time.time()
    run_id = store.create(cfg)
    print(f"run {run_id}: {len(train_rows)} train, {len(val_rows)} validation, {len(test_rows)} test rows", flush=True)
    st = store.wait(run_id, timeout=3 * 3600)
    rd = store.run_dir(run_id)
    if st["status"] != "completed":
        raise SystemExit(f"run {st['status']}: {st.get('reason')}\n" + (rd / "train.log").read_text()[-3000:])
    train_s = time.time() - t0
    test = records(test_rows, intents)
    before = score(rd, test, base=True, max_new_tokens=max_new, max_length=a.max_length)
    after = score(rd, test, base=False, max_new_tokens=max_new, max_length=a.max_length)
    summary = next((r for r in reversed((rd / "metrics.jsonl").read_text().splitlines()) if '"summary"' in r), "{}")
    result = {
        "bench": "sft_before_after", "data": "Banking77 (PolyAI, CC BY 4.0), intents as instructions",
        "model": "SmolLM2-135M-Instruct (bundled)", "method": "lora", "intents": intents,
        "rows": {"train": len(train_rows), "validation": len(val_rows), "test": len(test_rows)},
        "epochs": a.epochs, "learning_rate": a.learning_rate, "batch_size": a.batch_size, "max_new_tokens": max_new,
        "wall_seconds_create_to_done": round(train_s, 1), "train_summary": json.loads(summary),
        "before": before, "after": after,
        "run_test_report": json.loads((rd / "test_report.json").read_text())["metrics"],
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()},
        "notes": "before = the run's own base (adapter switched off), after = the fine-tuned run; same prompts, "
                 "greedy; exact match ignores case, spacing and a final period; loss is per answer token.",
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2))
    print("| model | exact match | answer loss | perplexity |\n|---|---|---|---|")
    for k in ("before", "after"):
        r = result[k]
        print(f"| {k} | {r['exact_match']:.1%} | {r['loss']:.3f} | {r['perplexity']:.2f} |")


if __name__ == "__main__":
    main()
