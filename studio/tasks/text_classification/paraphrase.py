"""Paraphrases written by a causal language model (the bundled SmolLM2 works offline): generation-based
augmentation. Sampled, seeded, in batches, with a progress line every few batches."""

from __future__ import annotations

import re
import time
from typing import Callable

from studio.models import resolve

PROMPT = ("Rewrite the following message in different words. Keep its meaning and language. Reply with the "
          "rewritten message only.\n\nMessage: {text}")


def load_generator(name: str):
    """(model, tokenizer) of a catalog name, hub id or folder, ready to generate (left padding)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve(name)
    tok = AutoTokenizer.from_pretrained(str(path))
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
    model.eval()
    return model, tok


def paraphrases(texts: list[str], generator, seed: int, batch_size: int = 16, temperature: float = 0.8,
                log: Callable[[str], None] = print) -> list[str | None]:
    """One paraphrase per text (None where the model's answer is empty, the text itself, or runs on far longer)."""
    import torch

    model, tok = generator
    out: list[str | None] = []
    t0, last = time.time(), time.time()
    torch.manual_seed(seed)
    for start in range(0, len(texts), batch_size):
        batch = texts[start:start + batch_size]
        prompts = [_prompt(tok, t) for t in batch]
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        longest = max(len(tok(t, add_special_tokens=False)["input_ids"]) for t in batch)
        with torch.no_grad():
            gen = model.generate(**enc, do_sample=True, temperature=temperature, top_p=0.95,
                                 max_new_tokens=int(longest * 1.6) + 8, pad_token_id=tok.pad_token_id)
        answers = tok.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        out += [_clean(a, t) for a, t in zip(answers, batch)]
        if time.time() - last > 10 or start + batch_size >= len(texts):
            last = time.time()
            log(f"[studio] paraphrases {len(out)}/{len(texts)} in {time.time() - t0:.0f}s")
    return out


def _prompt(tok, text: str) -> str:
    messages = [{"role": "user", "content": PROMPT.format(text=text)}]
    if getattr(tok, "chat_template", None):
        return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return PROMPT.format(text=text) + "\nRewritten:"


META = re.compile(r"^[^:]{0,60}\b(rephras|rewrit|paraphras|message|here)\w*[^:]{0,40}:\s*", re.IGNORECASE)


def _clean(answer: str, text: str) -> str | None:
    """The paraphrase in a small model's answer: its first line with content, without a lead-in ("Here is the
    rewritten message:") or quotes; None when there is none, it is the text itself, or it runs on far longer."""
    for line in answer.strip().splitlines():
        line = META.sub("", line.strip()).strip('"\u201c\u201d\' ')
        if not line:
            continue
        if re.search(r"rephras|rewrit|paraphras", line, re.IGNORECASE) or line.lower() == text.strip().lower():
            return None
        return line if len(line) <= 2 * len(text) + 20 else None
    return None
