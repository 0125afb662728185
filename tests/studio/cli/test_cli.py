"""The `studio` command end to end: train (YAML and JSON, foreground and --detach), runs, show, predict,
stop, kill, resume, models, methods; bad configs exit 2 with one line and create nothing; --help
documents every config field. One run trains the bundled MiniLM on the bundled sample data.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from studio import cli, methods
from studio.base import runfolder
from studio.base.runfolder import RunFolder
from studio.config import SECTIONS, AugmentConfig, DataConfig, DistillConfig, RunConfig, TrainingConfig
from studio.runs.store import Store, process_alive
from studio.tasks import get_task
from tests.support import ROOT, kill_active, tiny_config, wait_for

STUDIO = shutil.which("studio", path=str(Path(sys.executable).parent))
BASE_CMD = [STUDIO] if STUDIO else [sys.executable, "-m", "studio.cli"]


def studio(*args, runs_dir=None, cwd=None, timeout=600) -> subprocess.CompletedProcess:
    pre = ["--runs-dir", str(runs_dir)] if runs_dir else []
    return subprocess.run([*BASE_CMD, *pre, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, env=os.environ.copy())


def in_process(capsys, *args) -> tuple[int, str, str]:
    """cli.main in this process (no interpreter start-up): (exit code, stdout, stderr)."""
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}"
    return proc


# ---------------------------------------------------------- the real model --
@pytest.mark.slow
def test_train_the_bundled_minilm_on_the_sample_data(tmp_path):
    """The example config, 1 epoch, through the CLI: the path a new user takes first."""
    runs = tmp_path / "runs"
    try:
        proc = ok(studio("train", ROOT / "examples" / "minilm-lora.yaml", "--set", "training.epochs=1", "--json",
                         runs_dir=runs, cwd=tmp_path))
    finally:
        kill_active(Store(runs))  # a follower that died or timed out must not leave its worker training
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    kinds = [r["kind"] for r in records]
    assert kinds[0] == "start" and "train" in kinds and "eval" in kinds and kinds[-1] == "test"
    start = records[0]
    assert 0 < start["trainable_parameters"] < start["total_parameters"]
    assert start["learning_rate_peak"] == get_task("text-classification").model.learning_rate("lora")
    assert "completed" in proc.stderr.strip().splitlines()[-1]

    listed = json.loads(ok(studio("runs", "--json", runs_dir=runs)).stdout)
    assert len(listed) == 1 and listed[0]["status"] == "completed" and listed[0]["method"] == "lora"
    run_id = listed[0]["id"]
    shown = json.loads(ok(studio("show", run_id, "--json", runs_dir=runs)).stdout)
    assert shown["status"] == "completed" and shown["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert shown["config"]["training"]["epochs"] == 1.0
    assert shown["data_report"]["rows"] == {"train": 192, "validation": 24, "test": 24}
    report = shown["test_report"]
    assert report["n"] == 24 and report["labels"] == ["account", "billing", "shipping", "technical"]
    assert report["metrics"]["accuracy"] > 0.4  # 4 balanced classes: chance is 0.25
    assert shown["metrics_tail"][-1]["kind"] == "test"

    texts = ["I was charged twice for my subscription, please refund the invoice",
             "Where is my parcel? The tracking number shows no delivery"]
    preds = json.loads(ok(studio("predict", run_id, *texts, "--json", runs_dir=runs)).stdout)
    assert [p["text"] for p in preds] == texts
    for p in preds:
        assert p["label"] in report["labels"] and set(p["probabilities"]) == set(report["labels"])
        assert p["score"] == max(p["probabilities"].values())
    assert not (tmp_path / "runs" / RunFolder(run_id).stop_request).exists()


# ---------------------------------------------- detach, stop, resume, kill --
def test_detach_stop_resume_kill(tmp_path, tiny_bert, separable_csv):
    runs = tmp_path / "runs"
    cfg_file = tmp_path / "run.json"
    # 400 steps: the run must still be training when the stop arrives, however slow the CLI starts on a busy
    # machine (it is stopped, resumed and killed long before its end).
    cfg_file.write_text(json.dumps(tiny_config(tiny_bert, separable_csv, "lora", epochs=40, batch_size=4,
                                               eval_strategy="steps", eval_steps=10)))
    store = Store(runs)
    try:
        out = json.loads(ok(studio("train", cfg_file, "--detach", "--json", runs_dir=runs)).stdout)
        run_id = out["run"]
        assert Path(out["dir"]) == runs / run_id
        assert store.sync(run_id)["status"] in runfolder.ACTIVE  # returned at once, the run trains on

        def stepping(n):
            st = store.sync(run_id)
            assert st["status"] not in runfolder.FINISHED, st
            return st if (st.get("step") or 0) >= n else None

        wait_for(lambda: stepping(2), what="the detached run to train")
        st = json.loads(ok(studio("stop", run_id, "--json", runs_dir=runs)).stdout)
        assert st["status"] in ("stopping", "stopped")
        st = store.wait(run_id, timeout=180)
        assert st["status"] == "stopped"
        stopped_at = st["step"]
        assert (runs / run_id / "checkpoints" / f"checkpoint-{stopped_at}").is_dir()

        st = json.loads(ok(studio("resume", run_id, "--json", runs_dir=runs)).stdout)
        assert st["status"] in ("queued", "running")
        st = wait_for(lambda: stepping(stopped_at + 1), what="the resumed run to go past the checkpoint")
        pid = st["pid"]

        st = json.loads(ok(studio("kill", run_id, "--json", runs_dir=runs)).stdout)
        assert st["status"] == "stopped" and "Killed" in st["reason"]
        assert not process_alive(pid, None)
        listed = json.loads(ok(studio("runs", "--json", runs_dir=runs)).stdout)
        assert [(r["id"], r["status"]) for r in listed] == [(run_id, "stopped")]
        steps = [r["step"] for r in runfolder.read_metrics(runs / run_id) if r["kind"] == "train"]
        assert steps == sorted(set(steps)), "resumed without duplicate steps"

        again = studio("stop", run_id, runs_dir=runs)
        assert again.returncode == 2 and again.stderr.strip() == (
            f"error: Run {run_id} is stopped; only queued or running runs can be stopped.")
        no_model = studio("predict", run_id, "hello", runs_dir=runs)
        assert no_model.returncode == 2 and "only completed runs can predict" in no_model.stderr
    finally:
        kill_active(store)


# ------------------------------------------------- a finished tiny run --
def test_runs_show_predict_in_text_form(finished_run, tmp_path, capsys):
    store, run_id, _ = finished_run
    runs = ["--runs-dir", store.root]
    code, table, _ = in_process(capsys, *runs, "runs")
    assert code == 0 and run_id in table and "completed" in table and "lora" in table
    code, shown, _ = in_process(capsys, *runs, "show", run_id)
    assert code == 0
    assert f"run      {run_id}" in shown and "status   completed" in shown and "test     accuracy" in shown
    lines = tmp_path / "texts.txt"
    lines.write_text("refund my invoice please\n\nthe login page shows an error\n")
    code, out, _ = in_process(capsys, *runs, "predict", run_id, "where is my parcel", "--file", lines)
    assert code == 0
    out = out.splitlines()
    assert len(out) == 3
    label, score, text = out[0].split("\t")
    assert label in ("billing", "shipping", "technical") and 0 < float(score) <= 1 and text == "where is my parcel"
    assert [o.split("\t")[2] for o in out[1:]] == ["refund my invoice please", "the login page shows an error"]
    code, _, err = in_process(capsys, *runs, "predict", run_id)
    assert code == 2 and "Give texts to label" in err


def test_no_runs_yet(tmp_path, capsys):
    code, out, _ = in_process(capsys, "--runs-dir", tmp_path / "runs", "runs")
    assert code == 0 and "No runs yet" in out
    assert json.loads(ok(studio("runs", "--json", runs_dir=tmp_path / "runs")).stdout) == []


def test_cluster_storage_must_be_a_url_an_object_store_opens(tmp_path, capsys, monkeypatch):
    # Set (empty) through monkeypatch, so whatever the command sets is taken back after the test.
    monkeypatch.setenv("STUDIO_CLUSTER_STORAGE", "")
    monkeypatch.setenv("STUDIO_RAY", "")
    assert cli.main(["--runs-dir", str(tmp_path), "--cluster-storage", "s3://runs/team", "runs"]) == 2
    assert "give --ray ADDRESS too" in capsys.readouterr().err
    assert cli.main(["--runs-dir", str(tmp_path), "--ray", "127.0.0.1:1", "--cluster-storage", "/shared/runs",
                     "runs"]) == 2
    assert "takes a URL such as s3://bucket/prefix" in capsys.readouterr().err
    assert not os.environ["STUDIO_CLUSTER_STORAGE"]


def test_models_and_methods(tmp_path, capsys):
    code, text, _ = in_process(capsys, "--runs-dir", tmp_path, "models")
    assert code == 0
    assert "sentence-transformers/all-MiniLM-L6-v2" in text and "HuggingFaceTB/SmolLM2-135M-Instruct" in text
    cat = json.loads(ok(studio("models", "--json", runs_dir=tmp_path)).stdout)
    assert {e["name"] for e in cat} == {"minilm", "smollm2", "minilm-seq2seq", "minilm-l3", "multilingual-e5-small"}
    code, text, _ = in_process(capsys, "--runs-dir", tmp_path, "methods")
    for name in methods.METHODS:
        assert f"\n{name} " in "\n" + text
    assert "r = 16" in text and "num_virtual_tokens = 20" in text
    described = json.loads(ok(studio("methods", "--json", runs_dir=tmp_path)).stdout)
    assert [m["name"] for m in described] == list(methods.METHODS)


# ----------------------------------------------------------- help and errors --
def test_train_help_documents_every_config_field(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["train", "--help"])
    assert e.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # undo line wrapping
    for prefix, cls in (("", RunConfig), ("data.", DataConfig), ("training.", TrainingConfig),
                        ("augment.", AugmentConfig), ("distill.", DistillConfig)):
        for f in dataclasses.fields(cls):
            if f.name in SECTIONS:
                continue
            assert f"{prefix}{f.name} (default" in text, f"{prefix}{f.name} missing from --help"
            assert " ".join(f.metadata["help"].split()) in text
    assert "--detach" in text and "--set" in text


def _bad(tmp_path, separable_csv):
    good = {"data": {"train": str(separable_csv)}}
    return [
        ("unknown field", {**good, "epochs": 3}, "error: epochs: unknown setting; known ones are"),
        ("unknown nested field", {**good, "training": {"lr": 0.1}}, "error: training.lr: unknown setting;"),
        ("wrong type", {**good, "training": {"epochs": "three"}},
         "error: training.epochs: expected a number, got 'three'."),
        ("negative number", {**good, "training": {"batch_size": -8}},
         "error: training.batch_size: -8 is below the minimum 1."),
        ("unknown method", {**good, "method": "galore"}, "error: method: unknown method 'galore'; choose one of full,"),
        ("bad method setting", {**good, "method_args": {"rank": 4}}, "error: method_args.rank: not a setting of lora"),
        ("not a mapping", [1, 2], "must hold a mapping of settings"),
        ("missing data file", {"data": {"train": str(tmp_path / "nope.csv")}}, "nope.csv does not exist."),
        ("bad model", {**good, "model": "/nonexistent/model"},
         "error: Model folder /nonexistent/model does not exist."),
    ]


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_bad_configs_exit_2_with_one_line_and_create_nothing(tmp_path, separable_csv, capsys, suffix):
    runs = tmp_path / "runs"
    for case, raw, expected in _bad(tmp_path, separable_csv):
        path = tmp_path / f"bad{suffix}"
        path.write_text(yaml.safe_dump(raw) if suffix == ".yaml" else json.dumps(raw))
        code = cli.main(["--runs-dir", str(runs), "train", str(path), "--detach"])
        out, err = capsys.readouterr()
        assert code == 2, case
        assert out == "" and err.count("\n") == 1 and err.startswith("error: "), (case, err)
        assert expected in err, (case, err)
        assert not [p for p in runs.iterdir() if not p.name.startswith("registry.sqlite")], case
        assert Store(runs).list() == []


def test_unreadable_config_and_bad_set(tmp_path, separable_csv, capsys):
    runs = ["--runs-dir", str(tmp_path / "runs")]
    broken = tmp_path / "broken.yaml"
    broken.write_text("data: [unclosed\n")
    assert cli.main([*runs, "train", str(broken)]) == 2
    assert "is not valid YAML or JSON" in capsys.readouterr().err
    assert cli.main([*runs, "train", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml does not exist" in capsys.readouterr().err
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump({"data": {"train": str(separable_csv)}}))
    assert cli.main([*runs, "train", str(good), "--set", "training.epochs"]) == 2
    assert "write it as key=value" in capsys.readouterr().err
    assert cli.main([*runs, "train", str(good), "--set", "training.epochs=-2"]) == 2
    assert "training.epochs: -2.0 is below the minimum" in capsys.readouterr().err
    assert cli.main([*runs, "show", "not-a-run"]) == 2
    assert "is not a run id" in capsys.readouterr().err


def test_a_bad_config_in_a_real_process(tmp_path, separable_csv):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"method": "galore", "data": {"train": str(separable_csv)}}))
    proc = studio("train", path, runs_dir=tmp_path / "runs")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "error: method: unknown method 'galore'; choose one of full, freeze, lora, qlora, dora, adalora, ia3, "
        "prefix, prompt."]
    assert not (tmp_path / "runs").exists() or Store(tmp_path / "runs").list() == []
