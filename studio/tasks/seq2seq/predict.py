"""Seq2seq prediction: greedy generation for source texts, how a prediction prints, and the model card's usage
example."""

from __future__ import annotations

from typing import Any

import numpy as np

from studio.tasks.seq2seq.tokens import decode


def card_usage(is_adapter: bool, labels: list[str] | None = None) -> list[str]:
    """Python lines of the model card's usage example (PATH_OR_REPO stands for where the export lives)."""
    load = (["from peft import AutoPeftModelForSeq2SeqLM", "from transformers import AutoTokenizer", "",
             'model = AutoPeftModelForSeq2SeqLM.from_pretrained("PATH_OR_REPO")'] if is_adapter else
            ["from transformers import AutoModelForSeq2SeqLM, AutoTokenizer", "",
             'model = AutoModelForSeq2SeqLM.from_pretrained("PATH_OR_REPO")'])
    return load + ['tokenizer = AutoTokenizer.from_pretrained("PATH_OR_REPO")',
                   'inputs = tokenizer(["My card has not arrived yet."], return_tensors="pt", '
                   'return_token_type_ids=False)',
                   "out = model.generate(**inputs, max_new_tokens=64)",
                   "print(tokenizer.batch_decode(out, skip_special_tokens=True))"]


def format_prediction(text: str, pred: dict[str, Any]) -> str:
    """One line of `studio predict` output: the generated target, then the source."""
    return f"{pred['output']}\t{text}"


def predict(model, tokenizer, inputs: list[str], max_length: int = 128, batch_size: int = 32, max_new_tokens: int = 64,
            **_) -> list[dict[str, Any]]:
    """Greedy generation for each source text, batched by similar length."""
    import torch

    texts = inputs
    device = next(model.parameters()).device
    model.eval()
    order = np.argsort([len(t) for t in texts])
    results: list[Any] = [None] * len(texts)
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            idx = order[i:i + batch_size]
            enc = tokenizer([texts[j] for j in idx], truncation=True, max_length=max_length, padding=True,
                            return_tensors="pt", return_token_type_ids=False).to(device)
            out = model.generate(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                                 max_new_tokens=int(max_new_tokens), do_sample=False, num_beams=1)
            for j, text in zip(idx, decode(tokenizer, out.cpu().numpy())):
                results[j] = {"output": text}
    return results
