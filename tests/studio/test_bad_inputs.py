"""Every case of the bad-input corpus (tests/bad_inputs) through the engine, the CLI and the UI.

Each surface must show the same kind of error with the case's phrases in one readable sentence (no
traceback), and leave nothing behind: no run folder, no half-created folder, no registry row. Input the
studio accepts (labels differing in case, a 100,000-character text, spreadsheet formulas) must go
through, with the case's warning where it has one. Spreadsheet formulas must stay inert in every CSV
the studio writes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from studio import cli
from studio.base.entity import RUNS
from studio.base.errors import ConfigError, ModelError
from studio.config import DataConfig, RunConfig
from studio.data import DataError
from studio.runs.store import Store
from studio.serve import label_file
from studio.tasks import get_task
from tests.bad_inputs import CASES, FORMULAS, Case
from tests.support import ROOT, kill_active

ERRORS = {"DataError": DataError, "ConfigError": ConfigError, "ModelError": ModelError}
IDS = [c.id for c in CASES]
ERROR_CASES = [c for c in CASES if c.kind]


def test_the_corpus_covers_the_issue():
    """At least 30 bad inputs, each with phrases to check; ids are unique."""
    assert len(ERROR_CASES) >= 30 and len(set(IDS)) == len(IDS)
    assert all(c.fragments for c in ERROR_CASES) and all(c.kind in ERRORS for c in ERROR_CASES)
    assert all(c.why_not_ui for c in CASES if not c.ui)


def materialise(case: Case, tmp_path: Path) -> dict:
    """The case's raw run config (for a data case: a config that reads the bad file)."""
    if case.surface == "config":
        return case.make(tmp_path)
    path, over = case.make(tmp_path)
    return {"task": case.task, "model": "minilm", "data": {"train": str(path), **over}, "training": {"device": "cpu"}}


def check_message(msg: str, case: Case) -> None:
    for phrase in case.fragments:
        assert phrase in msg, f"{case.id}: {phrase!r} missing from {msg!r}"
    assert "\n" not in msg.strip() and "Traceback" not in msg and len(msg) < 500, msg


def nothing_created(runs_dir: Path) -> None:
    """No run folder, no half-created one, no registry row."""
    leftovers = [p.name for p in runs_dir.iterdir() if RUNS.is_id(p.name) or p.name.startswith(".creating-")] \
        if runs_dir.exists() else []
    assert leftovers == []
    if (runs_dir / "registry.sqlite").exists():
        assert Store(runs_dir).list() == []


@pytest.fixture
def env_of(monkeypatch):
    def apply(case: Case) -> None:
        for k, v in case.env.items():
            monkeypatch.setenv(k, v)
    return apply


# ------------------------------------------------------------------------------------ engine --
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_engine(case, tmp_path, store, env_of):
    env_of(case)
    raw = materialise(case, tmp_path)
    task = get_task(case.task)
    if case.kind is None:
        prepared = task.prepare_data(RunConfig.from_dict(raw).data)
        warnings = " ".join(prepared.report.warnings)
        for phrase in case.fragments:
            assert phrase in warnings, (case.id, prepared.report.warnings)
        return
    if case.surface == "data":  # the data check alone says it
        with pytest.raises(DataError) as err:
            task.prepare_data(DataConfig(**raw["data"]))
        check_message(str(err.value), case)
    with pytest.raises(ERRORS[case.kind]) as err:
        store.create(RunConfig.from_dict(raw))
    assert type(err.value).__name__ == case.kind
    check_message(str(err.value), case)
    nothing_created(store.root)


# --------------------------------------------------------------------------------------- CLI --
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_cli(case, tmp_path, capsys, env_of):
    env_of(case)
    raw = materialise(case, tmp_path)
    runs = tmp_path / "runs"
    if case.kind is None:  # accepted: `studio data` prints the warning and exits 0
        code = cli.main(["--runs-dir", str(runs), "data", raw["data"]["train"], "--task", case.task])
        out, err = capsys.readouterr()
        assert code == 0, err
        for phrase in case.fragments:
            assert phrase in out
        return
    cfg_file = tmp_path / "run.yaml"
    cfg_file.write_text(yaml.safe_dump(raw), encoding="utf-8")
    try:
        code = cli.main(["--runs-dir", str(runs), "train", str(cfg_file), "--detach"])
    finally:
        if (runs / "registry.sqlite").exists():
            kill_active(Store(runs))
    out, err = capsys.readouterr()
    assert code == 2 and out == "", (out, err)
    assert err.startswith("error: ") and err.count("\n") == 1, err
    check_message(err, case)
    nothing_created(runs)


def test_cli_offline_hub_id_in_a_real_process(tmp_path):
    """The model id case in a fresh interpreter: exit 2, one line, no stack trace from transformers."""
    case = next(c for c in CASES if c.id.startswith("a hub model id"))
    cfg_file = tmp_path / "run.yaml"
    cfg_file.write_text(yaml.safe_dump(materialise(case, tmp_path)), encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "studio.cli", "--runs-dir", str(tmp_path / "runs"), "train",
                           str(cfg_file), "--detach"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    check_message(proc.stderr, case)
    nothing_created(tmp_path / "runs")


# ----------------------------------------------------------------------------- CSV injection --
def test_every_csv_the_studio_writes_keeps_formulas_inert(tmp_path):
    """Predictions CSVs hold the user's texts and labels: a cell that starts like a formula gets a quote."""
    frame = pd.DataFrame({"text": list(FORMULAS) + ["plain text", "-3 stars"],
                          "predicted": ["=1+1", "billing", "@x", "+y", "-z", "ok", "ok"],
                          "confidence": [0.5] * 7, "=p(label)": [0.1] * 7})
    path = label_file.write_csv(frame, tmp_path, "predictions")
    back = pd.read_csv(path, keep_default_na=False)
    assert list(back.columns) == ["text", "predicted", "confidence", "'=p(label)"]
    assert back["text"].tolist() == [f"'{f}" for f in FORMULAS] + ["plain text", "'-3 stars"]
    assert back["predicted"].tolist() == ["'=1+1", "billing", "'@x", "'+y", "'-z", "ok", "ok"]
    assert back["confidence"].tolist() == [0.5] * 7  # numbers stay numbers
    assert frame["text"].tolist()[0] == FORMULAS[0], "the caller's frame is left as it was"
    # No cell of the written file starts with a formula character.
    for line in path.read_text(encoding="utf-8").splitlines():
        for cell in re.findall(r'(?:^|,)("(?:[^"]|"")*"|[^,]*)', line):
            assert not cell.strip('"').startswith(("=", "+", "-", "@")), line


def test_a_predictions_csv_of_formula_texts_is_inert(finished_run, tmp_path):
    """The Playground's 'label a file' download, end to end: formulas in the user's file come back quoted."""
    store, run_id, _ = finished_run
    src = tmp_path / "to label.csv"
    pd.DataFrame({"text": list(FORMULAS), "note": ["@me", "=1", "fine", "+1", "-1"]}).to_csv(src, index=False)
    frame = label_file.predict_file(store.run_dir(run_id), src)
    back = pd.read_csv(label_file.write_csv(frame, tmp_path, "predictions"), keep_default_na=False)
    assert back["text"].tolist() == [f"'{f}" for f in FORMULAS]
    assert back["note"].tolist() == ["'@me", "'=1", "fine", "'+1", "'-1"]
    assert set(back["predicted"]) <= {"billing", "technical", "shipping"}
