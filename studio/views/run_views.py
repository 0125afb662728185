"""Run information shaped for people: progress, tables, comparisons, error lists.

Pure functions over what `runs.Store` and the run folder already hold, shared
by the UI and scripts, so the numbers a page shows are computed in one place.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Sequence

from studio import models
from studio.base import files, runfolder
from studio.base.policy import local_models_allowed
from studio.base.runfolder import RunFolder
from studio.base.text import Text
from studio.tasks import DEFAULT_TASK, get_task

RUN_COLUMNS = ["run", "name", "status", "task", "model", "method", "best metric", "duration", "created", "owner"]


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s}s"


def fmt_count(n: int | None) -> str:
    if n is None:
        return "-"
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            return f"{n / div:.2f}{unit}"
    return str(n)


def progress(status: dict[str, Any], total_epochs: float | None = None) -> dict[str, Any]:
    """Where a run stands, from its status.json: fraction done, step, epoch, speed, ETA."""
    step = int(status.get("step") or 0)
    max_steps = status.get("max_steps")
    state = status.get("status")
    fraction = min(1.0, step / max_steps) if max_steps else 0.0
    if state == "completed":
        fraction = 1.0
    sps = status.get("samples_per_second")
    eta = status.get("eta_seconds") if state in ("running", "stopping") else None
    parts = []
    if max_steps:
        parts.append(f"step {step}/{max_steps}")
    if status.get("epoch") is not None and max_steps:
        parts.append(f"epoch {float(status['epoch']):.2f}" + (f"/{total_epochs:g}" if total_epochs else ""))
    if isinstance(sps, (int, float)) and sps > 0 and state in ("running", "stopping"):
        parts.append(f"{sps:.1f} samples/s")
    if isinstance(eta, (int, float)):
        parts.append(f"ETA {fmt_duration(eta)}")
    shared = int(status.get("cpu_shared_with") or 1)
    if shared > 1 and state in ("running", "stopping"):
        threads = status.get("cpu_threads")
        parts.append(f"CPU shared with {shared - 1} other run{'s' * (shared > 2)} ({threads} "
                     f"thread{'s' * (threads != 1)})")
    return {"status": state, "fraction": fraction, "step": step, "max_steps": max_steps,
            "epoch": status.get("epoch"), "samples_per_second": sps, "eta_seconds": eta,
            "text": " · ".join(parts), "reason": status.get("reason")}


def run_label(row: dict[str, Any]) -> str:
    """How a run is named in pickers: name and id (status changes; a picker's labels would go stale)."""
    return f"{row.get('name') or row['id']} · {row['id']}"


def runs_table(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """`Store.list()` rows as table rows in RUN_COLUMNS order."""
    out = []
    for r in rows:
        best = r.get("best_metric")
        best_txt = f"{r.get('best_metric_name') or 'metric'} {best:.4f}" if isinstance(best, (int, float)) else "-"
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["created_at"])) if r.get("created_at") else "-"
        out.append([r["id"], r.get("name") or "", r.get("status") or "", r.get("task") or "", r.get("model") or "",
                    r.get("method") or "", best_txt, fmt_duration(r.get("duration")), created, r.get("owner") or "-"])
    return out


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config -> {'training.epochs': 3, ...} (method_args included)."""
    out: dict[str, Any] = {}
    for k, v in (d or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def config_diff(configs: dict[str, dict[str, Any]], only_different: bool = True) -> tuple[list[str], list[list[Any]]]:
    """Side-by-side settings of several runs: (header, rows), one row per setting."""
    flat = {name: flatten(cfg or {}) for name, cfg in configs.items()}
    keys = sorted({k for f in flat.values() for k in f})
    rows = []
    for k in keys:
        vals = [flat[n].get(k) for n in flat]
        if only_different and len({json.dumps(v, sort_keys=True, default=str) for v in vals}) <= 1:
            continue
        rows.append([k, *("" if v is None else str(v) for v in vals)])
    return ["setting", *flat], rows


def task_of(info: dict[str, Any]):
    """The task of a run as Store.get describes it."""
    return get_task((info.get("config") or {}).get("task") or info.get("task") or DEFAULT_TASK)


def test_metric_names(infos: list[dict[str, Any]]) -> list[str]:
    """The test metrics of these runs' tasks, in each task's order (a mix of tasks lists each task's own)."""
    names: list[str] = []
    for info in infos:
        names += [m for m in task_of(info).metrics.test if m not in names]
    return names


def metrics_row(info: dict[str, Any], metric_names: list[str] | None = None, with_base: bool = False) -> dict[str, Any]:
    """One run's headline numbers: its task's test metrics (each with the untrained base's beside it, with_base),
    best validation value, duration, size."""
    rep = info.get("test_report") or {}
    st = info.get("status_detail") or {}
    base = (rep.get("base") or {}).get("metrics") or {}
    row: dict[str, Any] = {"run": info.get("name") or info.get("id"), "status": info.get("status")}
    for m in metric_names or task_of(info).metrics.test:
        v = (rep.get("metrics") or {}).get(m)
        row[f"test {m}"] = round(v, 4) if isinstance(v, (int, float)) else None
        if with_base:
            row[f"base {m}"] = round(base[m], 4) if isinstance(base.get(m), (int, float)) else None
    best = info.get("best_metric")
    row["best validation"] = (f"{info.get('best_metric_name')} {best:.4f}" if isinstance(best, (int, float)) else None)
    row["trainable params"] = fmt_count(st.get("trainable_parameters"))
    row["duration"] = fmt_duration(run_duration(info))
    return row


def run_duration(info: dict[str, Any]) -> float | None:
    start = info.get("started_at")
    if not start:
        return None
    return max(0.0, (info.get("finished_at") or time.time()) - start)


def per_class_rows(report: dict[str, Any]) -> list[list[Any]]:
    """Test report per-class table: label, precision, recall, F1, support."""
    rows = []
    per_class = report.get("per_class") or {}
    # NER reports per entity type (PER), not per tag (B-PER): fall back to the table's own keys.
    keys = [l for l in report.get("labels", []) if l in per_class] or list(per_class)
    for label in keys:
        pc = per_class.get(label, {})
        rows.append([label, round(pc.get("precision", 0.0), 4), round(pc.get("recall", 0.0), 4),
                     round(pc.get("f1-score", 0.0), 4), int(pc.get("support", 0))])
    return rows


def test_predictions(run_dir: Path) -> list[dict[str, Any]]:
    p = RunFolder(Path(run_dir)).predictions
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(ln) for ln in lines if ln.strip()]


def misclassified(run_dir: Path, true_label: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """Wrong test predictions, most confident first (the most telling mistakes lead), as the task's PredictionRows
    say; tasks whose rows have no right-or-wrong (generated text beside its reference) give every row."""
    spec = task_of({"config": files.read_json(RunFolder(run_dir).config)}).predictions
    rows = test_predictions(run_dir)
    if spec.correct:
        rows = [r for r in rows if not r.get(spec.correct, False)]
    if true_label and spec.label:
        rows = [r for r in rows if r.get(spec.label) == true_label]
    if spec.confidence:
        rows.sort(key=lambda r: -float(r.get(spec.confidence) or 0.0))
    return rows[:limit]


def latest(records: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((r for r in reversed(records) if r.get("kind") == kind), None)


def sample_generations(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SFT's fixed validation prompts: the reference, the first generation logged and the latest one.

    Records of kind "samples" hold {"step", "samples": [{"prompt", "output", "reference"}]}.
    """
    logged = [r for r in records if r.get("kind") == "samples" and r.get("samples")]
    if not logged:
        return []
    first, last = logged[0], logged[-1]
    rows = []
    for i, s in enumerate(last["samples"]):
        before = first["samples"][i]["output"] if i < len(first["samples"]) else ""
        row = {"prompt": s.get("prompt", ""), "reference": s.get("reference", "")}
        if first is not last:
            row[f"step {first.get('step', 0)}"] = before
        row[f"step {last.get('step', 0)}"] = s.get("output", "")
        rows.append(row)
    return rows


STEP_MEASURES = {  # what a training step of reinforcement learning logs beside its rewards, as the page says it
    "completion_length": Text("reply length {v:.1f} tokens", "回复长度 {v:.1f} 个词元"),
    "clipped_ratio": Text("{v:.0%} of replies cut at max_new_tokens", "{v:.0%} 的回复在 max_new_tokens 处截断"),
    "kl": Text("KL {v:.4f}", "KL {v:.4f}"),
}


def latest_step(records: list[dict[str, Any]], steps: Sequence[str], zh: bool = False) -> str:
    """The last training step's per-step measures (a task's MetricFacts.steps, each with its spread where logged,
    and the reply length, the share of replies cut and the KL term), in one line; "" when it logs none."""
    last = next((r for r in reversed(records) if r.get("kind") == "train" and any(m in r for m in steps)), None)
    if last is None:
        return ""
    parts = []
    for m in steps:
        v = last.get(m)
        if isinstance(v, (int, float)):
            spread = last.get(f"{m}_std")
            parts.append(f"{m} {v:.3f}" + (f" (±{spread:.3f})" if isinstance(spread, (int, float)) else ""))
    for m, text in STEP_MEASURES.items():
        if isinstance(last.get(m), (int, float)):
            parts.append((text.zh if zh else str(text)).format(v=last[m]))
    head = f"第 {last.get('step', 0)} 步：" if zh else f"step {last.get('step', 0)}: "
    return head + " · ".join(parts)


def recent_completions(records: list[dict[str, Any]], logs: int = 3) -> list[dict[str, Any]]:
    """Reinforcement learning's latest replies with their rewards, newest first: the replies of the last `logs`
    training logs. Records of kind "completions" hold {"step", "completions": [{prompt, completion, reward,
    advantage, scores: {reward name: score}}]}."""
    logged = [r for r in records if r.get("kind") == "completions" and r.get("completions")][-logs:]
    names = list(dict.fromkeys(n for r in logged for c in r["completions"] for n in (c.get("scores") or {})))
    rows = []
    for r in reversed(logged):
        for c in r["completions"]:
            total = c.get("reward")
            # The scores first and the prompt last: the reply is what a person reads, the prompt repeats per group.
            rows.append({"step": r.get("step", 0), "reward": round(total, 3) if isinstance(total, (int, float))
                         else None,
                         **{n: (round(c["scores"][n], 3) if n in (c.get("scores") or {}) else None) for n in names},
                         "reply": c.get("completion", ""), "prompt": c.get("prompt", "")})
    return rows


def parameter_counts(cfg, n_labels: int = 2) -> dict[str, Any]:
    """Trainable/total parameters of a config, counted on the meta device from the model's config: no weights are
    downloaded or allocated, so the page can ask on every change (the count is cached per model and method)."""
    from studio.training.memory import shape

    cfg = cfg.resolved()
    # The same rule as starting a run: a server can refuse local model folders.
    models.resolve(cfg.model, allow_local=local_models_allowed(), materialize=False)
    s = shape(cfg, max(2, int(n_labels)))
    trainable, total = s.trainable, s.total
    return {"trainable": trainable, "total": total, "share": trainable / total if total else 0.0,
            "estimated": s.source == "config",
            "text": f"{fmt_count(trainable)} trainable of {fmt_count(total)} ({100 * trainable / max(total, 1):.2f}%)"}


def active_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs still queued or training first, then the rest, newest first within each."""
    return sorted(rows, key=lambda r: (r.get("status") not in runfolder.ACTIVE, -(r.get("created_at") or 0)))
