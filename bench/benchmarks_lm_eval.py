"""Benchmarks through the studio against lm-evaluation-harness by hand, on real data.

A multiple-choice file in C-Eval's columns made from Banking77's test split (a customer message, four intents, one
right; the wrong three drawn at random with a fixed seed). The bundled SmolLM2 is tuned with LoRA on Banking77's
training split asked the same way (the answer: the right letter), then both are scored:

- the studio: `studio.evals.jobs.start` (the Runs tab's and `studio eval`'s path): its own process, tuned and base;
- by hand: lm-eval's `simple_evaluate(model="hf", model_args="pretrained=<base>[,peft=<adapter>]")` on the same
  task YAML, one process per model, as a person would run `lm_eval` without the studio.

Both must give the same accuracy (the same prompts and model); the time is the wall clock of each, model loading
included.

    .venv/bin/python bench/benchmarks_lm_eval.py [--questions 200] [--train-rows 600] [--chat-template]

Writes bench/results/benchmarks_lm_eval.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "banking77"
QUESTION = "Which topic is this bank customer's message about?\n\nMessage: {text}"


def mc_rows(csv: Path, n: int, seed: int) -> list[dict]:
    import pandas as pd

    df = pd.read_csv(csv).sample(n=n, random_state=seed)
    topics = sorted(pd.read_csv(DATA / "train.csv")["category"].unique())
    rng = random.Random(seed)
    rows = []
    for text, right in zip(df["text"], df["category"]):
        wrong = rng.sample([t for t in topics if t != right], 3)
        choices = wrong[:]
        at = rng.randrange(4)
        choices.insert(at, right)
        rows.append({"question": QUESTION.format(text=text),
                     **{letter: c.replace("_", " ") for letter, c in zip("ABCD", choices)}, "answer": "ABCD"[at]})
    return rows


def write_mc(rows: list[dict], path: Path) -> Path:
    import pandas as pd

    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def sft_rows(rows: list[dict]) -> list[dict]:
    """The training split asked as the benchmark asks (without the chat template: the run's own applies it)."""
    return [{"instruction": r["question"] + "".join(f"\n{k}. {r[k]}" for k in "ABCD") + "\nAnswer:",
             "output": r["answer"]} for r in rows]


def train(store, data: Path) -> str:
    from studio.config import RunConfig

    cfg = {"task": "sft", "model": "smollm2", "method": "lora", "name": "banking77-mc",
           "data": {"train": str(data)},
           "training": {"epochs": 1, "batch_size": 8, "max_length": 160, "device": "cpu", "learning_rate": 1e-3,
                        "sample_prompts": 0}}
    run_id = store.create(RunConfig.from_dict(cfg))
    st = store.wait(run_id, timeout=3600)
    assert st["status"] == "completed", st
    return run_id


BY_HAND = r"""
import json, sys, time
t0 = time.time()
from lm_eval import simple_evaluate
from lm_eval.tasks import TaskManager
args = json.loads(sys.argv[1])
tm = TaskManager(include_path=args["tasks"], include_defaults=False)
out = simple_evaluate(model="hf", model_args=args["model_args"], tasks=[args["task"]], task_manager=tm,
                      batch_size=args["batch_size"], apply_chat_template=args["chat"], log_samples=False,
                      random_seed=0, numpy_random_seed=0, torch_random_seed=0, fewshot_random_seed=0)
print(json.dumps({"acc": out["results"][args["task"]]["acc,none"], "seconds": time.time() - t0}))
"""


def by_hand(model_args: str, tasks: Path, task: str, batch_size: int, chat: bool) -> dict:
    t0 = time.time()
    done = subprocess.run([sys.executable, "-c", BY_HAND, json.dumps(
        {"model_args": model_args, "tasks": str(tasks), "task": task, "batch_size": batch_size, "chat": chat})],
        capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return {**out, "wall_seconds": round(time.time() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=200)
    ap.add_argument("--train-rows", type=int, default=600)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--chat-template", action="store_true", help="Ask through the chat template (default: plain).")
    a = ap.parse_args()
    from studio.base.runfolder import RunFolder
    from studio.evals import jobs
    from studio.models import resolve
    from studio.runs.store import Store

    work = Path(tempfile.mkdtemp(prefix="bench-evals-"))
    store = Store(work / "runs")
    quiz = write_mc(mc_rows(DATA / "test.csv", a.questions, seed=0), work / "banking77_mc.csv")
    train_data = work / "banking77_mc_train.jsonl"
    train_data.write_text("".join(json.dumps(r) + "\n" for r in sft_rows(mc_rows(DATA / "train.csv", a.train_rows,
                                                                                  seed=1))))
    t0 = time.time()
    run_id = train(store, train_data)
    train_s = time.time() - t0
    rd = store.run_dir(run_id)

    t0 = time.time()
    jobs.start(store, run_id, [(quiz, quiz.name)], None, {"batch_size": a.batch_size,
                                                          "chat_template": a.chat_template})
    st = jobs.wait(rd, timeout=7200)
    studio_s = time.time() - t0
    assert st["state"] == "completed", st
    entry = jobs.read_results(rd)["benchmarks"]["local_banking77_mc_csv"]
    tasks = jobs.job_folder(rd) / "tasks"
    base = str(resolve("smollm2"))
    hand_base = by_hand(f"pretrained={base},device=cpu", tasks, "local_banking77_mc_csv", a.batch_size, a.chat_template)
    hand_tuned = by_hand(f"pretrained={base},peft={RunFolder(rd).model},device=cpu", tasks, "local_banking77_mc_csv",
                         a.batch_size, a.chat_template)
    result = {
        "command": "python bench/benchmarks_lm_eval.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, CPU only",
        "questions": a.questions, "train_rows": a.train_rows, "train_seconds": round(train_s, 1),
        "chat_template": a.chat_template,
        "studio": {"base_acc": entry["base"]["acc"], "tuned_acc": entry["tuned"]["acc"],
                   "seconds_tuned_and_base": round(studio_s, 1)},
        "by_hand": {"base": hand_base, "tuned": hand_tuned,
                    "seconds_tuned_and_base": round(hand_base["wall_seconds"] + hand_tuned["wall_seconds"], 1)},
        "chance": 0.25,
    }
    out = ROOT / "bench" / "results" / "benchmarks_lm_eval.json"
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
