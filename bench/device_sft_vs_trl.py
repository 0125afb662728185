"""The studio's SFT against a plain TRL SFTTrainer script: same model, data, settings and steps; tokens/s, peak
GPU memory and final loss, for LoRA, QLoRA and packing.

The model is a real architecture with random weights, built here from its config (Qwen2.5-0.5B's shape by default,
--shape 1.5b for Qwen2.5-1.5B's), so it runs offline; speed and memory depend on the shapes, not the values. The
data: Banking77's queries (shared/data, CC BY 4.0) as instructions whose answers are their intents, with the
SmolLM2 tokenizer (bundled) and its chat template.

    python bench/device_sft_vs_trl.py                      # on the GPU machine: every configuration (< 10 min)
    python bench/device_sft_vs_trl.py --smoke              # CPU, tiny shape, 3 steps: the script itself works
    bash bench/device_sft_vs_trl.sh                        # the same on the lent GPU machine (carried wheels)

Tokens/s counts the tokens a step trains on (no padding), over the steps after the first WARMUP ones; peak
memory is torch.cuda.max_memory_reserved of the training process. Writes bench/results/device_sft_vs_trl.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "banking77" / "train.csv"
WARMUP = 5
SHAPES = {  # Qwen2.5's published configs (hidden, layers, heads, kv heads, intermediate)
    "0.5b": (896, 24, 14, 2, 4864), "1.5b": (1536, 28, 12, 2, 8960), "tiny": (64, 2, 4, 2, 128)}
CONFIGS = [  # (name, method, method_args, batching)
    ("lora", "lora", {}, "padded"),
    ("lora packed", "lora", {}, "packed"),
    ("qlora", "qlora", {"bits": 4}, "padded"),
]


def build_model(folder: Path, shape: str) -> Path:
    """Qwen2 of the given shape with random weights and SmolLM2's tokenizer (its ids fit Qwen's vocabulary)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from studio import models
    from studio.tasks import chat

    if (folder / "config.json").exists():
        return folder
    hidden, layers, heads, kv, inter = SHAPES[shape]
    config = Qwen2Config(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                         num_key_value_heads=kv, intermediate_size=inter, vocab_size=151936 if shape != "tiny" else
                         49152, max_position_embeddings=4096, tie_word_embeddings=shape != "1.5b")
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).to(torch.bfloat16).save_pretrained(folder)
    chat.load_tokenizer(models.resolve("smollm2")).save_pretrained(folder)
    return folder


def rows(n: int) -> list[dict]:
    with open(DATA, encoding="utf-8") as f:
        data = list(csv.DictReader(f))[:n]
    return [{"messages": [{"role": "user", "content": f"Which banking intent is this? {r['text']}"},
                          {"role": "assistant", "content": r["label"] if "label" in r else r["category"]}]}
            for r in data]


class TokenCount:
    """Wraps a collator: counts the tokens each batch trains on (no padding) after the first WARMUP batches, and
    the time from then on."""

    def __init__(self, collate, pad_id: int):
        self.collate, self.pad_id, self.batches, self.tokens, self.start = collate, pad_id, 0, 0, None

    def __call__(self, features):
        batch = self.collate(features)
        self.batches += 1
        if self.batches == WARMUP + 1:
            import torch

            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.start = time.time()
        if self.batches > WARMUP:
            mask = batch.get("attention_mask")
            # flattened: no padding
            self.tokens += int(mask.sum()) if mask is not None else int(batch["input_ids"].numel())
        return batch

    def rate(self) -> float:
        return self.tokens / max(time.time() - self.start, 1e-9) if self.start else 0.0


def studio_run(model: Path, name: str, method: str, args: dict, batching: str, a) -> dict:
    """One run through the studio's recipe (in this process, so the collator can be counted)."""
    import tempfile

    import torch

    from studio.config import RunConfig
    from studio.runs.store import Store
    from studio.training import recipe
    from studio.training.features import FEATURES

    work = Path(tempfile.mkdtemp(prefix="bench-studio-"))
    data = work / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows(a.rows)), encoding="utf-8")
    steps_rows = a.steps * a.batch
    cfg = RunConfig.from_dict({
        "task": "sft", "model": str(model), "method": method, "method_args": args,
        "task_args": {"batching": batching, "sample_prompts": 0},
        "data": {"train": str(data), "validation_fraction": 0.02, "test_fraction": 0.02},
        "training": {"epochs": steps_rows / (0.96 * a.rows), "batch_size": a.batch, "max_length": a.max_length,
                     "learning_rate": 2e-4, "logging_steps": 5, "score_base": False, "eval_strategy": "epoch",
                     "tensorboard": False, "group_by_length": False, "seed": 0}})
    store = Store(work / "runs")
    run_id = store.create(cfg, start=False)
    counted = {}

    class Count:
        name = "count"

        def trainer(self, run, parts, collator):
            counted["c"] = TokenCount(collator, run.tokenizer.pad_token_id)
            return parts, counted["c"]

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    recipe.run(store.run_dir(run_id), features=(*FEATURES, Count()))
    from studio.base import runfolder

    losses = [r["loss"] for r in runfolder.read_metrics(store.run_dir(run_id)) if r.get("kind") == "train"
              and "loss" in r]
    return {"who": "studio", "config": name, "tokens_per_s": round(counted["c"].rate()),
            "peak_gib": _peak(), "final_loss": round(losses[-1], 4) if losses else None,
            "formats": runfolder.read_status(store.run_dir(run_id)).get("number_formats")}


def trl_run(model: Path, name: str, method: str, args: dict, batching: str, a) -> dict:
    """The same run as a plain TRL script would write it."""
    import tempfile

    import datasets
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    tok = AutoTokenizer.from_pretrained(model)
    cuda = torch.cuda.is_available()
    kw = {"dtype": torch.bfloat16 if cuda else torch.float32}
    if method == "qlora":
        from transformers import BitsAndBytesConfig

        kw["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                       bnb_4bit_use_double_quant=True,
                                                       bnb_4bit_compute_dtype=torch.bfloat16)
    net = AutoModelForCausalLM.from_pretrained(model, **kw)
    ds = datasets.Dataset.from_list([{"prompt": r["messages"][:1], "completion": r["messages"][1:]}
                                     for r in rows(a.rows)])
    conf = SFTConfig(output_dir=tempfile.mkdtemp(prefix="bench-trl-"), max_steps=a.steps,
                     per_device_train_batch_size=a.batch, learning_rate=2e-4, max_length=a.max_length,
                     packing=batching == "packed", bf16=cuda, logging_steps=5, save_strategy="no", report_to="none",
                     seed=0, use_cpu=not cuda, lr_scheduler_type="linear", warmup_steps=0.06)
    peft_config = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear",
                             task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=net, args=conf, train_dataset=ds, processing_class=tok, peft_config=peft_config)
    trainer.data_collator = counter = TokenCount(trainer.data_collator, tok.pad_token_id)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {"who": "trl", "config": name, "tokens_per_s": round(counter.rate()), "peak_gib": _peak(),
            "final_loss": round(losses[-1], 4) if losses else None}


def _peak() -> float | None:
    import torch

    return round(torch.cuda.max_memory_reserved() / 2 ** 30, 2) if torch.cuda.is_available() else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", default="0.5b", choices=sorted(SHAPES))
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--rows", type=int, default=4000)
    ap.add_argument("--smoke", action="store_true", help="tiny shape, 8 steps, on whatever device is here")
    ap.add_argument("--only", help="comma-separated configuration names")
    a = ap.parse_args()
    if a.smoke:
        a.shape, a.steps, a.batch, a.max_length, a.rows = "tiny", 8, 4, 64, 200
    import torch

    model = build_model(Path(os.environ.get("STUDIO_CACHE", "/tmp")) / f"bench-qwen2-{a.shape}", a.shape)
    results = []
    for name, method, args, batching in CONFIGS:
        if a.only and name not in a.only.split(","):
            continue
        if method == "qlora" and not torch.cuda.is_available():
            print(f"{name}: skipped (bitsandbytes quantizes on a CUDA GPU; none here)", flush=True)
            continue
        for run in (studio_run, trl_run):
            got = run(model, name, method, args, batching, a)
            print(json.dumps(got), flush=True)
            results.append(got)
    machine = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({os.cpu_count()} cores)"
    out = ROOT / "bench" / "results" / ("device_sft_vs_trl_smoke.json" if a.smoke else "device_sft_vs_trl.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine, "python": platform.python_version(), "torch": torch.__version__,
                               "shape": a.shape, "steps": a.steps, "batch": a.batch, "max_length": a.max_length,
                               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "results": results},
                              indent=2))
    print(f"{'config':14} {'who':7} {'tokens/s':>9} {'peak GiB':>9} {'loss':>7}")
    for r in results:
        print(f"{r['config']:14} {r['who']:7} {r['tokens_per_s']:9d} {r['peak_gib'] or 0:9.2f} "
              f"{r['final_loss'] or 0:7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
