"""Exports for the page are built in a process of their own: the zip, the export's own sentences, the token."""

from __future__ import annotations

import zipfile

import pytest

from studio.base.errors import ExportError
from studio.export import bundle
from studio.export import worker as export_worker


def test_the_zip_is_built_in_another_process(finished_run, tmp_path, monkeypatch):
    store, run_id, _ = finished_run
    rd = store.run_dir(run_id)

    def in_this_process(*a, **k):
        raise AssertionError("the export ran in the web server's process")

    monkeypatch.setattr(bundle, "build_zip", in_this_process)  # the child has the real one
    path = export_worker.build_zip(rd, "merged", tmp_path)
    assert path.parent == tmp_path and path.name == f"{run_id}-merged.zip"
    with zipfile.ZipFile(path) as zf:
        assert "README.md" in zf.namelist() and any(n.endswith("model.safetensors") for n in zf.namelist())


def test_the_exports_own_sentences_come_back(finished_run, tmp_path):
    store, run_id, _ = finished_run  # a text classifier: no GGUF
    with pytest.raises(ExportError, match="cannot be exported as gguf-f16: GGUF holds decoder language models"):
        export_worker.build_zip(store.run_dir(run_id), "gguf-f16", tmp_path)
    # a push: the token reaches the child through its environment; a bad repository id is its sentence
    with pytest.raises(ExportError, match="'no slash' is not a repository id"):
        export_worker.push_to_hub(store.run_dir(run_id), "no slash", "hf_x")
    with pytest.raises(ExportError, match="Give a Hugging Face access token"):
        export_worker.push_to_hub(store.run_dir(run_id), "alice/model", "")
