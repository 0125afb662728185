"""Token classification's prediction: entities with character offsets in typed text, how the playground shows
them, and the model card's usage example."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from studio.tasks.token_classification.report import entity_spans
from studio.tasks.token_classification.training import best_tags

WORD_RE = re.compile(r"\w+(?:[-'’.&]\w+)*|[^\w\s]")  # words (Jean-Luc, O'Neil, U.S) and single punctuation marks


def card_usage(is_adapter: bool, labels: list[str] | None = None) -> list[str]:
    """Python lines of the model card's usage example (PATH_OR_REPO stands for where the export lives)."""
    if is_adapter:
        # The base loads first, with its own head size: the adapter's head only fits once it knows the tags.
        return ["from peft import AutoPeftModelForTokenClassification",
                "from transformers import AutoTokenizer, pipeline", "",
                f"id2label = {dict(enumerate(labels or []))!r}",
                'model = AutoPeftModelForTokenClassification.from_pretrained("PATH_OR_REPO", num_labels=len(id2label), '
                'id2label=id2label).merge_and_unload()',
                'tokenizer = AutoTokenizer.from_pretrained("PATH_OR_REPO")',
                'tag = pipeline("token-classification", model=model, tokenizer=tokenizer, '
                'aggregation_strategy="simple")',
                'print(tag("Alice Martin flew from Paris to Berlin for Siemens."))']
    return ["from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline", "",
            'model = AutoModelForTokenClassification.from_pretrained("PATH_OR_REPO")',
            'tokenizer = AutoTokenizer.from_pretrained("PATH_OR_REPO")',
            'tag = pipeline("token-classification", model=model, tokenizer=tokenizer, aggregation_strategy="simple")',
            'print(tag("Alice Martin flew from Paris to Berlin for Siemens."))']


def format_prediction(text: str, pred: dict[str, Any]) -> str:
    """The text with each entity's type after it: "Alice[PER] lives in Paris[LOC]"."""
    out, pos = [], 0
    for e in sorted(pred["entities"], key=lambda e: e["start"]):
        out += [text[pos:e["end"]], f"[{e['entity']}]"]
        pos = e["end"]
    return "".join(out) + text[pos:]


def split_words(text: str) -> list[tuple[str, int, int]]:
    """Words and punctuation marks of typed text with their character offsets."""
    return [(m.group(), m.start(), m.end()) for m in WORD_RE.finditer(text)]


def predict(model, tokenizer, inputs: list[str], max_length: int = 128, batch_size: int = 32,
            **_) -> list[dict[str, Any]]:
    """Entities with character offsets in each text; words past max_length tokens are left untagged (O)."""
    texts = inputs
    import torch

    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    device = next(model.parameters()).device
    words = [split_words(t) for t in texts]
    tags: list[list[str]] = [["O"] * len(w) for w in words]
    probs: list[list[float]] = [[1.0] * len(w) for w in words]
    todo = [i for i, w in enumerate(words) if w]
    model.eval()
    with torch.inference_mode():
        for b in range(0, len(todo), batch_size):
            idx = todo[b:b + batch_size]
            enc = tokenizer([[w for w, _, _ in words[i]] for i in idx], is_split_into_words=True, truncation=True,
                            max_length=max_length, padding=True, return_tensors="pt")
            out = best_tags(model(**enc.to(device)).logits).cpu().numpy()
            for row, i in enumerate(idx):
                seen = set()
                for pos, w in enumerate(enc.word_ids(row)):
                    if w is not None and w not in seen:
                        seen.add(w)
                        tags[i][w], probs[i][w] = labels[int(out[row, pos, 0])], float(out[row, pos, 1])
    return [_prediction(text, w, t, p) for text, w, t, p in zip(texts, words, tags, probs)]


def _prediction(text: str, words: list[tuple[str, int, int]], tags: list[str], probs: list[float]) -> dict[str, Any]:
    ents = []
    for t, s, e in entity_spans(tags):
        start, end = words[s][1], words[e - 1][2]
        ents.append({"entity": t, "text": text[start:end], "start": start, "end": end,
                     "score": float(np.mean(probs[s:e]))})
    return {"entities": ents, "tokens": [w for w, _, _ in words], "tags": tags}
