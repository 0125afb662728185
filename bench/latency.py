"""Percentile summaries shared by the latency benchmarks."""

from __future__ import annotations

import statistics


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: it is one of the measured values)."""
    s = sorted(values)
    return s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))]


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50_s": round(statistics.median(values), 4), "p95_s": round(pct(values, 95), 4),
            "max_s": round(max(values), 4)}
