"""Chat runs served from one copy of their base: the endpoint's models.

A person who tunes several LoRA adapters on one base (different data, different settings) calls them all from one
server, so their base is loaded once and each run's adapter is added to it by name (peft's `load_adapter`); a
question switches to its run's adapter (`set_adapter`) under the base's lock, so runs of one base take turns and
never mix. Runs that cannot share (other adapter kinds, adapters that train embeddings or heads, full fine-tunes)
hold their own model through `inference.load`, as the playground does.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from studio import models
from studio.base import runfolder
from studio.base.errors import InferenceError
from studio.base.runfolder import RunFolder
from studio.serve import inference
from studio.serve.inference import LoadedRun, base_load_kwargs, playground_device
from studio.tasks import get_task


def shareable(run_dir: Path, meta: dict[str, Any]) -> bool:
    """A LoRA adapter that changes only the base's own linear layers: it can sit beside others on one base."""
    if not meta.get("peft"):
        return False
    try:
        conf = json.loads((RunFolder(run_dir).model / "adapter_config.json").read_text())
    except (OSError, ValueError):
        return False
    return conf.get("peft_type") == "LORA" and not conf.get("modules_to_save") and not conf.get("use_dora")


class SharedBase:
    """One base model with the adapters of several runs on it."""

    def __init__(self, model, device: str):
        self.model = model          # a PeftModel once the first adapter is on it
        self.device = device
        self.lock = threading.Lock()
        self.adapters: set[str] = set()


class SharedAdapterRun(LoadedRun):
    """A run whose adapter sits on a shared base: it answers as LoadedRun does, with its adapter switched on
    under the base's lock."""

    def __init__(self, run_dir: Path, shared: SharedBase, name: str, meta: dict[str, Any], tokenizer):
        self.meta = meta
        self.task = get_task(meta["task"])
        self.tokenizer = tokenizer
        self.device = shared.device
        self.model = shared.model
        self.lock = shared.lock
        self._base = None
        self._shared = shared
        self._name = name

    @contextmanager
    def model_for(self, base: bool):
        self.model.set_adapter(self._name)
        if base:
            with self.model.disable_adapter():
                yield self.model
        else:
            yield self.model


class ServedRuns:
    """The endpoint's loaded runs: at most `max_bases` shared bases (least recently used dropped first, with the
    runs on them, so a dropped base's memory is freed)."""

    def __init__(self, max_bases: int = 2, device: str | None = None):
        self.max_bases = max_bases
        self.device = device
        self._bases: OrderedDict[tuple, SharedBase] = OrderedDict()
        self._runs: dict[str, SharedAdapterRun] = {}
        self._lock = threading.Lock()
        inference.SERVED.add(self)  # inference.release_gpu_memory drops these too before a run takes the GPU

    def bases_loaded(self) -> int:
        return len(self._bases)

    def release_gpu(self) -> int:
        """Drop the bases on a GPU (they load again on their next request); how many."""
        with self._lock:
            dropped = [k for k, b in self._bases.items() if str(b.device).startswith("cuda")]
            for key in dropped:
                self._drop(key)
        return len(dropped)

    def _drop(self, key: tuple) -> None:
        shared = self._bases.pop(key)
        for run_key in [k for k, run in self._runs.items() if run._shared is shared]:
            del self._runs[run_key]

    def get(self, run_dir: Path) -> LoadedRun:
        run_dir = Path(run_dir)
        meta = runfolder.model_meta(run_dir)
        if meta is None:
            raise InferenceError(f"Run {run_dir.name} has no saved model yet; only completed runs answer.")
        if not shareable(run_dir, meta):
            return inference.load(run_dir)
        key = str(run_dir.resolve())
        adapter_dir = str(RunFolder(run_dir).model)
        name = "run_" + run_dir.name.replace("-", "_").replace(".", "_")
        with self._lock:
            if key in self._runs:
                return self._runs[key]
            device = self.device or playground_device()
            placed = base_load_kwargs(run_dir, device)
            path = models.resolve(meta["base_model"], allow_local=True)
            base_key = (str(path), device, json.dumps({k: str(v) for k, v in sorted(placed.items())}))
            task = get_task(meta["task"])
            tokenizer = task.load_tokenizer(RunFolder(run_dir).model)
            shared = self._bases.get(base_key)
            if shared is None:
                from peft import PeftModel

                model = task.load_model(path, meta["labels"], tokenizer, **placed)
                if not placed:
                    model.to(device)
                shared = SharedBase(PeftModel.from_pretrained(model, adapter_dir, adapter_name=name).eval(), device)
                shared.adapters.add(name)
                self._bases[base_key] = shared
                while len(self._bases) > self.max_bases:
                    self._drop(next(iter(self._bases)))
            self._bases.move_to_end(base_key)
        if name not in shared.adapters:
            # Under the base's lock only (a request of another run may be generating on it), not the pool's: a
            # long answer on one base does not hold up loading runs of another.
            with shared.lock:
                if name not in shared.adapters:
                    shared.model.load_adapter(adapter_dir, adapter_name=name)
                    shared.model.eval()
                    shared.adapters.add(name)
        run = SharedAdapterRun(run_dir, shared, name, meta, tokenizer)
        with self._lock:
            if any(b is shared for b in self._bases.values()):
                self._runs[key] = run
        return run
