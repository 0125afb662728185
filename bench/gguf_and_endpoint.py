"""GGUF export and the OpenAI-compatible endpoint, measured on a real run: the bundled SmolLM2 with LoRA on the
SFT sample (a few steps; what is measured is the export and the serving, not the tuning).

GGUF: for each number format, the file's size beside the merged model's, the time to write and check it, and
what the format changed (the export report: next-token logits on the test chats and greedy replies), plus the
same logits read back by transformers' own GGUF reader. Endpoint: `studio serve` on loopback called with OpenAI's
Python client: time to the first streamed piece, whole-answer latency and tokens per second over N requests,
beside the same generation in-process (`transformers` generate through the studio's LoadedRun).

    .venv/bin/python bench/gguf_and_endpoint.py [--requests 10] [--max-tokens 64]

Writes bench/results/gguf_and_endpoint.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.latency import summary  # noqa: E402

PROMPTS = ["Give me three tips for a tidy desk.", "Why is the sky blue?", "Write a haiku about autumn.",
           "What is the capital of France?", "用一句话介绍你自己。"]


def train_run(store) -> str:
    from studio.config import RunConfig

    cfg = {"task": "sft", "model": "smollm2", "method": "lora", "name": "bench-smollm2",
           "data": {"train": str(ROOT / "assets" / "samples" / "sft_sample.jsonl"), "max_rows": 32},
           "training": {"epochs": 1, "batch_size": 8, "max_length": 64, "device": "cpu", "learning_rate": 1e-3,
                        "sample_prompts": 0}}
    run_id = store.create(RunConfig.from_dict(cfg))
    st = store.wait(run_id, timeout=1800)
    assert st["status"] == "completed", st
    return run_id


def gguf_rows(run_dir: Path, out: Path) -> list[dict]:
    import torch
    from transformers import AutoModelForCausalLM

    from studio.export import gguf_export
    from studio.serve import inference
    from studio.tasks import chat

    loaded = inference.load(run_dir)
    ids = torch.tensor([chat._prompt_ids(loaded.tokenizer, [{"role": "user", "content": PROMPTS[0]}])])
    with torch.no_grad():
        want = loaded.model(input_ids=ids).logits[0]
    rows = []
    for quant in gguf_export.QUANTS:
        dest = out / quant
        t0 = time.time()
        report = gguf_export.write_gguf(run_dir, dest, quant)
        seconds = time.time() - t0
        back = AutoModelForCausalLM.from_pretrained(str(dest), gguf_file=gguf_export.GGUF_FILE, dtype=torch.float32)
        with torch.no_grad():
            got = back(input_ids=ids).logits[0]
        gap = (want - got).abs()
        rows.append({**{k: report[k] for k in ("quant", "size_bytes", "original_size_bytes", "original_dtype",
                                                "top1_agreement", "max_abs_logit_difference",
                                                "mean_abs_logit_difference", "logit_spread", "greedy_tokens_alike",
                                                "greedy_tokens", "greedy_replies_identical", "ollama_template")},
                     "seconds": round(seconds, 1),
                     "transformers_reader": {"mean_abs_logit_difference": float(gap.mean()),
                                             "max_abs_logit_difference": float(gap.max()),
                                             "top1_agreement": float((want.argmax(-1) == got.argmax(-1))
                                                                     .float().mean())}})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def endpoint_rows(store, run_id: str, n: int, max_tokens: int) -> dict:
    import httpx
    from openai import OpenAI

    from studio.serve import inference

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "studio.cli", "--runs-dir", str(store.root), "serve", run_id,
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    t0 = time.time()
    while True:
        try:
            httpx.get(url + "/models", timeout=2)
            break
        except httpx.TransportError:
            time.sleep(0.2)
    started = time.time() - t0
    client = OpenAI(base_url=url, api_key="none", max_retries=0, timeout=600)
    try:
        client.chat.completions.create(model=run_id, messages=[{"role": "user", "content": "Hi"}], max_tokens=4)
        first, whole, rates = [], [], []
        for i in range(n):
            messages = [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}]
            t = time.time()
            stream = client.chat.completions.create(model=run_id, messages=messages, max_tokens=max_tokens,
                                                    stream=True)
            got_first = None
            text = ""
            for chunk in stream:
                piece = chunk.choices[0].delta.content if chunk.choices else None
                if piece and got_first is None:
                    got_first = time.time() - t
                text += piece or ""
            elapsed = time.time() - t
            first.append(got_first or elapsed)
            whole.append(elapsed)
            tokens = client.chat.completions.create(model=run_id, messages=messages, max_tokens=max_tokens
                                                    ).usage.completion_tokens
            rates.append(tokens / elapsed)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    loaded = inference.load(store.run_dir(run_id))
    direct = []
    for i in range(n):
        t = time.time()
        out = "".join([""] + list(loaded.stream([{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}],
                                                max_new_tokens=max_tokens))[-1:])
        elapsed = time.time() - t
        direct.append(loaded.count_tokens(out) / elapsed)
    return {"server_start_s": round(started, 1), "time_to_first_piece": summary(first),
            "whole_answer": summary(whole), "tokens_per_s_endpoint": rate_summary(rates),
            "tokens_per_s_in_process": rate_summary(direct), "requests": n, "max_tokens": max_tokens}


def rate_summary(values: list[float]) -> dict:
    """summary() of rates (tokens per second), its keys without the seconds unit."""
    return {k.removesuffix("_s"): v for k, v in summary(values).items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=10)
    ap.add_argument("--max-tokens", type=int, default=64)
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from studio.runs.store import Store

    with tempfile.TemporaryDirectory(prefix="bench-gguf-") as tmp:
        store = Store(Path(tmp) / "runs")
        t0 = time.time()
        run_id = train_run(store)
        trained = time.time() - t0
        rows = gguf_rows(store.run_dir(run_id), Path(tmp) / "gguf")
        endpoint = endpoint_rows(store, run_id, a.requests, a.max_tokens)
    result = {"command": "bench/gguf_and_endpoint.py " + " ".join(sys.argv[1:]),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, CPU only",
              "model": "bundled SmolLM2-135M-Instruct, LoRA on the SFT sample (32 rows, one epoch)",
              "train_seconds": round(trained, 1), "gguf": rows, "endpoint": endpoint}
    out = ROOT / "bench" / "results" / "gguf_and_endpoint.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(endpoint, indent=2))
    print("written", out)


if __name__ == "__main__":
    main()
