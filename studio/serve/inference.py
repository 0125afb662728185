"""Load a finished run (base + adapter, or the full model) and predict with it.

Loaded models are cached per run folder, so the playground and the API answer
from memory after the first call; a lock keeps concurrent first calls from
loading the same model twice.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from studio import models
from studio.base import runfolder
from studio.base.devices import COMPUTE_DTYPES, device_index
from studio.base.errors import InferenceError
from studio.base.runfolder import RunFolder
from studio.methods.qlora import quantization_kwargs
from studio.serve.playground import Chat
from studio.tasks import get_task

_CACHE: "OrderedDict[str, Any]" = OrderedDict()
# Other holders of loaded models (the OpenAI-compatible endpoint's shared bases): each has release_gpu().
SERVED: "weakref.WeakSet[Any]" = weakref.WeakSet()
_LOCK = threading.Lock()
_MAX_LOADED = 3


def playground_device() -> str:
    """Where the playground's models go: STUDIO_PLAYGROUND_DEVICE (cpu, cuda:1: another GPU than the runs'), else
    the first GPU when there is one, else the CPU."""
    import torch

    asked = os.environ.get("STUDIO_PLAYGROUND_DEVICE", "").strip()
    if asked:
        return asked
    return "cuda" if torch.cuda.is_available() else "cpu"


def release_gpu_memory() -> int:
    """Drop the cached models that sit on a GPU and hand their memory back to the driver, so a run starting there
    has it (they load again on their next question). How many were dropped."""
    with _LOCK:
        on_gpu = [k for k, loaded in _CACHE.items() if _on_gpu(loaded)]
        for key in on_gpu:
            _CACHE.pop(key)
    dropped = len(on_gpu) + sum(holder.release_gpu() for holder in list(SERVED))
    if dropped:
        import gc

        import torch

        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return dropped


def _on_gpu(loaded) -> bool:
    try:
        return next(loaded.model.parameters()).device.type == "cuda"
    except (StopIteration, AttributeError):
        return False


MAX_CHAT_TOKENS = 4096   # the most a playground chat puts before a model, whatever its context
MAX_MESSAGE_CHARS = 20_000  # one message is cut here before it is even counted
MAX_TURNS = 200


def fit_history(messages: list[dict[str, str]], count_tokens, budget: int) -> list[dict[str, str]]:
    """The newest turns of a chat that fit in `budget` tokens (a leading system message kept); the latest message
    must fit by itself, else an InferenceError says how long it may be."""
    msgs = [{"role": str(m.get("role")), "content": str(m.get("content") or "")[:MAX_MESSAGE_CHARS]}
            for m in list(messages)[-MAX_TURNS:] if isinstance(m, dict)]
    if not msgs:
        return []
    system = msgs[0] if msgs[0]["role"] == "system" and len(msgs) > 1 else None
    rest = msgs[1:] if system else msgs
    used = count_tokens(system["content"]) + 4 if system else 0
    kept: list[dict[str, str]] = []
    for m in reversed(rest):
        n = count_tokens(m["content"]) + 4  # the chat template's few tokens around each turn
        if used + n > budget:
            if not kept:
                raise InferenceError(f"The message is about {n} tokens; this model reads at most {budget} here "
                                     "(with room for the answer); shorten it.")
            break
        kept.append(m)
        used += n
    kept.reverse()
    while len(kept) > 1 and kept[0]["role"] == "assistant":  # a cut chat still opens with the person's turn
        kept.pop(0)
    return ([system] if system else []) + kept


def base_load_kwargs(run_dir: Path, device: str) -> dict[str, Any]:
    """How the playground loads a run's base for its adapter: quantized as it trained (a QLoRA run: its 4 or 8
    bits, on the playground's GPU) so its answers are the tested model's; as stored otherwise. On a CPU a
    quantized base cannot load (bitsandbytes quantizes on CUDA): it takes the unquantized one, whose answers can
    differ a little from the tested model's."""
    formats = (runfolder.read_status(run_dir) or {}).get("number_formats") or {}
    if formats.get("weights") not in ("nf4", "int8") or not device.startswith("cuda"):
        return {}
    import torch

    compute = getattr(torch, COMPUTE_DTYPES.get(formats.get("compute"), "bfloat16"))
    return {**quantization_kwargs(formats["weights"], compute), "dtype": compute,
            "device_map": {"": device_index(device)}}


class LoadedRun:
    def __init__(self, run_dir: Path, device: str | None = None):
        mdir = RunFolder(Path(run_dir)).model
        meta = runfolder.model_meta(run_dir)
        if meta is None:
            raise InferenceError(f"Run {Path(run_dir).name} has no saved model yet; only completed runs can predict.")
        self.meta = meta
        self.task = get_task(self.meta["task"])
        self.tokenizer = self.task.load_tokenizer(mdir)
        self.device = device or playground_device()  # a judge scores on its run's device
        placed = {}
        if self.meta.get("peft"):
            from peft import PeftModel

            placed = base_load_kwargs(Path(run_dir), self.device)
            # The run's own base, allowed when the run was created (a folder too, where the server allowed them then).
            base = self.task.load_model(models.resolve(self.meta["base_model"], allow_local=True), self.meta["labels"],
                                        self.tokenizer, **placed)
            self.model = PeftModel.from_pretrained(base, str(mdir))
        else:
            self.model = self.task.load_model(mdir, self.meta["labels"], self.tokenizer)
        if not placed:  # a quantized base is on its GPU already, and cannot be moved
            self.model.to(self.device)
        self.model.eval()
        self.lock = threading.Lock()  # one forward at a time per model; batches are the way to go faster
        self._base = None  # full/freeze runs: the base model, loaded on the first base-model answer

    def predict(self, inputs: list, batch_size: int = 32, base: bool = False, **settings) -> list[dict[str, Any]]:
        """The task's predictions; settings (max_new_tokens, temperature, top_p) reach generative tasks.
        base=True answers with the base model the run started from (the playground's comparison)."""
        settings = {**self.task_args, **settings}  # the run's own settings (generation length, answer length) first
        with self.lock, self.model_for(base) as model:
            return self.task.predict(model, self.tokenizer, inputs, max_length=self.meta.get("max_length", 128),
                                     batch_size=batch_size, **settings)

    def stream(self, messages: list[dict[str, str]], base: bool = False, **settings) -> Iterator[str]:
        """The growing answer to a chat (generative tasks with stream_chat); the lock is held until it ends,
        so concurrent chats on one model take turns instead of interleaving."""
        chat = self.task.capability(Chat)
        if chat is None:
            raise InferenceError(f"{self.task.texts.title.en} runs do not chat; pick a run of a task that does.")
        context = self.context_tokens()
        settings["max_new_tokens"] = max(1, min(int(settings.get("max_new_tokens") or self.max_new_tokens),
                                                context // 2))
        messages = fit_history(messages, self.count_tokens, context - settings["max_new_tokens"])
        with self.lock, self.model_for(base) as model:
            yield from chat.stream_chat(model, self.tokenizer, messages, **settings)

    def context_tokens(self) -> int:
        """The tokens a chat may fill: the model's own context, at most MAX_CHAT_TOKENS (a chat in the playground
        is a try, not a long document)."""
        config = getattr(getattr(self.model, "config", None), "get_text_config", lambda: None)() or getattr(
            self.model, "config", None)
        own = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        return int(min(MAX_CHAT_TOKENS, own or MAX_CHAT_TOKENS))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    @property
    def task_args(self) -> dict[str, Any]:
        """The run's own task settings as it trained with them (older runs: their generation length)."""
        saved = dict(self.meta.get("task_args") or {})
        if "max_new_tokens" in self.meta:
            saved.setdefault("max_new_tokens", self.meta["max_new_tokens"])
        return saved

    @property
    def max_new_tokens(self) -> int:
        """The run's generation length (its task's setting), the default of a prediction's."""
        return int((self.meta.get("task_args") or {}).get("max_new_tokens") or self.meta.get("max_new_tokens") or 64)

    @contextmanager
    def model_for(self, base: bool):
        """The fine-tuned model, or the base: an adapter run switches its adapter off (no second copy in memory);
        a full or freeze run loads the base model once and keeps it."""
        if not base:
            yield self.model
        elif self.meta.get("peft"):
            with self.model.disable_adapter():
                yield self.model
        else:
            if self._base is None:
                path = models.resolve(self.meta["base_model"], allow_local=True)
                self._base = self.task.load_model(path, self.meta["labels"], self.tokenizer)
                self._base.to(self.device)
                self._base.eval()
            yield self._base


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


MAX_INPUT_CHARS = 200_000  # one input (a text, a question's context) is cut here: no model reads further


def _cut(value):
    if isinstance(value, dict):
        return {str(k): str(v)[:MAX_INPUT_CHARS] for k, v in value.items()}
    return str(value)[:MAX_INPUT_CHARS]


def predict(run_dir: Path, inputs: list, **settings) -> list[dict[str, Any]]:
    """The run's predictions for its task's inputs: texts, or {column: text} for tasks with several input columns
    (each cut to MAX_INPUT_CHARS: a page or an API client may send any length at all)."""
    inputs = [_cut(v) for v in inputs]
    if not inputs:
        return []
    return load(run_dir).predict(inputs, **settings)


def stream(run_dir: Path, messages: list[dict[str, str]], base: bool = False, **settings) -> Iterator[str]:
    """The growing answer of a finished SFT run (or of its base model) to a chat."""
    return load(run_dir).stream(messages, base=base, **settings)
