"""Sentence embeddings from a frozen base model: what label review and active learning measure rows by.

Mean-pooled last hidden states, L2-normalised, so a dot product is a cosine. The base is any encoder or
decoder the studio loads (catalog name, hub id, local folder); nothing trains. Embeddings are cached per
model and texts (STUDIO_CACHE/embeddings), so asking again about the same file costs nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from studio.base.cache import cache_dir
from studio.base.policy import trust_remote_code
from studio.models.catalog import model_identity
from studio.models.resolve import resolve

Progress = Callable[[int, int], None]  # (texts done, texts in all)


def _cache_file(model_path, texts: Sequence[str], max_length: int) -> Path:
    h = hashlib.sha256(json.dumps([model_identity(model_path), max_length]).encode())
    for t in texts:
        h.update(t.encode("utf-8", "replace") + b"\0")
    return cache_dir() / "embeddings" / f"{h.hexdigest()[:32]}.npy"


def embed(model: str, texts: Sequence[str], max_length: int = 128, batch_size: int = 64,
          progress: Progress | None = None) -> np.ndarray:
    """(len(texts), hidden) float32 unit vectors of `texts` under the frozen `model`."""
    path = resolve(model)
    cached = _cache_file(path, texts, max_length)
    if cached.exists():
        out = np.load(cached)
        if out.shape[0] == len(texts):
            return out
    vectors = _encode(path, list(texts), max_length, batch_size, progress)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(cached)
    return vectors


def _encode(path, texts: list[str], max_length: int, batch_size: int, progress: Progress | None) -> np.ndarray:
    import torch
    import transformers
    from transformers import AutoModel, AutoTokenizer

    transformers.utils.logging.disable_progress_bar()  # the weight-loading bar is noise in a CLI or a log
    tokenizer = AutoTokenizer.from_pretrained(str(path), trust_remote_code=trust_remote_code())
    if tokenizer.pad_token is None:  # decoders (SmolLM2) ship without one
        tokenizer.pad_token = tokenizer.eos_token
    encoder = AutoModel.from_pretrained(str(path), trust_remote_code=trust_remote_code()).eval()
    if hasattr(encoder, "get_encoder") and getattr(encoder.config, "is_encoder_decoder", False):
        encoder = encoder.get_encoder()
    order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths per batch: little padding
    out = np.zeros((len(texts), 0), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            enc = tokenizer([texts[i] for i in idx], truncation=True, max_length=max_length, padding=True,
                            return_tensors="pt")
            hidden = encoder(**enc).last_hidden_state.float()
            mask = enc["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            pooled = torch.nn.functional.normalize(pooled, dim=-1).numpy()
            if out.shape[1] == 0:
                out = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
            out[idx] = pooled
            if progress is not None:
                progress(min(start + batch_size, len(texts)), len(texts))
    return out
