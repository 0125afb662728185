"""Start the classification head from class prototypes instead of random weights.

A fresh head is random, so the first epochs spend their steps finding the
classes at all. Setting each class's weight row to the (centred, normalised)
mean of its examples' head inputs gives a nearest-class-mean classifier before
the first step; fine-tuning then starts from there (the linear-probe-then-
fine-tune idea, LP-FT, without the separate probe phase). On Banking77 with
MiniLM this alone scores 72% before any training (random head: 1.3%); see
bench/RESULTS.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:  # torch loads lazily: the UI imports this module's Protocol, not the model code
    from torch import nn

LOGIT_SCALE = 10.0  # cosine-like logits in about [-10, 10]: confident but not saturated
# Above this size the prototypes' forward pass is what a run waits for before its first step (SmolLM2, 135M:
# about 4 s for 16 rows per class on 2 cores), so large bases average fewer rows: 4 per class.
LARGE_MODEL_PARAMETERS = 60_000_000
LARGE_MODEL_ROWS_PER_CLASS = 4


def rows_per_class(model: nn.Module, per_class: int) -> int:
    n = sum(p.numel() for p in model.parameters())
    return min(per_class, LARGE_MODEL_ROWS_PER_CLASS) if n > LARGE_MODEL_PARAMETERS else per_class


def head_linear(model: nn.Module) -> nn.Linear | None:
    """The final Linear of a sequence-classification head, when the head is a plain Linear."""
    from torch import nn

    for attr in ("classifier", "score"):
        mod = getattr(model, attr, None)
        if isinstance(mod, nn.Linear):
            return mod
    return None


def init_from_prototypes(model: nn.Module, tokenizer, texts: list[str], label_ids: list[int], num_labels: int,
                         max_length: int, per_class: int = 16, max_rows: int = 1024, batch_size: int = 64,
                         seed: int = 0) -> bool:
    """Set the head to class prototypes computed from up to `per_class` examples per class.

    Returns False (head untouched) when the head is not a plain Linear or a class has no example.
    """
    import torch

    with torch.no_grad():
        return _set_prototypes(model, tokenizer, texts, label_ids, num_labels, max_length, per_class, max_rows,
                               batch_size, seed)


def _set_prototypes(model, tokenizer, texts, label_ids, num_labels, max_length, per_class, max_rows, batch_size,
                    seed) -> bool:
    import torch

    head = head_linear(model)
    if head is None or head.out_features != num_labels:
        return False
    rng = np.random.default_rng(seed)
    y = np.asarray(label_ids)
    per_class = max(1, min(rows_per_class(model, per_class), max_rows // max(num_labels, 1)))
    chosen = []
    for c in range(num_labels):
        idx = np.flatnonzero(y == c)
        if len(idx) == 0:
            return False
        chosen.extend(rng.choice(idx, size=min(per_class, len(idx)), replace=False).tolist())
    chosen.sort(key=lambda i: len(texts[i]))  # similar lengths per batch: little padding
    captured: list = []
    masks: list = []
    handle = head.register_forward_pre_hook(lambda mod, args: captured.append(args[0].detach().float()))
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    # The model is still on the CPU here (the Trainer moves it later), where a flash-attention model cannot run its
    # forward pass: these few passes take SDPA, and the model gets its kernel back after them.
    attention = getattr(model.config, "_attn_implementation", None)
    swapped = device.type == "cpu" and isinstance(attention, str) and attention.startswith("flash")
    if swapped:
        model.set_attn_implementation("sdpa")
    try:
        for i in range(0, len(chosen), batch_size):
            batch = [texts[j] for j in chosen[i:i + batch_size]]
            enc = tokenizer(batch, truncation=True, max_length=max_length, padding=True, return_tensors="pt").to(device)
            model(**enc)
            masks.append(enc["attention_mask"].cpu())
    finally:
        handle.remove()
        model.train(was_training)
        if swapped:
            model.set_attn_implementation(attention)
    feats = []
    for x, m in zip(captured, masks):
        x = x.cpu()
        if x.dim() == 3:  # decoder heads score every position; the prediction is the last real token's
            last = ((m.sum(-1) - 1).clamp(min=0) if tokenizer.padding_side != "left"
                    else torch.full((x.shape[0],), x.shape[1] - 1))
            x = x[torch.arange(x.shape[0]), last]
        feats.append(x)
    X = torch.cat(feats).double()
    yy = torch.as_tensor(y[chosen])
    mu = X.mean(0)
    Xc = X - mu
    scale = Xc.norm(dim=1).mean().clamp(min=1e-6)
    protos = torch.stack([Xc[yy == c].mean(0) for c in range(num_labels)])
    protos = protos / protos.norm(dim=1, keepdim=True).clamp(min=1e-6)
    W = LOGIT_SCALE * protos / scale
    head.weight.copy_(W.to(head.weight.dtype))
    if head.bias is not None:
        head.bias.copy_((-(W @ mu)).to(head.bias.dtype))
    return True


@runtime_checkable
class PrototypeHead(Protocol):
    """What the prototype head asks of a task (Task.capabilities): whether a run's head starts from prototypes.
    Its splits hold a text and a label per row."""

    def prototype_head(self, task_args) -> bool:
        """The run's head starts from class prototypes (its task settings say so)."""
