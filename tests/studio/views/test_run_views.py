"""studio.views.run_views: progress lines and run comparisons."""

from __future__ import annotations

from studio.config import RunConfig
from studio.views import run_views


def test_progress_text_and_fraction():
    p = run_views.progress({"status": "running", "step": 6, "max_steps": 24, "epoch": 0.5,
                            "samples_per_second": 12.0, "eta_seconds": 75}, total_epochs=2)
    assert p["fraction"] == 0.25
    assert p["text"] == "step 6/24 · epoch 0.50/2 · 12.0 samples/s · ETA 1m 15s"
    done = run_views.progress({"status": "completed", "step": 24, "max_steps": 24, "eta_seconds": 0})
    assert done["fraction"] == 1.0 and "ETA" not in done["text"]


def test_config_diff_lists_only_what_differs():
    a = RunConfig.from_dict({"data": {"train": "x.csv"}}).to_dict()
    b = RunConfig.from_dict({"data": {"train": "x.csv"}, "method": "dora", "training": {"epochs": 1}}).to_dict()
    header, rows = run_views.config_diff({"a": a, "b": b})
    assert header == ["setting", "a", "b"]
    assert ["method", "lora", "dora"] in rows and ["training.epochs", "3.0", "1.0"] in rows
    assert all(r[0] != "data.train" for r in rows)
