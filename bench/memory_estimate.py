"""The memory estimate (studio.training.memory) against the measured peak, over models, methods, batch sizes and \
lengths.

Each configuration trains a few steps through the studio's real path (registry, a fresh worker process) on
texts long enough that every batch pads to max_length (the estimate's worst case), then reads what the run
recorded: the estimate made before launch and the measured peak (peak RSS of the training process on a CPU;
torch.cuda.max_memory_allocated plus the runtime allowance on a GPU).

    .venv/bin/python bench/memory_estimate.py            # CPU here; on a GPU machine add --device cuda
    .venv/bin/python bench/memory_estimate.py --reestimate   # the saved peaks against the current formula

Writes bench/results/memory_estimate_<device>.json and prints a table with each error.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MINILM, SMOLLM = "sentence-transformers/all-MiniLM-L6-v2", "smollm2"

# (name, task, model, method, method_args, batch_size, max_length, extra training settings)
CONFIGS = [
    ("minilm lora b16 L128", "text-classification", MINILM, "lora", {}, 16, 128, {}),
    ("minilm full b32 L256", "text-classification", MINILM, "full", {}, 32, 256, {}),
    ("minilm freeze-2 b64 L128", "text-classification", MINILM, "freeze", {"trainable_layers": 2}, 64, 128, {}),
    ("minilm ia3 b8 L512", "text-classification", MINILM, "ia3", {}, 8, 512, {}),
    ("minilm full b32 L256 checkpointing", "text-classification", MINILM, "full", {}, 32, 256,
     {"gradient_checkpointing": True}),
    ("smollm2 lora b4 L256", "sft", SMOLLM, "lora", {}, 4, 256, {}),
    ("smollm2 lora b8 L128 checkpointing", "sft", SMOLLM, "lora", {}, 8, 128, {"gradient_checkpointing": True}),
    ("smollm2 full b2 L128", "sft", SMOLLM, "full", {}, 2, 128, {}),
    ("smollm2 dpo lora b4 L128", "preference", SMOLLM, "lora", {}, 4, 128, {}),
]
# A GPU takes bigger batches and longer texts, in bf16 (precision auto).
GPU_CONFIGS = [
    ("minilm lora b32 L128", "text-classification", MINILM, "lora", {}, 32, 128, {}),
    ("minilm full b64 L256", "text-classification", MINILM, "full", {}, 64, 256, {}),
    ("minilm ia3 b32 L512", "text-classification", MINILM, "ia3", {}, 32, 512, {}),
    ("smollm2 lora b8 L512", "sft", SMOLLM, "lora", {}, 8, 512, {}),
    ("smollm2 lora b16 L512 checkpointing", "sft", SMOLLM, "lora", {}, 16, 512, {"gradient_checkpointing": True}),
    ("smollm2 full b8 L256", "sft", SMOLLM, "full", {}, 8, 256, {}),
    ("smollm2 dpo lora b8 L256", "preference", SMOLLM, "lora", {}, 8, 256, {}),
]
WORDS = "account card transfer payment refund balance statement limit exchange rate pending declined".split()


def data(work: Path, task: str, rows: int) -> Path:
    """Texts of a few hundred words, so every batch pads to max_length."""
    import random

    rng = random.Random(0)
    long = lambda: " ".join(rng.choice(WORDS) for _ in range(600))  # noqa: E731
    if task == "preference":
        path = work / "preference.jsonl"
        path.write_text("".join(json.dumps({"prompt": long()[:1500], "chosen": long(), "rejected": long()}) + "\n"
                                for _ in range(rows)))
        return path
    if task == "sft":
        path = work / "sft.jsonl"
        path.write_text("".join(json.dumps({"instruction": long()[:1500], "output": long()}) + "\n"
                                for _ in range(rows)))
        return path
    path = work / "tc.csv"
    path.write_text("text,label\n" + "".join(f"{long()},{'ab'[i % 2]}\n" for i in range(rows)))
    return path


MODELS: dict[str, str] = {}  # --minilm / --smollm: folders that stand in for the catalog's (e.g. random weights)


def run_config(config, train: Path, device: str):
    from studio.config import RunConfig

    name, task, model, method, args, batch, length, extra = config
    model = MODELS.get(model, model)
    return RunConfig.from_dict({"task": task, "model": model, "method": method, "method_args": args,
                                "data": {"train": str(train), "validation_fraction": 0.1, "test_fraction": 0.1},
                                "training": {"batch_size": batch, "max_length": length, "epochs": 1, "device": device,
                                             "score_base": False, "sample_prompts": 0, "max_new_tokens": 4,
                                             "logging_steps": 1, **extra}})


def reestimate(path: Path) -> None:
    """The current formula against the peaks measured before (no training: the estimate needs only the shape)."""
    from studio.training import memory

    res = json.loads(path.read_text())
    configs = {c[0]: c for c in CONFIGS + GPU_CONFIGS}
    for r in [r for r in res["rows"] if "measured" in r]:
        est = memory.estimate(run_config(configs[r["name"]], Path("unused.csv"), res["device"]))
        r.update(estimate=est.total, parts=est.parts, estimate_gib=memory.gib(est.total),
                 error=round(est.total / r["measured"] - 1, 3))
        print(f"{r['name']:38} estimate {r['estimate_gib']:>9}  measured {r['measured_gib']:>9}  error "
              f"{r['error']:+.0%}")
    errors = [abs(r["error"]) for r in res["rows"] if "error" in r]
    res.update(mean_abs_error=round(sum(errors) / len(errors), 3), max_abs_error=round(max(errors), 3),
               reestimated=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    path.write_text(json.dumps(res, indent=2))
    print(json.dumps({k: v for k, v in res.items() if k != "rows"}, indent=2))


def measure(store, work: Path, config, device: str) -> dict:
    from studio.training import memory

    name, task, batch = config[0], config[1], config[5]
    cfg = run_config(config, data(work, task, max(4 * batch, 24)), device)
    t0 = time.time()
    run_id = store.create(cfg)
    st = store.wait(run_id, timeout=3600)
    if st["status"] != "completed":
        return {"name": name, "run": run_id, "failed": f"{st['status']}: {st.get('reason')}"}
    est, peak = st["memory"], st["peak_memory"]
    return {"name": name, "run": run_id, "estimate": est["total"], "parts": est["parts"], "measured": peak["bytes"],
            "what": peak["what"], "error": round(est["total"] / peak["bytes"] - 1, 3),
            "estimate_gib": memory.gib(est["total"]), "measured_gib": memory.gib(peak["bytes"]),
            "seconds": round(time.time() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--only", nargs="*", help="Names (substrings) of the configurations to run.")
    ap.add_argument("--minilm", help="A folder to use instead of the bundled MiniLM (same config, any weights).")
    ap.add_argument("--smollm", help="A folder to use instead of the bundled SmolLM2 (same config, any weights).")
    ap.add_argument("--reestimate", action="store_true",
                    help="Recompute the estimates of the saved results with the current formula (no training).")
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    MODELS.update({k: v for k, v in ((MINILM, a.minilm), (SMOLLM, a.smollm)) if v})
    if a.reestimate:
        return reestimate(ROOT / "bench" / "results" / f"memory_estimate_{a.device.split(':')[0]}.json")
    from studio.runs.store import Store

    work = ROOT / "bench" / "_work" / f"memory-{int(time.time())}"
    work.mkdir(parents=True)
    store = Store(work / "runs")
    rows = []
    for config in GPU_CONFIGS if a.device.startswith("cuda") else CONFIGS:
        if a.only and not any(o in config[0] for o in a.only):
            continue
        rows.append(measure(store, work, config, a.device))
        r = rows[-1]
        print(f"{r['name']:38} " + (f"FAILED {r['failed']}" if "failed" in r else
              f"estimate {r['estimate_gib']:>9}  measured {r['measured_gib']:>9}  error {r['error']:+.0%}"), flush=True)
        save(rows, a.device)  # after each configuration: a bench that dies keeps what it measured


def save(rows: list[dict], device: str) -> None:
    errors = [abs(r["error"]) for r in rows if "error" in r]
    res = {"device": device,
           "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
           "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": rows,
           "mean_abs_error": round(sum(errors) / max(len(errors), 1), 3),
           "max_abs_error": round(max(errors, default=0), 3)}
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"memory_estimate_{device.split(':')[0]}.json").write_text(json.dumps(res, indent=2))
    print(json.dumps({k: v for k, v in res.items() if k != "rows"}, indent=2))


if __name__ == "__main__":
    main()
