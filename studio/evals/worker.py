"""`python -m studio.evals.worker RUN_DIR`: one benchmark job (studio.evals.jobs wrote its job.json), in its own
process group. Scores the tuned model, then its base, on every benchmark; saves both into results.json; every way
out writes a final state (completed, or failed with the reason)."""

from __future__ import annotations

import difflib
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from studio.base.errors import ConfigError, DataError, ModelError, RunError
from studio.base.files import atomic_write_json, read_json
from studio.evals import jobs
from studio.evals.config import BenchmarkConfig
from studio.evals.harness import Progress, score

USER_ERRORS = (ConfigError, DataError, ModelError, RunError)


def _hub_reachable(timeout: float = 5.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    import urllib.request

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint + "/api/datasets?limit=1", method="HEAD"),
                               timeout=timeout)
        return True
    except Exception:  # noqa: BLE001 - any failure to reach it is "unreachable"
        return False


def task_manager(job: Path, hub: list[str]):
    """lm-eval's task index over the job's own YAML files, and its bundled tasks where hub benchmarks are named.
    Those names are checked here, all of them before a sentence is given: an unknown one gets the closest known
    names, a known one whose questions cannot be fetched (no hub, not in the cache) says so."""
    from lm_eval.tasks import TaskManager

    tm = TaskManager(include_path=str(job / "tasks"), include_defaults=bool(hub))
    problems = []
    for name in (n for n in hub if n not in tm.all_tasks):
        close = difflib.get_close_matches(name, tm.all_tasks, n=4, cutoff=0.6)
        problems.append(f"Unknown benchmark {name!r}" + (f"; close names: {', '.join(close)}" if close else "")
                        + ". Names are lm-eval's tasks (`lm-eval ls tasks` lists them), or give a local file.")
    known = [n for n in hub if n in tm.all_tasks]
    if known:
        if not _hub_reachable():
            # read the cache only: a hub benchmark fetched before still works; one never fetched gets a sentence
            os.environ["HF_HUB_OFFLINE"] = os.environ["HF_DATASETS_OFFLINE"] = "1"
        try:
            tm.load(known)  # fetches (or finds in the cache) each benchmark's questions before any scoring
        except Exception as e:  # noqa: BLE001 - the datasets library's many ways of saying "not reachable"
            if os.environ.get("HF_DATASETS_OFFLINE") == "1":
                problems.append(f"Benchmark(s) {', '.join(known)} read their questions from the Hugging Face hub, "
                                "which this machine cannot reach, and they are not in its cache; give local files "
                                "instead (multiple choice as C-Eval/MMLU, or question and reference).")
            else:
                problems.append(f"The questions of {', '.join(known)} could not be loaded: {type(e).__name__}: "
                                f"{str(e)[:300]}")
    if problems:
        raise RunError(" ".join(problems))
    return tm


def run_job(run_dir: Path) -> dict[str, Any]:
    from studio.serve.inference import LoadedRun, playground_device

    job = jobs.job_folder(run_dir)
    spec = read_json(job / "job.json") or {}
    if spec.get("minutes"):
        _stop_after(run_dir, float(spec["minutes"]))
    cfg = BenchmarkConfig.from_dict(spec.get("config"))
    names = [t["name"] for t in spec.get("tasks") or []]
    hub = [t["name"] for t in spec.get("tasks") or [] if t.get("kind") == "hub"]
    os.environ["HF_DATASETS_CACHE"] = str(job / "cache")  # the job's own: nothing shared with another person's
    jobs.write_state(run_dir, progress={"phase": "loading", "phase_index": 0, "phases": 1, "done": 0, "total": 0,
                                        "eta_s": None})
    tm = task_manager(job, hub)
    loaded = LoadedRun(run_dir, device=os.environ.get("STUDIO_BENCHMARK_DEVICE") or playground_device())
    phases = ["tuned", "base"] if cfg.with_base else ["tuned"]
    progress = Progress(phases, lambda p: jobs.write_state(run_dir, progress=p))
    scored: dict[str, dict[str, Any]] = {}
    for i, phase in enumerate(phases):
        progress.start_phase(i)
        with loaded.model_for(phase == "base") as model:
            scored[phase] = score(model, loaded.tokenizer, names, tm, cfg, progress)
    return save_results(run_dir, spec, cfg, scored)


def _stop_after(run_dir: Path, minutes: float) -> None:
    """The server's benchmark_minutes: past it the job ends, saying so (what it had not saved is lost)."""
    import threading

    def stop() -> None:
        jobs.write_state(run_dir, state="failed", finished_at=time.time(),
                         reason=f"Stopped after {minutes:g} minutes, the longest a benchmark may run on this server "
                                "(benchmark_minutes); score fewer questions per benchmark.")
        print(f"benchmark stopped after {minutes:g} minutes", flush=True)
        os._exit(3)

    timer = threading.Timer(minutes * 60, stop)
    timer.daemon = True
    timer.start()


def save_results(run_dir: Path, spec: dict[str, Any], cfg: BenchmarkConfig, scored: dict[str, dict[str, Any]]
                 ) -> dict[str, Any]:
    """Each benchmark's scores, tuned and base, into results.json (a benchmark scored again replaces its entry)."""
    from dataclasses import asdict

    path = jobs.folder(run_dir) / "results.json"
    results = read_json(path) or {}
    entries = results.setdefault("benchmarks", {})
    tuned = scored["tuned"]
    same = ("limit", "num_fewshot", "chat_template", "max_new_tokens")
    for t in spec.get("tasks") or []:
        name = t["name"]
        found = [n for n in tuned["scores"] if n == name or n.startswith(name + "_")] if name not in tuned[
            "scores"] else [name]
        for task in found:  # a hub group (mmlu) scores as its subtasks and itself
            before = entries.get(task) or {}
            base = (scored.get("base") or {}).get("scores", {}).get(task)
            if base is None and before.get("base") and before.get("questions") == tuned["n"].get(task) and all(
                    (before.get("config") or {}).get(k) == getattr(cfg, k) for k in same):
                base = before["base"]  # scored without the base this time: its scores on the same questions stay
            entries[task] = {
                "source": t["source"] if task == name else f"{t['source']}: {task}", "kind": t.get("kind"),
                "questions": tuned["n"].get(task) or t.get("questions"),
                "tuned": tuned["scores"].get(task, {}),
                "base": base,
                "higher_is_better": tuned["higher_is_better"].get(task) or {},
                "chat_template": tuned["chat_template"], "config": asdict(cfg), "finished_at": time.time()}
    atomic_write_json(path, results)
    return results


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    run_dir = Path(argv[0]).resolve()
    jobs.write_state(run_dir, state="running", pid=os.getpid(), pid_start=_start_time())
    try:
        run_job(run_dir)
    except USER_ERRORS as e:
        jobs.write_state(run_dir, state="failed", finished_at=time.time(), reason=str(e))
        print(f"benchmark failed: {e}", flush=True)
        return 1
    except BaseException as e:  # noqa: BLE001 - every way out writes its state
        traceback.print_exc()
        jobs.write_state(run_dir, state="failed", finished_at=time.time(),
                         reason=f"{type(e).__name__}: {str(e)[:500]} (the job's log has the traceback)")
        return 1
    jobs.write_state(run_dir, state="completed", finished_at=time.time(), reason=None)
    print("benchmark completed", flush=True)
    return 0


def _start_time() -> float | None:
    from studio.runs.store import process_start_time

    return process_start_time(os.getpid())


if __name__ == "__main__":
    sys.exit(main())
