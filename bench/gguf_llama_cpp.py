"""The studio's GGUF files read by llama.cpp itself (llama-cpp-python), against transformers on the same model.

Two steps, because llama-cpp-python lives in its own environment (it builds llama.cpp from source; no wheel in the
registries for this machine):

    .venv/bin/python bench/gguf_llama_cpp.py prepare OUT      # the bundled SmolLM2 written as f16 and q8_0 GGUF,
                                                              # with transformers' token ids, greedy replies, logits
    LLVENV/bin/python bench/gguf_llama_cpp.py check OUT       # llama.cpp loads each file: same prompt tokens?
                                                              # same greedy reply? logits how close?

`check` writes bench/results/gguf_llama_cpp.json. What it shows: llama.cpp accepts the file (architecture,
tokenizer and its pre-tokenizer name, chat template), tokenizes the chat as transformers does, and its greedy
replies and next-token logits match the model's within each format's rounding.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHATS = [[{"role": "user", "content": "Give me three tips for a tidy desk."}],
         [{"role": "system", "content": "You answer in one sentence."},
          {"role": "user", "content": "Why is the sky blue?"}],
         [{"role": "user", "content": "用一句话介绍你自己。"}]]
NEW_TOKENS = 24


def prepare(out: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from studio import models
    from studio.export import gguf_export
    from studio.tasks import chat

    base = Path(models.resolve("smollm2"))
    tok, model = chat.load_tokenizer(base), chat.load_model(base).eval()
    out.mkdir(parents=True, exist_ok=True)
    for quant in ("f16", "q8_0"):
        gguf_export.write_gguf_file(model, tok, model.config.to_dict(), out / f"smollm2-{quant}.gguf", quant,
                                    "SmolLM2 135M Instruct", base)
    ref = []
    stops = [tok.eos_token_id, *chat.end_of_turn_ids(tok)]
    with torch.no_grad():
        for messages in CHATS:
            text = chat.render(tok, messages, add_generation_prompt=True)
            ids = tok(text, add_special_tokens=False)["input_ids"]
            x = torch.tensor([ids])
            logits = model(input_ids=x).logits[0, -1].float()
            greedy = model.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=NEW_TOKENS,
                                    do_sample=False, temperature=None, top_p=None, top_k=None, eos_token_id=stops,
                                    pad_token_id=tok.pad_token_id)[0, len(ids):].tolist()
            ref.append({"text": text, "ids": ids, "greedy": [t for t in greedy if t not in stops],
                        "logits": logits.tolist()})
    (out / "reference.json").write_text(json.dumps(ref))
    print("prepared", out)


def check(out: Path) -> None:
    import numpy as np
    from llama_cpp import Llama, llama_cpp

    ref = json.loads((out / "reference.json").read_text())
    rows = []
    for quant in ("f16", "q8_0"):
        t0 = time.time()
        llm = Llama(model_path=str(out / f"smollm2-{quant}.gguf"), n_ctx=512, logits_all=True, verbose=False,
                    n_threads=os.cpu_count())
        loaded = time.time() - t0
        same_ids, alike, total, identical, gaps, top1 = 0, 0, 0, 0, [], 0
        for r in ref:
            ids = llm.tokenize(r["text"].encode("utf-8"), add_bos=False, special=True)
            same_ids += ids == r["ids"]
            llm.reset()
            llm.eval(r["ids"])
            logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
            want = np.array(r["logits"], dtype=np.float32)
            gaps.append(float(np.abs(logits - want).mean()))
            top1 += int(logits.argmax() == want.argmax())
            got = []
            for _ in range(len(r["greedy"])):
                nxt = int(np.array(llm.scores[llm.n_tokens - 1]).argmax())
                if llama_cpp.llama_token_is_eog(llm._model.vocab, nxt):
                    break
                got.append(nxt)
                llm.eval([nxt])
            n = 0
            for a, b in zip(got, r["greedy"]):
                if a != b:
                    break
                n += 1
            alike += n
            total += len(r["greedy"])
            identical += got == r["greedy"]
        meta = llm.metadata
        reply = llm.create_chat_completion(messages=[{"role": "user", "content": "Say hello."}], max_tokens=12,
                                           temperature=0.0)["choices"][0]["message"]["content"]
        rows.append({"quant": quant, "load_s": round(loaded, 2), "prompt_tokens_same": f"{same_ids} of {len(ref)}",
                     "last_position_top1_same": f"{top1} of {len(ref)}",
                     "mean_abs_logit_difference_last_position": round(float(np.mean(gaps)), 4),
                     "greedy_tokens_alike": f"{alike} of {total}", "greedy_replies_identical": f"{identical} of "
                                                                                            f"{len(ref)}",
                     "pre_tokenizer": meta.get("tokenizer.ggml.pre"), "chat_completion_reply": reply})
        print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    import llama_cpp as package

    result = {"command": "bench/gguf_llama_cpp.py prepare OUT; LLVENV/bin/python bench/gguf_llama_cpp.py check OUT",
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, CPU only",
              "llama_cpp_python": package.__version__, "model": "bundled SmolLM2-135M-Instruct (base)",
              "rows": rows}
    (ROOT / "bench" / "results" / "gguf_llama_cpp.json").write_text(json.dumps(result, indent=2,
                                                                                ensure_ascii=False) + "\n")


if __name__ == "__main__":
    {"prepare": prepare, "check": check}[sys.argv[1]](Path(sys.argv[2]))
