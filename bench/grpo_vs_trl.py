"""Reinforcement learning (GRPO): the studio's rl task against the same settings through a plain trl GRPOTrainer
script, over several seeds, on the bundled arithmetic prompts.

The prompts: assets/samples/rl_sample.jsonl (320 generated word problems with numbers under 100, each asking for
a last line 'Answer: <number>', the number as `answer`; the studio splits them 256/32/32 by the seed). The reward:
`answer` alone (the reply's final answer, after 'Answer:' or else its last number, equals the reference), which the
base already earns about a quarter of the time: groups of four replies then often hold right and wrong ones, the
regime GRPO learns from. (With a format reward beside it the model learned the format and lost the answers:
bench/RESULTS.md.) For each seed the studio trains a run (`Store.create`, as the app and the CLI do); its report
scores greedy replies to the held-out prompts with the base (adapters off) beside the tuned model. Then a plain trl
script trains the same base on the very same training split (read from the studio run's folder) with the same
settings and scores the same held-out prompts the same way, before and after.

    .venv/bin/python bench/grpo_vs_trl.py --seeds 0 1 2 --steps 24

Writes bench/results/grpo_vs_trl.json. One training at a time: each side has the machine's cores alone.
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
DATA = ROOT / "assets" / "samples" / "rl_sample.jsonl"
OUT = ROOT / "bench" / "results"
MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
TEST_PROMPTS = 40  # what the studio's rl report scores (studio.tasks.rl.report.TEST_GENERATIONS)


def settings(a) -> dict:
    return {"num_generations": 4, "max_new_tokens": a.new_tokens, "temperature": 1.0, "batch_size": 8,
            "learning_rate": a.learning_rate, "rewards": "answer", "weights": [1.0]}


def studio_run(a, seed: int) -> dict:
    from studio.config import RunConfig
    from studio.runs.store import Store

    s = settings(a)
    store = Store(ROOT / "bench" / "_work" / "grpo-runs")
    n_train = 256
    cfg = RunConfig.from_dict({
        "task": "rl", "model": MODEL, "method": "lora", "name": f"grpo bench seed {seed}",
        "data": {"train": str(DATA), "split_seed": seed},
        "training": {"epochs": a.steps * s["batch_size"] / (n_train * s["num_generations"]),
                     "batch_size": s["batch_size"], "learning_rate": s["learning_rate"], "max_length": 160,
                     "logging_steps": 4, "seed": seed},
        "task_args": {"rewards": s["rewards"], "reward_weights": ", ".join(map(str, s["weights"])),
                      "num_generations": s["num_generations"], "max_new_tokens": s["max_new_tokens"],
                      "temperature": s["temperature"], "sample_prompts": 0}})
    t0 = time.time()
    run_id = store.create(cfg)
    st = store.wait(run_id, timeout=4 * 3600)
    rd = store.run_dir(run_id)
    if st["status"] != "completed":
        raise SystemExit(f"studio run {run_id} {st['status']}: {st.get('reason')}")
    report = json.loads((rd / "test_report.json").read_text())
    records = [json.loads(line) for line in (rd / "metrics.jsonl").read_text().splitlines() if line.strip()]
    runtime = next((r["train_runtime"] for r in reversed(records) if "train_runtime" in r), None)
    # A validation pass: from the record before it to its own (the studio keeps no eval_runtime).
    evals = sum(r["time"] - records[i - 1]["time"] for i, r in enumerate(records) if r.get("kind") == "eval" and i)
    return {"run": run_id, "dir": str(rd), "wall_s": round(time.time() - t0, 1),
            # trl's train() time holds the validation pass at the end; the plain script has none, so it is left out
            "train_s": round(runtime - evals, 1) if runtime else None, "eval_s": round(evals, 1),
            "steps": st.get("step"), "base": report["base"]["metrics"], "tuned": report["metrics"]}


def plain_trl(a, seed: int, run_dir: Path, checkpointing: bool = True) -> dict:
    """The same training split and settings through trl's GRPOTrainer directly, scored like the studio's report.
    checkpointing: trl's own default (GRPOConfig turns gradient checkpointing on); the studio leaves it off unless
    training.gradient_checkpointing asks, so False is the studio's setting."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
    from trl import GRPOConfig, GRPOTrainer

    from studio import models
    from studio.tasks.chat import generate
    from studio.tasks.rl.rewards import answer_reward

    s = settings(a)
    set_seed(seed)
    train = pd.read_parquet(run_dir / "data" / "train.parquet")
    test = pd.read_parquet(run_dir / "data" / "test.parquet").head(TEST_PROMPTS)
    path = str(models.resolve(MODEL))
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    answer = answer_reward
    ds = Dataset.from_list([{"prompt": json.loads(p), "reference": r}
                            for p, r in zip(train["prompt"], train["reference"])])
    args = GRPOConfig(output_dir=str(ROOT / "bench" / "_work" / f"plain-trl-{seed}"), max_steps=a.steps,
                      per_device_train_batch_size=s["batch_size"], num_generations=s["num_generations"],
                      max_completion_length=s["max_new_tokens"], temperature=s["temperature"], beta=0.0,
                      loss_type="dapo", learning_rate=s["learning_rate"], warmup_steps=0.06, weight_decay=0.01,
                      lr_scheduler_type="linear", logging_steps=4, save_strategy="no", report_to=[], seed=seed,
                      reward_weights=s["weights"], use_cpu=True, bf16=False, gradient_checkpointing=checkpointing)
    trainer = GRPOTrainer(model=model, reward_funcs=[answer], args=args, train_dataset=ds, processing_class=tok,
                          peft_config=LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear",
                                                 task_type="CAUSAL_LM"))

    def score(m) -> dict:
        conversations = [json.loads(p) for p in test["prompt"]]
        outputs = generate(m, tok, conversations, s["max_new_tokens"])
        completions = [[{"role": "assistant", "content": o}] for o in outputs]
        ans = answer(completions=completions, reference=test["reference"].tolist())
        return {"reward": sum(ans) / len(ans), "answer_accuracy": sum(ans) / len(ans),
                "completion_words": sum(len(o.split()) for o in outputs) / len(outputs)}

    with trainer.model.disable_adapter():
        base = score(trainer.model)
    t0 = time.time()
    trainer.train()
    train_s = time.time() - t0
    return {"train_s": round(train_s, 1), "steps": trainer.state.global_step, "gradient_checkpointing": checkpointing,
            "base": base,
            "tuned": score(trainer.model)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--steps", type=int, default=24, help="Optimizer steps of 8 replies (2 prompts x 4).")
    ap.add_argument("--new-tokens", type=int, default=48)
    ap.add_argument("--learning-rate", type=float, default=1e-4)
    ap.add_argument("--only", choices=["studio", "both"], default="both")
    ap.add_argument("--add-trl-without-checkpointing", action="store_true",
                    help="Read the results written before and train the plain trl side again with gradient "
                         "checkpointing off, as the studio trains (trl's GRPOConfig turns it on by default).")
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if a.add_trl_without_checkpointing:
        out = json.loads((OUT / "grpo_vs_trl.json").read_text())
        for row in out["results"]:
            row["trl_without_checkpointing"] = plain_trl(a, row["seed"], Path(row["studio"]["dir"]), False)
            print(json.dumps(row["trl_without_checkpointing"]), flush=True)
        out["command"] += " && bench/grpo_vs_trl.py " + " ".join(sys.argv[1:])
        (OUT / "grpo_vs_trl.json").write_text(json.dumps(out, indent=1))
        return
    results = []
    for seed in a.seeds:
        row = {"seed": seed, "studio": studio_run(a, seed)}
        print(json.dumps(row["studio"]), flush=True)
        if a.only != "studio":
            row["trl"] = plain_trl(a, seed, Path(row["studio"]["dir"]))
            print(json.dumps(row["trl"]), flush=True)
        results.append(row)
    OUT.mkdir(parents=True, exist_ok=True)
    out = {"command": "bench/grpo_vs_trl.py " + " ".join(sys.argv[1:]), "settings": settings(a),
           "steps": a.steps, "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                                                               f"Python {platform.python_version()}",
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "results": results}
    (OUT / "grpo_vs_trl.json").write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
