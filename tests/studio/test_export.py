"""studio.export and `studio export`: zips with a model card, merged weights, an offline hub."""

from __future__ import annotations

import json
import zipfile

import pytest

from studio import export


@pytest.fixture(scope="module")
def run_dir(finished_run):
    store, run_id, _ = finished_run
    return store.run_dir(run_id)


def test_kinds_and_model_card(run_dir):
    assert export.export_kinds(run_dir) == ["adapter", "merged"]
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
    assert conf["base_model_name_or_path"] == export.portable_base(cfg["model"])
    assert not list(tmp_path.glob(".export-*")), "the temporary folder is cleaned up"


def test_merged_model_is_standalone(run_dir, tmp_path):
    path = export.build_zip(run_dir, "merged", tmp_path)
    with zipfile.ZipFile(path) as zf:
        zf.extractall(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "studio_model.json").read_text())
    assert meta["peft"] is False and meta["merged_from"] == "lora"
    assert not (tmp_path / "m" / "adapter_config.json").exists()


def test_push_offline_is_a_clear_message_without_the_token(run_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(export.ExportError) as err:
        export.push_to_hub(run_dir, "someone/model", "hf_topsecret")
    assert "HF_HUB_OFFLINE" in str(err.value) and "hf_topsecret" not in str(err.value)
    with pytest.raises(export.ExportError, match="owner/name"):
        export.push_to_hub(run_dir, "not a repo", "hf_x")


def test_cli_export(finished_run, tmp_path, capsys):
    from studio import cli

    store, run_id, _ = finished_run
    assert cli.main(["--runs-dir", str(store.root), "export", run_id, "--out", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "adapter" and zipfile.is_zipfile(out["zip"])
