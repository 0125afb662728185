"""Generation speed of the playground path against a plain transformers generate call.

For a finished SmolLM2 SFT run (LoRA), the same prompts go, one at a time and greedy with the same
max_new_tokens, through: the studio's predict (studio.serve.inference.predict: chat template, lock,
decode), the studio's stream (studio.serve.inference.stream: a generation thread and a TextIteratorStreamer,
as the Playground chat uses), and a plain `model.generate` on the same loaded model; then the merged
export under a plain generate. Greedy decoding makes the token sequences identical (checked), so
tokens/s compare like for like. Rounds interleave the paths and the median round counts, which keeps a
busy machine from favouring whichever path ran first.

    .venv/bin/python bench/generation.py [--run-dir RUN] [--max-new-tokens 64] [--rounds 3]

Writes bench/results/generation.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PROMPTS = ["Give me three tips for a tidy desk.", "What is the capital of Portugal?", "Write a short poem about rain.",
           "Explain what a savings account is in two sentences.", "List four fruits that are red.",
           "How do I reset a forgotten password?"]


def newest_run() -> Path:
    runs = sorted((ROOT / "bench" / "_work" / "sft_before_after" / "runs").glob("2*"))
    if not runs:
        raise SystemExit("No finished SFT run: run bench/sft_before_after.py first or pass --run-dir.")
    return runs[-1]


def plain_generate(model, tokenizer, prompt: str, max_new_tokens: int) -> tuple[list[int], float]:
    """What a person writes with transformers alone: apply_chat_template, generate, slice off the prompt."""
    import torch

    inputs = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                           return_tensors="pt", return_dict=True)
    t0 = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id)
    return out[0, inputs["input_ids"].shape[1]:].tolist(), time.perf_counter() - t0


def timed(fn) -> tuple[object, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", type=Path, default=None)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--prompts", type=int, default=len(PROMPTS), help="Use the first N prompts.")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "generation.json")
    a = ap.parse_args()

    import torch

    from studio import export
    from studio.serve import inference
    from studio.tasks import chat

    torch.manual_seed(0)
    prompts = PROMPTS[:a.prompts]
    rd = a.run_dir or newest_run()
    loaded = inference.load(rd)
    tok, model = loaded.tokenizer, loaded.model
    merged_dir = export.build_folder(rd, "merged", Path(tempfile.mkdtemp(prefix="studio-gen-")) / "merged")
    merged = chat.load_model(merged_dir).eval()
    settings = {"max_new_tokens": a.max_new_tokens, "temperature": 0.0}

    paths = {
        "plain generate (adapter model)": lambda p: plain_generate(model, tok, p, a.max_new_tokens),
        "studio predict (adapter model)": lambda p: timed(lambda: inference.predict(rd, [p], **settings)[0]["output"]),
        "studio stream (adapter model)": lambda p: timed(lambda: (list(inference.stream(
            rd, [{"role": "user", "content": p}], **settings)) or [""])[-1].strip()),
        "plain generate (merged export)": lambda p: plain_generate(merged, tok, p, a.max_new_tokens),
    }
    for p in PROMPTS[:1]:  # warm-up: first calls pay for allocations and kernel selection
        for fn in paths.values():
            fn(p)
    rounds: dict[str, list[float]] = {k: [] for k in paths}
    tokens: dict[str, int] = {}
    texts: dict[str, dict[str, str]] = {k: {} for k in paths}
    for _ in range(a.rounds):
        for name, fn in paths.items():
            total = 0.0
            for p in prompts:
                out, seconds = fn(p)
                total += seconds
                if isinstance(out, list):  # token ids from the plain path
                    tokens[p] = len(out)
                    out = tok.decode(out, skip_special_tokens=True).strip()
                texts[name][p] = out
            rounds[name].append(total)
    n_tokens = sum(tokens.values())
    reference = texts["plain generate (adapter model)"]
    rows = {}
    for name, times in rounds.items():
        med = statistics.median(times)
        rows[name] = {"seconds_median": round(med, 3), "seconds_all": [round(x, 3) for x in times],
                      "tokens": n_tokens, "tokens_per_second": round(n_tokens / med, 2),
                      "same_text_as_plain": texts[name] == reference}
    base = rows["plain generate (adapter model)"]["tokens_per_second"]
    for r in rows.values():
        r["vs_plain_adapter"] = round(r["tokens_per_second"] / base, 3)
    result = {"bench": "generation", "run": rd.name,
              "model": json.loads((rd / "model" / "studio_model.json").read_text()),
              "prompts": len(prompts), "max_new_tokens": a.max_new_tokens, "rounds": a.rounds, "paths": rows,
              "machine": {"python": platform.python_version(), "torch": torch.__version__,
                          "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine()},
              "notes": "greedy, batch 1, one prompt at a time; tokens are the plain path's generated token count "
                       "(identical sequences for every path where same_text_as_plain is true)."}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2))
    print("| path | tokens/s | vs plain generate | same text |\n|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['tokens_per_second']:.1f} | {r['vs_plain_adapter']:.2f}x | {r['same_text_as_plain']} |")


if __name__ == "__main__":
    main()
