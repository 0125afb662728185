"""The benchmark job's scoring, in its own process: lm-evaluation-harness over the run's model and its base.

The model is the one the playground loads (serve.inference.LoadedRun): a LoRA run's adapter is switched off for
the base (one copy in memory); a full run loads its base beside it. lm-eval's HFLM takes the loaded model as it is
and reports progress through the studio's own wrapper: its requests are scored in chunks, each chunk a step.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

from studio.evals.config import BenchmarkConfig

# lm-eval's result keys that are not scores
_NOT_SCORES = {"alias", "name", "sample_len", "samples"}


class Progress:
    """Questions scored across the job's phases (tuned, then base), with the time left from the pace so far."""

    def __init__(self, phases: list[str], write: Callable[[dict[str, Any]], None]):
        self.phases, self.write = phases, write
        self.phase = 0
        self.done = self.total = 0      # requests of the current lm-eval call
        self.phase_started = time.time()
        self.phase_seconds: list[float] = []
        self.requests_per_phase = 0     # all the phase's requests (its calls together), known after the first phase
        self.phase_done = 0
        self._last = 0.0

    def start_phase(self, index: int) -> None:
        if index > 0:
            self.phase_seconds.append(time.time() - self.phase_started)
            self.requests_per_phase = self.phase_done
        self.phase, self.phase_done, self.phase_started = index, 0, time.time()
        self.report(force=True)

    def begin(self, total: int) -> None:
        self.done, self.total = 0, total
        self.report(force=True)

    def advance(self, n: int) -> None:
        self.done += n
        self.phase_done += n
        self.report()

    def eta(self) -> float | None:
        elapsed = time.time() - self.phase_started
        if self.phase_done == 0:
            return None
        rate = elapsed / self.phase_done
        phase_requests = max(self.requests_per_phase, self.phase_done + self.total - self.done)
        left_here = (phase_requests - self.phase_done) * rate
        later = len(self.phases) - self.phase - 1
        per_phase = self.phase_seconds[-1] if self.phase_seconds else rate * phase_requests
        return left_here + later * per_phase

    def report(self, force: bool = False) -> None:
        now = time.time()
        if not force and now - self._last < 1.0:
            return
        self._last = now
        eta = self.eta()
        self.write({"phase": self.phases[self.phase], "phase_index": self.phase, "phases": len(self.phases),
                    "done": self.done, "total": self.total, "eta_s": None if eta is None else round(eta, 1)})


def _reporting_lm(progress: Progress, chunk: int):
    """HFLM that scores its requests in chunks and counts them (lm-eval's own bars go to the log only)."""
    from lm_eval.models.huggingface import HFLM

    class ReportingLM(HFLM):
        def _in_chunks(self, call, requests):
            out = []
            progress.begin(len(requests))
            for i in range(0, len(requests), chunk):
                part = requests[i:i + chunk]
                out.extend(call(part, disable_tqdm=True))
                progress.advance(len(part))
            return out

        def loglikelihood(self, requests, disable_tqdm: bool = False):
            return self._in_chunks(super().loglikelihood, requests)

        def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
            return self._in_chunks(super().loglikelihood_rolling, requests)

        def generate_until(self, requests, disable_tqdm: bool = False):
            return self._in_chunks(super().generate_until, requests)

    return ReportingLM


def score(model, tokenizer, tasks: list[str], task_manager, cfg: BenchmarkConfig, progress: Progress,
          max_length: int | None = None) -> dict[str, Any]:
    """lm-eval's results for one model: {task: {metric: value, metric_stderr: value}, "n": {task: questions}}."""
    from lm_eval import simple_evaluate

    # chunks of 128+ requests: progress a few times a phase, within noise of one call (bench/RESULTS.md)
    lm_class = _reporting_lm(progress, chunk=max(128, cfg.batch_size * 16))
    lm = lm_class(pretrained=model, tokenizer=tokenizer, batch_size=cfg.batch_size, max_length=max_length)
    chat = bool(cfg.chat_template and getattr(tokenizer, "chat_template", None))
    out = simple_evaluate(model=lm, tasks=tasks, task_manager=task_manager, limit=cfg.limit,
                          num_fewshot=cfg.num_fewshot or None, apply_chat_template=chat,
                          fewshot_as_multiturn=chat and cfg.num_fewshot > 0, log_samples=False,
                          bootstrap_iters=200, random_seed=0, numpy_random_seed=0, torch_random_seed=0,
                          fewshot_random_seed=0)
    scores: dict[str, Any] = {}
    for task, values in (out.get("results") or {}).items():
        kept = {}
        for key, value in values.items():
            metric = key.split(",")[0]
            if metric in _NOT_SCORES or not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            kept[metric] = None if isinstance(value, float) and math.isnan(value) else float(value)
        scores[task] = kept
    samples = out.get("n-samples") or {}
    return {"scores": scores, "n": {t: int((samples.get(t) or {}).get("effective") or 0) for t in scores},
            "chat_template": chat, "higher_is_better": out.get("higher_is_better") or {}}
