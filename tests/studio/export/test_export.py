"""studio.export and `studio export`: zips with a model card, merged weights, an offline hub."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from studio import export, models
from studio.base.errors import ExportError


@pytest.fixture(scope="module")
def run_dir(finished_run):
    store, run_id, _ = finished_run
    return store.run_dir(run_id)


def test_kinds_and_model_card(run_dir):
    assert export.export_kinds(run_dir) == ["adapter", "merged", "onnx", "onnx-int8", "reproduce"]
    card = export.model_card(run_dir, "adapter")
    front, body = export.split_front_matter(card)
    assert "library_name: peft" in front and "pipeline_tag: text-classification" in front
    assert "## Results on the held-out test split" in body and "AutoPeftModelForSequenceClassification" in body
    assert "library_name: transformers" in export.split_front_matter(export.model_card(run_dir, "merged"))[0]


def test_adapter_zip_is_portable(run_dir, tmp_path):
    path = export.build_zip(run_dir, "adapter", tmp_path)
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        conf = json.loads(zf.read("adapter_config.json"))
    assert {"README.md", "adapter_model.safetensors", "adapter_config.json", "tokenizer.json"} <= names
    cfg = json.loads((run_dir / "config.json").read_text())
    assert conf["base_model_name_or_path"] == models.portable_base(cfg["model"])
    assert not list(tmp_path.glob(".export-*")), "the temporary folder is cleaned up"


def test_merged_model_is_standalone(run_dir, tmp_path):
    path = export.build_zip(run_dir, "merged", tmp_path)
    with zipfile.ZipFile(path) as zf:
        zf.extractall(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "studio_model.json").read_text())
    assert meta["peft"] is False and meta["merged_from"] == "lora"
    assert "merged_on" not in meta, "a base that trained unquantized is simply the base"
    assert not (tmp_path / "m" / "adapter_config.json").exists()


def test_push_offline_is_a_clear_message_without_the_token(run_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ExportError) as err:
        export.push_to_hub(run_dir, "someone/model", "hf_topsecret")
    assert "HF_HUB_OFFLINE" in str(err.value) and "hf_topsecret" not in str(err.value)
    with pytest.raises(ExportError, match="owner/name"):
        export.push_to_hub(run_dir, "not a repo", "hf_x")


def test_cli_export(finished_run, tmp_path, capsys):
    from studio import cli

    store, run_id, _ = finished_run
    assert cli.main(["--runs-dir", str(store.root), "export", run_id, "--out", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "adapter" and zipfile.is_zipfile(out["zip"])


# ---------------------------------------------------------------- reloads --
# Every export kind is loaded the way its model card says and must predict what the run itself predicts.
TEXTS = ["my invoice shows a double charge", "the app crashes when I log in", "where is my parcel",
         "refund the payment please", "error code on startup", "delivery is late again"]


def _run_logits(run_dir):
    from studio.serve import inference

    preds = inference.predict(run_dir, TEXTS)
    labels = list(json.loads((run_dir / "model" / "studio_model.json").read_text())["labels"])
    return np.array([[p["probabilities"][l] for l in labels] for p in preds]), labels


def _probs(logits):
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _unzip(run_dir, kind, tmp_path):
    path = export.build_zip(run_dir, kind, tmp_path)
    with zipfile.ZipFile(path) as zf:
        zf.extractall(tmp_path / kind)
    return tmp_path / kind


def _hf_probs(model, folder):
    import torch
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    with torch.no_grad():
        logits = model.eval()(**tok(TEXTS, padding=True, return_tensors="pt")).logits.numpy()
    order = [model.config.id2label[i] for i in range(model.config.num_labels)]
    return _probs(logits), order


def test_adapter_export_reloads_with_peft_and_predicts_like_the_run(run_dir, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    folder = _unzip(run_dir, "adapter", tmp_path)
    ref, labels = _run_logits(run_dir)
    # As the model card says: the labels go with the call, so the base gets a head of the adapter's size.
    card = (folder / "README.md").read_text()
    id2label = dict(enumerate(labels))
    assert f"id2label = {id2label!r}" in card and "num_labels=len(id2label), id2label=id2label" in card
    # The base here is a folder of this machine, which the export names but does not locate (no server paths):
    # the card says to load the adapter on your own copy of it.
    base_dir = json.loads((run_dir / "config.json").read_text())["model"]
    assert json.loads((folder / "adapter_config.json").read_text())["base_model_name_or_path"] == Path(base_dir).name
    assert "was a folder on the machine the run trained on" in card
    base = AutoModelForSequenceClassification.from_pretrained(base_dir, num_labels=len(id2label), id2label=id2label)
    model = PeftModel.from_pretrained(base, str(folder))
    got, order = _hf_probs(model, folder)
    assert order == labels
    np.testing.assert_allclose(got, ref, atol=1e-4)


def test_merged_export_reloads_with_transformers_and_predicts_like_the_run(run_dir, tmp_path):
    from transformers import AutoModelForSequenceClassification

    folder = _unzip(run_dir, "merged", tmp_path)
    ref, labels = _run_logits(run_dir)
    got, order = _hf_probs(AutoModelForSequenceClassification.from_pretrained(str(folder)), folder)
    assert order == labels
    np.testing.assert_allclose(got, ref, atol=1e-4)


@pytest.mark.parametrize("kind", ["onnx", "onnx-int8"])
def test_onnx_exports_reload_with_onnxruntime_and_report_the_trade(run_dir, tmp_path, kind):
    from studio.export.onnx_export import OnnxClassifier

    folder = _unzip(run_dir, kind, tmp_path)
    ref, labels = _run_logits(run_dir)
    model = OnnxClassifier(folder)
    assert model.labels == labels
    got = np.array([[p["probabilities"][l] for l in labels] for p in model.predict(TEXTS)])
    report = json.loads((folder / "export_report.json").read_text())
    card = (folder / "README.md").read_text()
    assert "library_name: onnx" in card and "## ONNX export" in card and "onnxruntime" in card
    assert report["test_rows"] > 0 and 0 <= report["test_accuracy"] <= 1
    if kind == "onnx":  # the same graph in another runtime: the same numbers
        np.testing.assert_allclose(got, ref, atol=1e-4)
        assert report["agreement_with_original"] == 1.0 and report["max_abs_logit_difference"] < 1e-3
    else:  # int8 weights: close, not equal; the report says how close
        np.testing.assert_allclose(got, ref, atol=0.05)
        assert report["size_bytes"] < 0.6 * report["original_size_bytes"]
        assert report["agreement_with_original"] >= 0.9


def test_cli_export_reports_the_onnx_trade(finished_run, tmp_path, capsys):
    from studio import cli

    store, run_id, _ = finished_run
    assert (cli.main(["--runs-dir", str(store.root), "export", run_id, "--kind", "onnx-int8", "--out", str(tmp_path)])
            == 0)
    out = capsys.readouterr().out
    assert "onnx-int8:" in out and "test accuracy" in out and "original" in out


def test_onnx_is_refused_for_runs_it_cannot_hold(run_dir, monkeypatch):
    from studio.export import onnx_export

    monkeypatch.setattr(onnx_export, "supports_onnx", lambda meta, conf: False)
    with pytest.raises(ExportError, match="encoder classifiers"):
        export.build_folder(run_dir, "onnx", run_dir.parent / "never")
    assert not (run_dir.parent / "never").exists()


# --------------------------------------------------------------- reproduce --
def test_reproduce_script_runs_standalone_and_reaches_the_runs_metrics(finished_run, tmp_path):
    """The exported script trains with plain transformers + peft (no studio import) to the run's test scores."""
    from tests.support import run_reproduce_script

    store, run_id, cfg = finished_run
    got, want, folder = run_reproduce_script(store.run_dir(run_id), tmp_path)
    assert ({"train.jsonl", "validation.jsonl", "test.jsonl", "labels.json"}
            <= {p.name for p in (folder / "data").iterdir()})
    assert abs(got["accuracy"] - want["accuracy"]) <= 0.1, (got, want)
    assert abs(got["f1"] - want["f1"]) <= 0.1, (got, want)


def test_an_adapter_on_a_base_only_the_studio_builds_points_to_the_merged_export(run_dir, tmp_path):
    import shutil

    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("checkpoints"))
    cfg = json.loads((copy / "config.json").read_text())
    cfg["model"] = "minilm-seq2seq"  # a catalog base built from MiniLM, on no hub
    (copy / "config.json").write_text(json.dumps(cfg))
    assert "built by the studio" in export.model_card(copy, "adapter")
    assert "built by the studio" not in export.model_card(run_dir, "adapter")


# ------------------------------------------------------------ QLoRA merges --
@pytest.fixture
def qlora_run(run_dir, tmp_path):
    """The finished run as a QLoRA run leaves it: a LoRA adapter (what QLoRA saves too) whose status records that
    its base trained in 4 bits (bitsandbytes cannot train on a CPU)."""
    import shutil

    from studio.base import files
    from studio.base.runfolder import RunFolder

    copy = tmp_path / "qlora" / run_dir.name
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("checkpoints"))
    status = json.loads(RunFolder(copy).status.read_text())
    status["number_formats"] = {**status.get("number_formats", {}), "weights": "nf4", "compute": "bf16"}
    files.atomic_write_json(RunFolder(copy).status, status)
    return copy


def test_a_qlora_merge_without_a_gpu_says_it_merged_on_the_16_bit_base(qlora_run, tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    folder = _unzip(qlora_run, "merged", tmp_path)
    on = json.loads((folder / "studio_model.json").read_text())["merged_on"]
    assert on.startswith("16-bit base (no GPU with bitsandbytes here to re-create the 4-bit values")
    assert "answers can differ slightly from the tested model" in on
    card = (folder / "README.md").read_text()
    assert f"The adapter is merged into the {on}." in card and "dequantized 4-bit base instead" in card
    assert "merged into" not in export.model_card(qlora_run, "adapter"), "the adapter export is not merged"


def test_a_qlora_merge_on_a_gpu_merges_into_the_dequantized_4_bit_base(qlora_run, tmp_path, monkeypatch):
    """Where bitsandbytes can run, the base loads with the run's own quantization and is dequantized before the
    adapter goes on it. bitsandbytes cannot run here: the loader records its arguments and loads the plain base,
    whose dequantize records the call."""
    import dataclasses

    import torch
    from peft import PeftModel
    from transformers import BitsAndBytesConfig

    from studio.export import bundle
    from studio.tasks import get_task

    calls = []
    task = get_task("text-classification")
    real_load, real_adapter = task.load_model, PeftModel.from_pretrained

    def load_model(path, labels, tok=None, **kw):
        calls.append(("load", kw))
        model = real_load(path, labels, tok)
        model.dequantize = lambda dtype=None: calls.append(("dequantize", dtype)) or model
        return model

    def from_pretrained(model, *args, **kw):
        calls.append(("adapter", None))
        return real_adapter(model, *args, **kw)

    # Asked of bundle alone: safetensors and peft would take a CUDA that says yes for one.
    monkeypatch.setattr(bundle, "_can_quantize", lambda: True)
    monkeypatch.setattr(bundle, "get_task", lambda name: dataclasses.replace(task, load_model=load_model))
    monkeypatch.setattr(PeftModel, "from_pretrained", from_pretrained)
    folder = tmp_path / "merged"
    export.build_folder(qlora_run, "merged", folder)

    assert [c[0] for c in calls] == ["load", "dequantize", "adapter"]
    kw = calls[0][1]
    q = kw["quantization_config"]
    assert isinstance(q, BitsAndBytesConfig) and q.load_in_4bit and q.bnb_4bit_quant_type == "nf4"
    assert q.bnb_4bit_use_double_quant and q.bnb_4bit_compute_dtype == torch.bfloat16
    assert kw["dtype"] == torch.bfloat16 and kw["device_map"] == {"": 0}
    assert calls[1][1] == torch.bfloat16, "dequantized to the compute dtype: 16 bits"
    assert json.loads((folder / "studio_model.json").read_text())["merged_on"] == "dequantized 4-bit base"
    assert "merged into the dequantized 4-bit base: the values it trained against" in (folder / "README.md").read_text()


def test_only_a_cuda_gpu_with_bitsandbytes_re_creates_a_quantized_base(monkeypatch):
    import torch

    from studio.export import bundle

    monkeypatch.setattr(bundle, "find_spec", lambda name: object() if name == "bitsandbytes" else None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert not bundle._can_quantize()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert bundle._can_quantize()
    monkeypatch.setattr(bundle, "find_spec", lambda name: None)
    assert not bundle._can_quantize()
