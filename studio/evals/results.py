"""Benchmark results as people read them: one row per benchmark and score, the base beside the tuned model, and a
sentence on the job under way (the Runs tab, `studio eval`, the model card)."""

from __future__ import annotations

from typing import Any

from studio.base.text import Text

COLUMNS = ["benchmark", "questions", "score", "base", "tuned", "change"]
# lm-eval's metric names as a reader knows them; scores in [0, 1] are shown as percentages
METRIC_NAMES = {"acc": "accuracy", "acc_norm": "accuracy (length-normalised)", "exact_match": "exact match",
                "chrf": "chrF"}
FRACTIONS = {"acc", "acc_norm", "exact_match", "f1", "mcc"}
PHASES = {"tuned": Text("the tuned model", "微调后的模型"), "base": Text("the base model", "基础模型"),
          "loading": Text("loading the model and questions", "正在加载模型和题目")}


def _shown(metric: str, value: float | None) -> str:
    if value is None:
        return ""
    return f"{100 * value:.1f}%" if metric in FRACTIONS else f"{value:.2f}"


def _change(metric: str, base: float | None, tuned: float | None) -> str:
    if base is None or tuned is None:
        return ""
    d = tuned - base
    return f"{100 * d:+.1f} pts" if metric in FRACTIONS else f"{d:+.2f}"


def rows(results: dict[str, Any]) -> list[list[Any]]:
    """[benchmark, questions, score, base, tuned, change] for every score of every benchmark scored."""
    out = []
    for _, entry in sorted((results.get("benchmarks") or {}).items()):
        tuned, base = entry.get("tuned") or {}, entry.get("base") or {}
        for metric, value in tuned.items():
            if metric.endswith("_stderr"):
                continue
            out.append([entry.get("source"), entry.get("questions"), METRIC_NAMES.get(metric, metric),
                        _shown(metric, base.get(metric)), _shown(metric, value),
                        _change(metric, base.get(metric), value)])
    return out


def settings_text(config: dict[str, Any]) -> str:
    """How a benchmark was asked: "first 50 questions, 0-shot, chat template"."""
    limit = config.get("limit")
    shots = int(config.get("num_fewshot") or 0)
    return ", ".join([f"first {limit} questions" if limit else "all questions", f"{shots}-shot",
                      "chat template" if config.get("chat_template", True) else "plain prompt"])


def markdown_table(results: dict[str, Any]) -> str:
    found = rows(results)
    if not found:
        return ""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join("" if v is None else str(v).replace("|", "\\|") for v in r) + " |" for r in found]
    return "\n".join(lines)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def state_text(st: dict[str, Any], zh: bool = False) -> str:
    """One sentence on the job: under way (which model, how far, time left), or how it ended."""
    state = st.get("state")
    if not state:
        return "这个运行还没有基准测试。" if zh else "No benchmark has run on this run yet."
    if state in ("starting", "running"):
        p = st.get("progress") or {}
        if not p:
            return "基准测试正在启动。" if zh else "Benchmark starting."
        phase = PHASES.get(p.get("phase"), Text(str(p.get("phase") or "starting"), str(p.get("phase") or "启动中")))
        step = f" ({p.get('phase_index', 0) + 1}/{p.get('phases', 1)})" if p.get("phases", 1) > 1 else ""
        done = f": {p.get('done', 0)}/{p.get('total')} requests" if p.get("total") else ""
        done_zh = f"：{p.get('done', 0)}/{p.get('total')} 个请求" if p.get("total") else ""
        eta = _duration(p.get("eta_s"))
        if zh:
            left = f"，预计还需约 {eta}。" if eta else "。"
            return f"基准测试进行中，正在评测{phase.pick(True)}{step}{done_zh}{left}"
        left = f"; about {eta} left." if eta else "."
        return f"Benchmark under way, scoring {phase.pick(False)}{step}{done}{left}"
    took = _duration((st.get("finished_at") or 0) - (st.get("started_at") or 0)) if st.get("finished_at") else ""
    if state == "completed":
        return f"基准测试已完成（用时 {took}）。" if zh else f"Benchmark completed in {took}."
    if state == "stopped":
        return "基准测试已停止。" if zh else "Benchmark stopped."
    reason = st.get("reason") or ""
    return f"基准测试失败：{reason}" if zh else f"Benchmark failed: {reason}"
