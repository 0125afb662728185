"""The run-folder contract: status.json and metrics.jsonl, writer and reader.

The worker writes; the CLI and the UI read. Files are the truth, so a page
refresh or a restarted server reattaches simply by reading them again.
status.json is replaced atomically (write temp, fsync, rename), so a reader
never sees half a file and a crash never leaves a torn one.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

from studio.logtidy import strip_ansi

STATUS_FILE = "status.json"
METRICS_FILE = "metrics.jsonl"
CONFIG_FILE = "config.json"
LOG_FILE = "train.log"
STOP_FILE = "STOP"
REPORT_FILE = "test_report.json"
DATA_REPORT_FILE = "data_report.json"
PREDICTIONS_FILE = "test_predictions.jsonl"
DATA_DIR = "data"                      # the run's splits as Parquet, exactly what it trained and was tested on
MODEL_DIR = "model"                    # the final model or adapter, with MODEL_META_FILE
MODEL_META_FILE = "studio_model.json"  # what inference needs: task, base model, method, labels, lengths
CHECKPOINT_DIR = "checkpoints"
TENSORBOARD_DIR = "tensorboard"

STATUSES = ("queued", "running", "stopping", "completed", "failed", "stopped")
ACTIVE = ("queued", "running", "stopping")
FINISHED = ("completed", "failed", "stopped")


def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(_clean(data), indent=2))


def _clean(v: Any) -> Any:
    """JSON has no NaN/inf; write them as null so every reader can parse the file."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if hasattr(v, "item") and callable(v.item):  # numpy / torch scalars
        try:
            return _clean(v.item())
        except Exception:
            return str(v)
    return v


def read_status(run_dir: Path) -> dict[str, Any]:
    p = Path(run_dir) / STATUS_FILE
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"status": "unknown", "reason": "status.json is missing"}
    except json.JSONDecodeError:
        return {"status": "unknown", "reason": "status.json is unreadable"}


def write_status(run_dir: Path, status: str, if_active: bool = False, **fields: Any) -> dict[str, Any]:
    """Merge fields into status.json and set the status, atomically.

    if_active: leave a finished run (stopped, failed, completed) as it is. Training processes write with it: a
    rank that dies a moment after a kill must not turn the killed run back into a running one."""
    assert status in STATUSES, status
    cur = read_status(run_dir)
    if if_active and cur.get("status") in FINISHED:
        return cur
    if cur.get("status") == "unknown":
        cur = {}
    cur.update(fields)
    cur["status"] = status
    cur["updated_at"] = time.time()
    atomic_write_json(Path(run_dir) / STATUS_FILE, cur)
    return cur


class MetricsWriter:
    """Appends one JSON object per line; each line is flushed so a tailing reader sees it at once."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / METRICS_FILE

    def append(self, record: dict[str, Any]) -> None:
        record = {"time": time.time(), **record}
        line = json.dumps(_clean(record), separators=(",", ":"))
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
    p = Path(run_dir) / METRICS_FILE
    try:
        with open(p, "rb") as fh:
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
    p = Path(run_dir) / LOG_FILE
    try:
        with open(p, "rb") as fh:
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
    atomic_write_text(Path(run_dir) / STOP_FILE, str(time.time()))


def stop_requested(run_dir: Path) -> bool:
    return (Path(run_dir) / STOP_FILE).exists()


def clear_stop(run_dir: Path) -> None:
    try:
        (Path(run_dir) / STOP_FILE).unlink()
    except FileNotFoundError:
        pass


def read_json(path: Path) -> Any:
    """A JSON file of the run folder, or None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def model_meta(run_dir: Path) -> dict[str, Any] | None:
    """The saved model's studio_model.json (None until the run has saved its model)."""
    return read_json(Path(run_dir) / MODEL_DIR / MODEL_META_FILE)
