"""Load a finished run (base + adapter, or the full model) and predict with it.

Loaded models are cached per run folder, so the playground and the API answer
from memory after the first call; a lock keeps concurrent first calls from
loading the same model twice.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from studio import models
from studio.tasks import get_task
from studio.train import MODEL_DIR


class InferenceError(ValueError):
    pass


_CACHE: "OrderedDict[str, Any]" = OrderedDict()
_LOCK = threading.Lock()
_MAX_LOADED = 3


class LoadedRun:
    def __init__(self, run_dir: Path):
        import torch

        mdir = Path(run_dir) / MODEL_DIR
        meta_p = mdir / "studio_model.json"
        if not meta_p.exists():
            raise InferenceError(f"Run {Path(run_dir).name} has no saved model yet; only completed runs can predict.")
        self.meta = json.loads(meta_p.read_text())
        self.task = get_task(self.meta["task"])
        self.tokenizer = self.task.load_tokenizer(mdir)
        if self.meta.get("peft"):
            from peft import PeftModel

            base = self.task.load_model(models.resolve(self.meta["base_model"]), self.meta["labels"], self.tokenizer)
            self.model = PeftModel.from_pretrained(base, str(mdir))
        else:
            self.model = self.task.load_model(mdir, self.meta["labels"], self.tokenizer)
        if torch.cuda.is_available():
            self.model.to("cuda")
        self.model.eval()
        self.lock = threading.Lock()  # one forward at a time per model; batches are the way to go faster

    def predict(self, texts: list[str], batch_size: int = 32, **settings) -> list[dict[str, Any]]:
        """The task's predictions; settings (max_new_tokens, temperature, top_p) reach generative tasks."""
        settings.setdefault("max_new_tokens", self.meta.get("max_new_tokens", 64))
        with self.lock:
            return self.task.predict(self.model, self.tokenizer, texts, max_length=self.meta.get("max_length", 128),
                                     batch_size=batch_size, **settings)


def load(run_dir: Path) -> LoadedRun:
    key = str(Path(run_dir).resolve())
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
        lr = LoadedRun(Path(run_dir))
        _CACHE[key] = lr
        while len(_CACHE) > _MAX_LOADED:
            _CACHE.popitem(last=False)
        return lr


def forget(run_dir: Path) -> None:
    with _LOCK:
        _CACHE.pop(str(Path(run_dir).resolve()), None)


def predict(run_dir: Path, texts: list[str], **settings) -> list[dict[str, Any]]:
    texts = [t if isinstance(t, str) else str(t) for t in texts]
    if not texts:
        return []
    return load(run_dir).predict(texts, **settings)
