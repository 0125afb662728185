"""Benchmark jobs: one per run at a time, started by the run's owner, scored in a process of its own.

    <run>/benchmarks/status.json    the job under way or the last one: state, progress, time left, why it failed
    <run>/benchmarks/results.json   every benchmark scored so far: the tuned model's and the base's scores
    <run>/benchmarks/job/           the job's settings, its task files (JSON Lines + lm-eval YAML), datasets cache, log

Everything the page or the CLI sends is checked here, in the web process, before the job exists (files read and
checked whole, benchmark names by their letters, settings by their bounds); the names of hub benchmarks are
looked up in the job's process, which loads lm-eval's task index.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from studio.base import files, secrets
from studio.base.errors import RunError
from studio.base.files import atomic_write_json, read_json
from studio.base.log_filter import strip_ansi
from studio.base.runfolder import RunFolder
from studio.evals.config import BenchmarkConfig
from studio.evals.task_files import read_task_file
from studio.runs.store import Store, process_alive, process_start_time, worker_env
from studio.serve.playground import Chat
from studio.tasks import get_task

ACTIVE = ("starting", "running")
HUB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
MAX_BENCHMARKS = 20
START_GRACE_S = 60.0


def folder(run_dir: Path) -> Path:
    return RunFolder(run_dir).benchmarks


def job_folder(run_dir: Path) -> Path:
    return folder(run_dir) / "job"


def log_path(run_dir: Path) -> Path:
    return job_folder(run_dir) / "log.txt"


def read_state(run_dir: Path) -> dict[str, Any]:
    """The job's status.json; a job whose process is gone reads as failed (nothing is written)."""
    st = read_json(folder(run_dir) / "status.json") or {}
    if st.get("state") in ACTIVE and not process_alive(st.get("pid"), st.get("pid_start")):
        if st.get("pid") or time.time() - float(st.get("started_at") or 0) > START_GRACE_S:
            tail = log_tail(run_dir, 5)
            st = {**st, "state": "failed", "reason": "The benchmark's process ended without finishing."
                  + (f" Its log ends: {tail[-400:]}" if tail else "")}
    return st


def log_tail(run_dir: Path, lines: int = 20) -> str:
    """The job log's last lines (lm-eval's progress bars at their latest state)."""
    try:
        with open(log_path(run_dir), "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 32_000))
            data = fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(strip_ansi(ln.rsplit("\r", 1)[-1]) for ln in data.splitlines()[-lines:])


def _lock(run_dir: Path):
    """The lock every change of the job's status takes (a file of its own: status.json is replaced whole)."""
    folder(run_dir).mkdir(parents=True, exist_ok=True)
    return files.locked(folder(run_dir) / ".lock")


def write_state(run_dir: Path, **fields: Any) -> dict[str, Any]:
    path = folder(run_dir) / "status.json"
    with _lock(run_dir):
        st = {**(read_json(path) or {}), **fields}
        atomic_write_json(path, st)
    return st


def read_results(run_dir: Path) -> dict[str, Any]:
    return read_json(folder(run_dir) / "results.json") or {}


def benchmarkable(info: dict[str, Any]) -> None:
    """A RunError unless the run is a completed run of a chat task (a causal LM that lm-eval can score)."""
    run_id = info.get("id")
    if info.get("status") != "completed":
        raise RunError(f"Run {run_id} is {info.get('status')}; benchmarks score completed runs.")
    task = get_task(info.get("task"))
    if task.capability(Chat) is None:
        raise RunError(f"Run {run_id} is a {task.texts.title.en} run; benchmarks score chat models "
                       "(instruction tuning, preference tuning, reinforcement learning runs).")


def hub_names(text: str | list[str] | None) -> list[str]:
    """Benchmark names from a comma- or space-separated text (or a list), each checked by its letters."""
    if isinstance(text, (list, tuple)):
        raw = [str(t) for t in text]
    else:
        raw = re.split(r"[\s,]+", str(text or ""))
    names = []
    for name in (n.strip() for n in raw):
        if not name:
            continue
        if not HUB_NAME.match(name):
            raise RunError(f"{name[:60]!r} is not a benchmark name (lm-eval's task names: letters, digits, _ . -).")
        if name not in names:
            names.append(name)
    return names


AT_ONCE_ENV = "STUDIO_BENCHMARKS_AT_ONCE"  # benchmark jobs the server runs at once, everyone's together (default 2)


def at_once() -> int:
    try:
        return max(1, int(os.environ.get(AT_ONCE_ENV, "2")))
    except ValueError:
        return 2


def active_jobs(root: Path) -> list[dict[str, Any]]:
    """Every benchmark job under way in a runs folder, whoever started it (each with its run's id)."""
    out = []
    for path in sorted(Path(root).glob("*/benchmarks/status.json")):
        st = read_state(path.parent.parent)
        if st.get("state") in ACTIVE:
            out.append({**st, "run_id": path.parent.parent.name})
    return out


def running_jobs(store: Store) -> list[str]:
    """The runs of this store's person with a benchmark under way."""
    return [j["run_id"] for j in active_jobs(store.root) if j.get("by") == store.person.name]


def start(store: Store, run_id: str, task_files: list[tuple[str | Path, str]] | None = None,
          names: str | list[str] | None = None, config: BenchmarkConfig | dict | None = None) -> dict[str, Any]:
    """Start scoring a run (and its base) on local files [(path, name shown)] and hub benchmark names; returns the
    job's first status. The run's owner only; one job per run; the person's benchmarks_running limit."""
    rd = store.changeable(run_id)
    info = store.get(run_id)
    benchmarkable(info)
    cfg = config if isinstance(config, BenchmarkConfig) else BenchmarkConfig.from_dict(config)
    hub = hub_names(names)
    task_files = list(task_files or [])
    if not task_files and not hub:
        raise RunError("Give a benchmark: a local file (multiple choice as C-Eval/MMLU, or question and reference) "
                       "or the name of an lm-eval task (mmlu, ceval-valid, arc_easy, ...).")
    if len(task_files) + len(hub) > MAX_BENCHMARKS:
        raise RunError(f"{len(task_files) + len(hub)} benchmarks at once; at most {MAX_BENCHMARKS}.")
    read = [read_task_file(path, shown) for path, shown in task_files]  # a malformed file: its sentence, nothing made
    taken = set(hub)
    for tf in read:
        base, n = tf.name, 2
        while tf.name in taken:
            tf.name, n = f"{base}_{n}", n + 1
        taken.add(tf.name)
    # the runs folder's lock too: two starts on two runs at once must not both pass the limits below
    with files.locked(Path(store.root) / ".benchmarks.lock"), _lock(rd):
        if read_state(rd).get("state") in ACTIVE:
            raise RunError(f"A benchmark of run {run_id} is under way; wait for it or stop it.")
        lim = store.person_limits()
        if lim.benchmarks_running is not None and len(running_jobs(store)) >= lim.benchmarks_running:
            raise RunError(f"You have {lim.benchmarks_running} benchmark(s) under way, the most this server allows "
                           "at once; wait for one to end.")
        everyone = active_jobs(store.root)
        if len(everyone) >= at_once() and not store.person.sees_all:
            raise RunError(f"This server is scoring {len(everyone)} benchmarks, as many as it runs at once "
                           f"({AT_ONCE_ENV}); try again when one ends.")
        job = job_folder(rd)
        shutil.rmtree(job, ignore_errors=True)
        (job / "tasks").mkdir(parents=True)
        tasks = [{"name": tf.name, "source": tf.source, "kind": tf.kind, "questions": len(tf.rows),
                  "yaml": tf.write(job / "tasks", cfg.max_new_tokens).name} for tf in read]
        tasks += [{"name": n, "source": n, "kind": "hub", "questions": None} for n in hub]
        from dataclasses import asdict

        atomic_write_json(job / "job.json", {"run_id": run_id, "config": asdict(cfg), "tasks": tasks,
                                             "by": store.person.name, "minutes": lim.benchmark_minutes})
        path = folder(rd) / "status.json"
        atomic_write_json(path, {"state": "starting", "started_at": time.time(), "finished_at": None, "reason": None,
                                 "pid": None, "pid_start": None, "tasks": tasks, "config": asdict(cfg),
                                 "by": store.person.name, "progress": None})
    env = secrets.for_worker(worker_env(), server=store.person_limits().server_secrets)
    with open(log_path(rd), "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "studio.evals.worker", str(rd)], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                close_fds=True, env=env, cwd=str(store.root))
    import threading

    threading.Thread(target=proc.wait, daemon=True).start()  # reaped when it ends: no zombie in the web process
    with _lock(rd):
        st = read_json(path) or {}
        if st.get("state") in ACTIVE and not st.get("pid"):
            st.update(pid=proc.pid, pid_start=process_start_time(proc.pid))
            atomic_write_json(path, st)
    return read_state(rd)


def stop(store: Store, run_id: str) -> dict[str, Any]:
    """Stop the run's benchmark job (its process group ends at once; scores it had not saved are lost)."""
    rd = store.changeable(run_id)
    st = read_state(rd)
    if st.get("state") not in ACTIVE:
        raise RunError(f"Run {run_id} has no benchmark under way.")
    if process_alive(st.get("pid"), st.get("pid_start")):
        try:
            os.killpg(int(st["pid"]), signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    return write_state(rd, state="stopped", finished_at=time.time(), reason="Stopped.")


def wait(run_dir: Path, timeout: float = 24 * 3600, poll: float = 1.0, on_progress=None) -> dict[str, Any]:
    """The job's status once it has ended (on_progress(status) at each poll while it runs)."""
    end = time.time() + timeout
    while True:
        st = read_state(run_dir)
        if st.get("state") not in ACTIVE:
            return st
        if on_progress is not None:
            on_progress(st)
        if time.time() > end:
            raise RunError(f"The benchmark did not end within {timeout:.0f} s; it goes on (studio eval shows it).")
        time.sleep(poll)
