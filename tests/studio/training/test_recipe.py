"""studio.training.recipe: the run-folder contract of a finished run, and its model reloading for inference."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from studio.base import devices, runfolder
from studio.config import RunConfig
from studio.serve import inference
from studio.training import recipe
from tests.support import read_jsonl

CONTRACT = {"config.json", "status.json", "metrics.jsonl", "train.log", "data", "data_report.json", "checkpoints",
            "model", "test_report.json", "test_predictions.jsonl", "tensorboard", "base_report.json", "access.json"}


@pytest.fixture(scope="module")
def run(finished_run):
    store, run_id, cfg = finished_run
    return store, run_id, cfg, store.run_dir(run_id)


def test_the_folder_holds_exactly_the_contract(run):
    *_, rd = run
    assert set(os.listdir(rd)) == CONTRACT  # nothing missing, no temp files or STOP file left behind
    assert sorted(os.listdir(rd / "data")) == ["test.parquet", "train.parquet", "validation.parquet"]
    model_files = set(os.listdir(rd / "model"))
    assert {"studio_model.json", "adapter_config.json", "adapter_model.safetensors", "tokenizer.json",
            "tokenizer_config.json"} <= model_files
    ckpts = sorted(os.listdir(rd / "checkpoints"))
    assert ckpts and all(c.startswith("checkpoint-") for c in ckpts) and len(ckpts) <= 2  # save_total_limit
    for c in ckpts:
        assert (rd / "checkpoints" / c / "trainer_state.json").exists()


def test_config_and_status(run):
    _, _, cfg, rd = run
    assert json.loads((rd / "config.json").read_text()) == cfg.resolved().to_dict()  # every setting recorded
    assert RunConfig.from_dict(json.loads((rd / "config.json").read_text())) == cfg.resolved()
    st = json.loads((rd / "status.json").read_text())
    assert st["status"] == "completed" and st["reason"] is None
    assert st["created_at"] <= st["started_at"] <= st["finished_at"]
    assert st["step"] == st["max_steps"] == 12  # 2 epochs of 48 rows in batches of 8
    assert st["device"] == "cpu" and st["precision"] == "fp32"
    assert 0 < st["trainable_parameters"] < st["total_parameters"]
    assert st["best_metric_name"] == "f1" and 0 <= st["best_metric"] <= 1
    assert set(st["test_metrics"]) == {"accuracy", "precision", "recall", "f1"}


def test_metrics_jsonl(run):
    *_, rd = run
    lines = (rd / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert all("time" in r and "kind" in r and "step" in r for r in records)
    kinds = [r["kind"] for r in records]
    assert kinds[0] == "start" and kinds[-2:] == ["summary", "test"]
    train_steps = [r["step"] for r in records if r["kind"] == "train"]
    assert train_steps == list(range(1, 13))  # logging_steps=1
    assert all(r["loss"] > 0 and r["learning_rate"] >= 0 for r in records if r["kind"] == "train")
    evals = [r for r in records if r["kind"] == "eval"]
    assert [e["step"] for e in evals] == [6, 12]  # once per epoch
    assert {"eval_loss", "eval_f1", "eval_accuracy"} <= set(evals[0])
    assert records[0]["trainable_parameters"] > 0 and records[0]["max_steps"] == 12
    assert records[-1]["test_accuracy"] == json.loads((rd / "test_report.json").read_text())["metrics"]["accuracy"]


def test_data_splits_and_report(run):
    _, _, cfg, rd = run
    report = json.loads((rd / "data_report.json").read_text())
    assert report["rows"] == {"train": 48, "validation": 6, "test": 6}
    assert report["labels"] == ["billing", "shipping", "technical"]
    assert report["label_counts"]["test"] == {"billing": 2, "shipping": 2, "technical": 2}
    tl = report["token_lengths"]  # filled in by the worker with the model's tokenizer
    assert tl and tl["p50"] <= tl["p95"] <= tl["max"]
    splits = {k: pd.read_parquet(rd / "data" / f"{k}.parquet") for k in ("train", "validation", "test")}
    assert {k: len(v) for k, v in splits.items()} == report["rows"]
    source = pd.read_csv(cfg.data.train)
    assert sorted(pd.concat(splits.values())["text"]) == sorted(source["text"])


def test_test_report_and_predictions_line_up(run):
    *_, rd = run
    report = json.loads((rd / "test_report.json").read_text())
    test = pd.read_parquet(rd / "data" / "test.parquet")
    rows = read_jsonl(rd / "test_predictions.jsonl")
    assert report["n"] == len(rows) == len(test)
    # Row i is test text i with its own gold label (the eval sampler must not reorder them).
    assert [r["text"] for r in rows] == test["text"].tolist()
    assert [r["label"] for r in rows] == test["label"].tolist()
    assert all(r["correct"] == (r["label"] == r["predicted"]) for r in rows)
    assert report["metrics"]["accuracy"] == pytest.approx(sum(r["correct"] for r in rows) / len(rows))
    cm = report["confusion_matrix"]
    assert sum(map(sum, cm)) == len(rows) and sum(cm[i][i] for i in range(len(cm))) == sum(r["correct"] for r in rows)
    assert set(report["per_class"]) == set(report["labels"])
    assert report["method"] == "lora" and os.path.isdir(report["best_checkpoint"])


def test_reloaded_model_predicts_like_the_test_report(run):
    store, run_id, _, rd = run
    rows = read_jsonl(rd / "test_predictions.jsonl")
    inference.forget(rd)
    preds = inference.predict(rd, [r["text"] for r in rows])
    assert [p["label"] for p in preds] == [r["predicted"] for r in rows]
    assert [p["score"] for p in preds] == pytest.approx([r["confidence"] for r in rows], abs=1e-4)
    for p in preds:
        assert set(p["probabilities"]) == {"billing", "shipping", "technical"}
        assert sum(p["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert inference.load(rd) is inference.load(rd)  # cached after the first load
    assert inference.predict(rd, []) == []
    info = store.get(run_id)
    assert info["status"] == "completed" and info["test_report"]["n"] == len(rows)
    assert info["data_report"]["labels"] == ["billing", "shipping", "technical"]


def test_a_run_without_a_model_cannot_predict(tmp_path):
    with pytest.raises(inference.InferenceError, match="only completed runs can predict"):
        inference.predict(tmp_path, ["hello"])


def test_last_checkpoint_skips_torn_ones(tmp_path):
    assert recipe.last_checkpoint(tmp_path) is None
    for step, complete in ((5, True), (10, True), (15, False)):
        d = tmp_path / "checkpoints" / f"checkpoint-{step}"
        d.mkdir(parents=True)
        if complete:
            (d / "trainer_state.json").write_text("{}")
    (tmp_path / "checkpoints" / "checkpoint-x").mkdir()
    assert recipe.last_checkpoint(tmp_path).name == "checkpoint-10"


def test_precision_and_device_choice():
    assert devices.pick_precision("auto", "cpu") == "fp32"
    assert devices.pick_precision("bf16", "cpu") == "bf16"
    assert devices.resolve_device("cpu") == "cpu"
    assert devices.resolve_device("auto") in ("cpu", "cuda:0")
    assert runfolder.FINISHED == ("completed", "failed", "stopped")
