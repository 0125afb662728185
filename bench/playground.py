"""Playground speed: one-text latency, 1,000-text throughput against a plain loop, SmolLM2 generation tokens/s.

    .venv/bin/python bench/playground.py            # quick: 100 single calls, 1,000 texts x 3 rounds, 3 generations
    .venv/bin/python bench/playground.py --full     # 300 single calls, 1,000 texts x 5 rounds, 5 generations

1. A finished run: MiniLM + LoRA (the studio's defaults), 1 epoch of assets/samples/support_tickets.csv,
   created through Store.create and waited for (the real path).
2. Latency: `studio.serve.inference.predict(run_dir, [text])` called sequentially (first call, which loads the
   model, reported apart); p50/p95/max.
3. Throughput: 1,000 Banking77 test texts (../shared/data/banking77/test.csv) labelled by
   `studio.serve.inference.predict(run_dir, texts)` (its own batching: 32, sorted by length; the base model with
   the LoRA adapter unmerged) against a plain pipeline-equivalent loop: the adapter merged into the base
   (`merge_and_unload`, saved, reloaded with AutoModelForSequenceClassification), batch 32 in input order,
   padding=True, truncation at the run's max_length, softmax. Rounds interleaved; median texts/s and ratio.
   The two must agree on the label of every text (checked and reported).
4. Generation: the bundled SmolLM2-135M-Instruct, plain `model.generate(max_new_tokens=64, do_sample=False)`
   on a chat-templated prompt; tokens/s = generated tokens / seconds. The studio has no generation path yet
   (the SFT task is not built), so there is nothing of the studio's to compare against.

Writes bench/results/playground.json (playground_full.json with --full) and prints a summary.
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

from bench.latency import pct  # noqa: E402

SAMPLE = ROOT / "assets" / "samples" / "support_tickets.csv"
BANKING_TEST = ROOT.parent / "shared" / "data" / "banking77" / "test.csv"
ONE_TEXT = "I was charged twice for my subscription this month, can you refund the duplicate payment?"
PROMPT = "Explain in a few sentences why the sky is blue."



def make_run(work: Path) -> Path:
    from studio.config import RunConfig
    from studio.runs.store import Store

    store = Store(work / "runs")
    cfg = RunConfig.from_dict({"model": "minilm", "method": "lora", "data": {"train": str(SAMPLE)},
                               "training": {"epochs": 1}})
    t0 = time.time()
    rid = store.create(cfg)
    st = store.wait(rid, timeout=1800)
    if st["status"] != "completed":
        raise SystemExit(f"run {rid} {st['status']}: {st.get('reason')}")
    print(f"run {rid} completed in {time.time() - t0:.1f}s", flush=True)
    return store.run_dir(rid)


def merged_copy(run_dir: Path, work: Path) -> Path:
    """The run's adapter merged into its base, saved as a plain model folder."""
    from studio.serve import inference

    lr = inference.LoadedRun(run_dir)  # a private copy: merging must not touch the cached model
    merged = lr.model.merge_and_unload() if hasattr(lr.model, "merge_and_unload") else lr.model
    out = work / "merged"
    merged.save_pretrained(out, safe_serialization=True)
    lr.tokenizer.save_pretrained(out)
    return out


class PlainLoop:
    def __init__(self, folder: Path, max_length: int):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(str(folder))
        self.model = AutoModelForSequenceClassification.from_pretrained(str(folder)).eval()
        self.max_length = max_length

    def __call__(self, texts: list[str], batch_size: int = 32) -> list[str]:
        import torch

        out = []
        id2label = self.model.config.id2label
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                enc = self.tok(texts[i:i + batch_size], padding=True, truncation=True, max_length=self.max_length,
                               return_tensors="pt")
                probs = torch.softmax(self.model(**enc).logits.float(), dim=-1)
                out.extend(id2label[int(k)] for k in probs.argmax(-1))
        return out


def generation(n: int) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from studio.models import resolve

    path = str(resolve("smollm2"))
    t0 = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, use_safetensors=True).eval()
    load_s = time.perf_counter() - t0
    ids = tok.apply_chat_template([{"role": "user", "content": PROMPT}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    runs = []
    with torch.inference_mode():
        model.generate(**ids, max_new_tokens=8, do_sample=False)  # warm-up
        for _ in range(n):
            t = time.perf_counter()
            out = model.generate(**ids, max_new_tokens=64, do_sample=False)
            dt = time.perf_counter() - t
            new = int(out.shape[1] - ids["input_ids"].shape[1])
            runs.append({"seconds": round(dt, 3), "new_tokens": new, "tokens_per_s": round(new / dt, 1)})
    text = tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    return {"model": path, "load_s": round(load_s, 2), "prompt_tokens": int(ids["input_ids"].shape[1]),
            "runs": runs, "median_tokens_per_s": statistics.median(r["tokens_per_s"] for r in runs),
            "sample_output": text[:300],
            "studio_path": "pending: the studio has no generation path until the SFT task is built"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--quick", action="store_true", help="the default")
    ap.add_argument("--run-dir", default=None, help="use this finished MiniLM run instead of training one")
    ap.add_argument("--out", default=None,
                    help="default: bench/results/playground.json (playground_full.json with --full)")
    a = ap.parse_args()
    a.out = a.out or str(ROOT / "bench" / "results" / ("playground_full.json" if a.full else "playground.json"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import pandas as pd
    import torch
    from transformers.utils import logging as hf_logging

    from studio.serve import inference

    hf_logging.set_verbosity_error()
    single_n, rounds, gens = (300, 5, 5) if a.full else (100, 3, 3)
    work = Path(tempfile.mkdtemp(prefix="studio-playground-"))
    res: dict = {"mode": "full" if a.full else "quick",
                 "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                            f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
                            f"{'CUDA' if torch.cuda.is_available() else 'no GPU'}",
                 "load_average_at_start": os.getloadavg()}
    t0 = time.time()
    run_dir = Path(a.run_dir) if a.run_dir else make_run(work)
    res["run"] = {"dir": str(run_dir), "train_wall_s": round(time.time() - t0, 1)}

    # -- latency of one text
    t = time.perf_counter()
    inference.predict(run_dir, [ONE_TEXT])
    first = time.perf_counter() - t
    lat = []
    for i in range(single_n):
        t = time.perf_counter()
        inference.predict(run_dir, [ONE_TEXT])
        lat.append(time.perf_counter() - t)
    res["single_text"] = {"first_call_s (loads the model)": round(first, 3), "n": single_n,
                          "p50_ms": round(1000 * statistics.median(lat), 2), "p95_ms": round(1000 * pct(lat, 95), 2),
                          "max_ms": round(1000 * max(lat), 2), "mean_ms": round(1000 * statistics.mean(lat), 2)}
    print("single text:", res["single_text"], flush=True)

    # -- 1,000 texts: studio vs plain loop on the merged model
    texts = pd.read_csv(BANKING_TEST)["text"].astype(str).tolist()[:1000]
    max_length = json.loads((run_dir / "model" / "studio_model.json").read_text()).get("max_length", 128)
    plain = PlainLoop(merged_copy(run_dir, work), max_length)
    plain(texts[:64])  # warm-up
    times = {"studio": [], "plain": []}
    studio_labels = plain_labels = None
    for r in range(rounds):
        t = time.perf_counter()
        studio_labels = [p["label"] for p in inference.predict(run_dir, texts)]
        times["studio"].append(time.perf_counter() - t)
        t = time.perf_counter()
        plain_labels = plain(texts)
        times["plain"].append(time.perf_counter() - t)
        print(f"round {r + 1}: studio {times['studio'][-1]:.2f}s, plain {times['plain'][-1]:.2f}s", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    res["batch_1000"] = {"texts": len(texts), "rounds": rounds,
                         "seconds": {k: [round(x, 3) for x in v] for k, v in times.items()},
                         "texts_per_s": {k: round(len(texts) / v, 1) for k, v in med.items()},
                         "studio_speed_ratio_vs_plain": round(med["plain"] / med["studio"], 3),
                         "label_agreement": sum(x == y for x, y in zip(studio_labels, plain_labels)) / len(texts),
                         "studio": "inference.predict: base + LoRA adapter unmerged, batch 32 sorted by length",
                         "plain": "merged model, AutoModelForSequenceClassification, batch 32 in order, padding=True"}
    print("1,000 texts:", res["batch_1000"], flush=True)
    del plain
    inference.forget(run_dir)

    # -- generation
    res["generation"] = generation(gens)
    print("generation:", {k: v for k, v in res["generation"].items() if k != "sample_output"}, flush=True)
    res["work_dir"] = str(work)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
