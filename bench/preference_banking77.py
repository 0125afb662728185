"""Preference tuning on a preference set built from real data: Banking77 messages, the right intent chosen over
the bundled SmolLM2's own answer.

The prompt gives a customer message and --intents candidate intents and asks for the one that fits. The base
model (SmolLM2-135M-Instruct) answers every training and test prompt greedily; where it is wrong, its answer
becomes the rejected one and the true intent the chosen one (where it is right there is no preference to learn,
and the row is left out). A DPO run (the studio's defaults: LoRA, beta 0.1, sigmoid loss) trains on the
training pairs; the report gives held-out preference accuracy before (the base) and after, and how often each
model now answers the test prompts with the right intent, plus a few answers side by side.

    .venv/bin/python bench/preference_banking77.py --intents 6 --per-intent 30 --test-per-intent 15

Writes bench/results/preference_banking77.json.
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

from studio.base.runfolder import RunFolder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "banking77"
OUT = ROOT / "bench" / "results"
MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


def prompt(text: str, intents: list[str]) -> str:
    names = ", ".join(i.replace("_", " ") for i in intents)
    return (f"Customer message: {text}\n\nWhich one of these topics is the message about? {names}.\n"
            "Answer with the topic only.")


def norm(s: str) -> str:
    return s.strip().strip(".").replace("_", " ").casefold()


def base_answers(prompts: list[str], max_new_tokens: int) -> list[str]:
    """The base's greedy answers, cached by prompt in bench/_work (generating them is most of a rerun's time)."""
    from studio import models
    from studio.tasks import chat

    cache = ROOT / "bench" / "_work" / "preference_base_answers.json"
    known = json.loads(cache.read_text()) if cache.exists() else {}
    todo = [p for p in dict.fromkeys(prompts) if p not in known]
    if todo:
        import torch

        from studio.training import cpu_share

        cpu_share.join()  # generating here counts as a CPU trainer: runs training meanwhile take their share only
        torch.set_num_threads(cpu_share.fair_threads())
        path = models.resolve(MODEL)
        tok = chat.load_tokenizer(path)
        model = chat.load_model(path, [], tok)
        got = chat.generate(model, tok, [[{"role": "user", "content": p}] for p in todo], max_new_tokens, batch_size=16)
        known.update(zip(todo, got))
        cpu_share.leave()
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known))
    return [known[p] for p in prompts]


def slices(a) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    train, test = pd.read_csv(DATA / "train.csv"), pd.read_csv(DATA / "test.csv")
    intents = sorted(pd.Series(train["category"].unique()).sample(n=a.intents, random_state=a.seed))
    pick = lambda df, n: (df[df["category"].isin(intents)].groupby("category")  # noqa: E731
                          .sample(n=n, random_state=a.seed).reset_index(drop=True))
    return pick(train, a.per_intent), pick(test, a.test_per_intent), intents


def pairs(df: pd.DataFrame, answers: list[str], intents: list[str]) -> list[dict]:
    return [{"prompt": prompt(t, intents), "chosen": c.replace("_", " "), "rejected": ans}
            for t, c, ans in zip(df["text"], df["category"], answers) if ans.strip() and norm(ans) != norm(c)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--intents", type=int, default=6)
    ap.add_argument("--per-intent", type=int, default=30)
    ap.add_argument("--test-per-intent", type=int, default=15)
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--learning-rate", type=float, default=None, help="Empty: the studio's default for LoRA.")
    ap.add_argument("--loss", default="dpo", choices=["dpo", "orpo", "kto"])
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from studio.config import RunConfig
    from studio.runs.store import Store
    from studio.serve import inference

    t0 = time.time()
    train, test, intents = slices(a)
    answers = base_answers([prompt(t, intents) for t in pd.concat([train, test])["text"]], 12)
    base_right = {"train": sum(norm(x) == norm(c)
                               for x, c in zip(answers[:len(train)], train["category"])) / len(train),
                  "test": sum(norm(x) == norm(c) for x, c in zip(answers[len(train):], test["category"])) / len(test)}
    work = ROOT / "bench" / "_work" / f"preference-{a.seed}-{int(time.time())}"
    work.mkdir(parents=True)
    files = {}
    for name, df, ans in (("train", train, answers[:len(train)]), ("test", test, answers[len(train):])):
        files[name] = work / f"{name}.jsonl"
        files[name].write_text("".join(json.dumps(r) + "\n" for r in pairs(df, ans, intents)))
    store = Store(work / "runs")
    cfg = RunConfig.from_dict({"task": "preference", "model": MODEL, "method": "lora",
                               "data": {"train": str(files["train"]), "test": str(files["test"])},
                               "training": {"epochs": a.epochs, "learning_rate": a.learning_rate, "max_length": 192,
                                            "max_new_tokens": 12, "preference_loss": a.loss, "seed": 42}})
    run_id = store.create(cfg)
    st = store.wait(run_id, timeout=6 * 3600)
    if st["status"] != "completed":
        raise SystemExit(f"run {run_id} {st['status']}: {st.get('reason')}")
    rd = store.run_dir(run_id)
    report = json.loads((RunFolder(rd).report).read_text())
    test_prompts = [prompt(t, intents) for t in test["text"]]
    tuned = [p["output"] for p in inference.predict(rd, test_prompts, max_new_tokens=12)]
    right = sum(norm(x) == norm(c) for x, c in zip(tuned, test["category"])) / len(test)
    res = {"dataset": "banking77", "model": MODEL, "loss": a.loss, "intents": intents, "seed": a.seed,
           "train_pairs": sum(1 for _ in files["train"].open()), "test_pairs": sum(1 for _ in files["test"].open()),
           "train_rows": len(train), "test_rows": len(test), "epochs": a.epochs,
           "learning_rate": report.get("learning_rate") or cfg.learning_rate(),
           "preference_accuracy": {"base": report["base"]["metrics"]["preference_accuracy"],
                                   "tuned": report["metrics"]["preference_accuracy"]},
           "logp_margin": {"base": report["base"]["metrics"]["logp_margin"], "tuned": report["metrics"]["logp_margin"]},
           "answers_right_on_test": {"base": base_right["test"], "tuned": right},
           "side_by_side": [{"message": t, "intent": c, "base": b, "tuned": x}
                            for t, c, b, x in list(zip(test["text"], test["category"], answers[len(train):],
                                                       tuned))[:8]],
           "train_seconds": report.get("train_seconds"), "minutes": round((time.time() - t0) / 60, 1),
           "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"}
    OUT.mkdir(exist_ok=True)
    suffix = ("" if a.loss == "dpo" and a.learning_rate is None
              else f"_{a.loss}" + (f"_lr{a.learning_rate:g}" if a.learning_rate else ""))
    (OUT / f"preference_banking77{suffix}.json").write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
