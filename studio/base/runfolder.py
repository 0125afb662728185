"""The run folder: every file the studio keeps in a run's folder, by name, and the status/metrics contract.

The worker writes; the CLI and the UI read. Files are the truth, so a page refresh or a restarted server
reattaches simply by reading them again. status.json is replaced atomically (write temp, fsync, rename), so a
reader never sees half a file and a crash never leaves a torn one. Sweeps keep a status.json of the same shape.

    folder = RunFolder(run_dir)
    folder.report                  # run_dir / "test_report.json"
    RunFolder.report.name          # "test_report.json"; RunFolder.files() lists them all with what they hold
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from studio.base.errors import ConfigError
from studio.base.files import atomic_write_json, atomic_write_text, json_safe, read_json
from studio.base.log_filter import strip_ansi

MODEL_META_NAME = "studio_model.json"  # in a saved model folder (the run's model/, an export): what inference needs


class _File:
    """One name in a run folder: the class attribute says what it is, an instance's attribute gives its path."""

    def __init__(self, name: str, holds: str, folder: bool = False):
        self.name, self.holds, self.folder = name, holds, folder

    def __set_name__(self, owner, attr: str) -> None:
        self.attr = attr

    def __get__(self, obj, owner=None):
        return self if obj is None else obj.path / self.name


class RunFolder:
    """A run's folder and what is in it (README "The run folder" lists the same files)."""

    config = _File("config.json", "the run's config, every default filled in")
    status = _File("status.json", "queued, running, stopping, completed, failed or stopped, with step, ETA, memory")
    access = _File("access.json", "its owner and who else may look at it (studio.base.access)")
    metrics = _File("metrics.jsonl", "one JSON line per log and evaluation step")
    log = _File("train.log", "the worker's output")
    stop_request = _File("STOP", "present while a graceful stop is asked for")
    data = _File("data", "the exact splits trained on, as Parquet", folder=True)
    data_report = _File("data_report.json", "the data check's report")
    report = _File("test_report.json", "the best checkpoint scored once on the test split")
    predictions = _File("test_predictions.jsonl", "every test prediction")
    base_report = _File("base_report.json", "the untrained base scored on the same test split")
    checkpoints = _File("checkpoints", "the latest and the best checkpoint", folder=True)
    model = _File("model", "the final model or adapter with its tokenizer", folder=True)
    model_meta = _File(f"model/{MODEL_META_NAME}", "what inference needs: task, base model, method, labels, lengths")
    tensorboard = _File("tensorboard", "TensorBoard event files", folder=True)
    augmented_rows = _File("augmented_rows.jsonl", "augmented runs: the new training rows beside their originals")
    distill = _File("distill.json", "distilled runs: the teacher and the labels-only comparison run")
    teacher_logits = _File("teacher_logits.npz", "soft-label distillation: the teacher's logits on the training rows")
    teacher_answers = _File("teacher_answers.jsonl", "sequence-level distillation: the teacher's answers as targets")
    judge = _File("judge.json", "runs rewarded by a classifier run: that run, its folder and the label scored")
    benchmarks = _File("benchmarks", "benchmark scores of the run and its base (lm-eval) and the job that made them",
                       folder=True)
    sweep_trial = _File("sweep_trial.json", "a sweep's trial: its study, trial number and pruner settings")
    node = _File("node.json", "runs on a Ray cluster: the node training it and when it last said it was alive")
    ray_results = _File("ray", "runs across nodes: Ray Train's own records of each attempt", folder=True)

    def __init__(self, path: Path | str):
        self.path = Path(path)

    def rank_log(self, rank: int) -> Path:
        """train.rank<N>.log: the output of rank N of a run trained by several processes."""
        return self.path / f"train.rank{rank}.log"

    @classmethod
    def files(cls) -> list[_File]:
        return [v for v in vars(cls).values() if isinstance(v, _File)]


@dataclass(frozen=True)
class QueueRun:
    """A run to queue behind a new one, as a run feature's `created` returns it (studio.training.hooks): the store
    creates it for the same person, started when the new one is and checked as any run is, then records its id
    under `key` in the new run's JSON file `named_in`, so the new run can find it."""

    cfg: Any                            # its config (a studio.config.RunConfig)
    named_in: _File                     # a RunFolder file of the new run, e.g. RunFolder.distill
    key: str


STATUSES = ("queued", "running", "stopping", "completed", "failed", "stopped")
ACTIVE = ("queued", "running", "stopping")
FINISHED = ("completed", "failed", "stopped")


def read_status(folder: Path) -> dict[str, Any]:
    p = RunFolder(folder).status
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"status": "unknown", "reason": "status.json is missing"}
    except json.JSONDecodeError:
        return {"status": "unknown", "reason": "status.json is unreadable"}


def write_status(folder: Path, status: str, if_active: bool = False, **fields: Any) -> dict[str, Any]:
    """Merge fields into status.json and set the status, atomically.

    if_active: leave a finished run (stopped, failed, completed) as it is. Training processes write with it: a
    rank that dies a moment after a kill must not turn the killed run back into a running one."""
    assert status in STATUSES, status
    cur = read_status(folder)
    if if_active and cur.get("status") in FINISHED:
        return cur
    if cur.get("status") == "unknown":
        cur = {}
    cur.update(fields)
    cur["status"] = status
    cur["updated_at"] = time.time()
    atomic_write_json(RunFolder(folder).status, cur)
    return cur


class MetricsWriter:
    """Appends one JSON object per line; each line is flushed so a tailing reader sees it at once."""

    def __init__(self, run_dir: Path):
        self.path = RunFolder(run_dir).metrics

    def append(self, record: dict[str, Any]) -> None:
        record = {"time": time.time(), **record}
        line = json.dumps(json_safe(record), separators=(",", ":"))
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()

    def truncate_after(self, step: int) -> None:
        """Drop lines past a checkpoint's step so a resumed run's history has no doubles."""
        if not self.path.exists():
            return
        keep = [r for r in read_metrics(self.path.parent) if r.get("step", 0) <= step]
        atomic_write_text(self.path, "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in keep))


def iter_metrics(run_dir: Path, offset: int = 0) -> Iterator[tuple[dict[str, Any], int]]:
    """Yield (record, end_offset); a half-written last line is left for the next read."""
    try:
        with open(RunFolder(run_dir).metrics, "rb") as fh:
            fh.seek(offset)
            for raw in fh:
                if not raw.endswith(b"\n"):
                    break
                offset += len(raw)
                try:
                    yield json.loads(raw), offset
                except json.JSONDecodeError:
                    continue
    except FileNotFoundError:
        return


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    return [r for r, _ in iter_metrics(run_dir)]


def tail_log(run_dir: Path, lines: int = 40, max_bytes: int = 64_000) -> str:
    try:
        with open(RunFolder(run_dir).log, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    # progress bars redraw with \r; show only their latest state. Colour codes would show as boxes.
    out = [strip_ansi(ln.rsplit("\r", 1)[-1]) for ln in data.splitlines()]
    return "\n".join(out[-lines:])


def request_stop(run_dir: Path) -> None:
    atomic_write_text(RunFolder(run_dir).stop_request, str(time.time()))


def stop_requested(run_dir: Path) -> bool:
    return RunFolder(run_dir).stop_request.exists()


def clear_stop(run_dir: Path) -> None:
    RunFolder(run_dir).stop_request.unlink(missing_ok=True)


def model_meta(run_dir: Path) -> dict[str, Any] | None:
    """The saved model's studio_model.json (None until the run has saved its model)."""
    return read_json(RunFolder(run_dir).model_meta)


def completed_run(run_dir: Callable[[str], Path], run_id: str, where: str, use: str) -> tuple[Path, dict[str, Any]]:
    """(folder, model meta) of another run a new one builds on (a teacher, a judge): `run_dir` finds a run the
    person may see; a ConfigError naming `where` (the config field) when it is not one, is missing, or has not
    completed ("only a completed run can {use}")."""
    try:
        rd = run_dir(run_id)
    except Exception as e:  # noqa: BLE001 - a malformed id or another person's run: one sentence
        raise ConfigError(f"{where}: {e}") from None
    if not rd.is_dir():
        raise ConfigError(f"{where}: there is no run {run_id} in this runs folder.")
    status = read_status(rd).get("status")
    meta = model_meta(rd)
    if status != "completed" or meta is None:
        raise ConfigError(f"{where}: run {run_id} is {status}; only a completed run can {use}.")
    return rd, meta
