"""`studio serve --backend vllm`: the runs' base in vLLM with each run's LoRA adapter, on a CUDA GPU.

vLLM batches and pages the key/value cache, which is what serving many requests on a GPU wants; it serves a LoRA
adapter on its base without merging (`enable_lora`, a LoRARequest per run). Only LoRA runs are served this way;
the answer comes as one piece (vLLM's offline engine), not token by token. This path needs vLLM and a GPU, and has
not run on this project's machines (none is lent with vLLM); where vLLM is missing the command says so.
"""

from __future__ import annotations

import json
import threading
from importlib.util import find_spec
from pathlib import Path
from typing import Iterator

from studio import models
from studio.base import runfolder
from studio.base.errors import ConfigError, InferenceError
from studio.base.runfolder import RunFolder
from studio.serve.shared_bases import shareable
from studio.tasks import get_task


def check_available() -> None:
    if find_spec("vllm") is None:
        raise ConfigError("vLLM is not installed on this machine (it needs a CUDA GPU: pip install vllm); leave "
                          "--backend out to serve the runs with transformers.")


class VllmRun:
    """One run answered by vLLM: its base's engine with its adapter."""

    def __init__(self, engine, lock: threading.Lock, lora, run_dir: Path, meta: dict):
        self.engine, self.lock, self.lora, self.meta = engine, lock, lora, meta
        self.task = get_task(meta["task"])
        self.tokenizer = self.task.load_tokenizer(RunFolder(run_dir).model)

    @property
    def max_new_tokens(self) -> int:
        return int((self.meta.get("task_args") or {}).get("max_new_tokens") or 64)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def context_tokens(self) -> int:
        return int(self.engine.llm_engine.model_config.max_model_len)

    def stream(self, messages: list[dict], base: bool = False, **settings) -> Iterator[str]:
        from vllm import SamplingParams

        from studio.serve.inference import fit_history
        from studio.tasks.chat import end_of_turn_ids, render

        room = int(settings.get("max_new_tokens") or self.max_new_tokens)
        messages = fit_history(messages, self.count_tokens, max(1, self.context_tokens() - room))
        prompt = render(self.tokenizer, messages, add_generation_prompt=True)
        stops = [i for i in [self.tokenizer.eos_token_id, *end_of_turn_ids(self.tokenizer)] if i is not None]
        params = SamplingParams(temperature=float(settings.get("temperature") or 0.0),
                                top_p=float(settings.get("top_p") or 1.0),
                                max_tokens=int(settings.get("max_new_tokens") or self.max_new_tokens),
                                stop_token_ids=stops)
        with self.lock:  # the offline engine answers one call at a time
            out = self.engine.generate([prompt], params, lora_request=None if base else self.lora, use_tqdm=False)
        counts = settings.get("counts")
        if counts is not None:  # the tokens as the engine saw them (serve.openai_api's usage and finish reason)
            counts.update(prompt=len(out[0].prompt_token_ids), generated=len(out[0].outputs[0].token_ids),
                          ended=out[0].outputs[0].finish_reason == "stop")
        yield out[0].outputs[0].text


class ServedRuns:
    """The runs `studio serve --backend vllm` was given, one engine per base."""

    def __init__(self, store, run_ids: list[str]):
        check_available()
        from vllm import LLM
        from vllm.lora.request import LoRARequest

        self._runs: dict[str, VllmRun] = {}
        engines: dict[str, tuple] = {}
        runs = []
        for run_id in run_ids:
            run_dir = Path(store.get(run_id)["dir"])
            meta = runfolder.model_meta(run_dir)
            if not shareable(run_dir, meta):
                raise ConfigError(f"Run {run_id} is not a LoRA run; vLLM serves LoRA adapters on their base. Leave "
                                  "--backend out to serve it with transformers.")
            rank = int(json.loads((RunFolder(run_dir).model / "adapter_config.json").read_text()).get("r") or 8)
            runs.append((run_id, run_dir, meta, str(models.resolve(meta["base_model"], allow_local=True)), rank))
        bases = sorted({r[3] for r in runs})
        for i, (run_id, run_dir, meta, base, _) in enumerate(runs, start=1):
            if base not in engines:
                # Each base's engine takes its share of the GPU (vLLM's default is 90% for one).
                rank = max(r[4] for r in runs if r[3] == base)
                engines[base] = (LLM(model=base, enable_lora=True, max_loras=len(run_ids),
                                     max_lora_rank=next(x for x in (8, 16, 32, 64, 128, 256, 320, 512) if x >= rank),
                                     gpu_memory_utilization=0.9 / len(bases)),
                                 threading.Lock())
            engine, lock = engines[base]
            self._runs[str(run_dir.resolve())] = VllmRun(engine, lock, LoRARequest(run_id, i,
                                                                                   str(RunFolder(run_dir).model)),
                                                         run_dir, meta)

    def get(self, run_dir: Path) -> VllmRun:
        run = self._runs.get(str(Path(run_dir).resolve()))
        if run is None:
            raise InferenceError(f"Run {Path(run_dir).name} is not served here.")
        return run
