"""bench/device_check.sh: its CPU dry run passes end to end, so what reaches a GPU has run once; its checks
catch an unfair or broken comparison; the wheels it carries are the versions this suite tests."""

from __future__ import annotations

import importlib.util
import json
import math
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "device_check.sh"


def _module():
    spec = importlib.util.spec_from_file_location("device_check", ROOT / "bench" / "device_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["device_check"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_dry_run_trains_every_row_of_its_plan_end_to_end(tmp_path):
    done = subprocess.run(["bash", str(SCRIPT), "--dry-run", "--out", str(tmp_path), "--work", str(tmp_path / "w")],
                          capture_output=True, text=True, timeout=480)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "device_check_dry.json").read_text())
    assert report["failures"] == [] and report["dry_run"]
    rows = {(r["row"], r["who"]): r for r in report["results"]}
    dc = _module()
    for row in dc.DRY_PLAN:
        label = f"{row.shape} {row.name}"
        studio = rows[(label, "studio")]
        if row.needs_cuda:  # QLoRA: said, not silently dropped
            assert "CUDA" in studio["skipped"]
            continue
        assert studio["tokens_per_s"] > 0 and math.isfinite(studio["final_loss"])
        assert studio["estimate_gib"] > 0 and studio["memory_error"] is not None
        assert "torch" in studio["imports"] and set(studio["imports"]) <= dc.DEVICE_HAS | dc.CARRIED
        if row.trl:
            trl = rows[(label, "trl")]
            assert trl["steps"] == studio["steps"] > dc.DRY_SIZES["warmup"]
            assert trl["settings"]["args"] == {k: v for k, v in studio["settings"]["args"].items()
                                               if k in trl["settings"]["args"]}
            # Both trained on answer tokens: a loss of 0 would mean every label was masked out.
            assert trl["final_loss"] > 1 and studio["final_loss"] > 1
    packed = rows[("tiny-llama lora packed", "trl")]
    assert packed["settings"]["padding_free"]  # TRL's packing really ran (flattened rows)


def test_checks_catch_unequal_steps_settings_missing_packages_and_empty_timing():
    dc = _module()
    row = dc.Row("lora", "tiny-qwen2", "lora")
    good = {"steps": 4, "tokens_per_s": 10, "final_loss": 2.0, "imports": ["torch", "trl"],
            "settings": {"args": {"learning_rate": 1e-4}, "trained_dtype": "float32"}}
    assert dc.checks(row, good, dict(good)) == []
    bad = dc.checks(row, {**good, "imports": ["torch", "gradio"], "tokens_per_s": 0},
                    {**good, "steps": 5, "final_loss": float("nan"),
                     "settings": {"args": {"learning_rate": 2e-4}, "trained_dtype": "bfloat16"}})
    text = " | ".join(bad)
    for said in ("gradio", "no tokens timed", "final loss nan", "TRL ran 5 optimizer steps, the studio 4",
                 "settings differ", "bfloat16"):
        assert said in text


def test_carried_wheels_are_the_versions_this_suite_runs_and_cover_what_the_device_lacks():
    dc = _module()
    text = SCRIPT.read_text()
    pins = dict(re.findall(r"\b([a-z][a-z0-9_-]*)==([0-9][0-9a-z.]*)", text))
    assert set(pins) == dc.CARRIED
    for name in ("trl", "datasets", "dill", "multiprocess"):
        assert pins[name] == version(name), name


def test_the_import_audit_records_what_studio_code_imports_and_nothing_else(monkeypatch):
    import builtins

    monkeypatch.setattr(builtins, "__import__", builtins.__import__)  # the audit's hook goes with the test
    dc = _module()
    audit = dc.StudioImports()
    exec("import plotly, json", {"__name__": "studio.views.fake"})
    exec("import yaml", {"__name__": "not_the_studio"})
    assert audit.distributions() == ["plotly"]
    [missing] = dc.checks(dc.Row("full", "tiny-llama", "full", trl=False),
                          {"steps": 4, "tokens_per_s": 1, "final_loss": 2.0, "imports": audit.distributions()}, None)
    assert "lacks and no wheel brings: plotly" in missing
