"""studio.models: the catalog resolves offline to bundled copies; local folders; errors; SmolLM2 conversion.

The SmolLM2 conversion (GGUF -> safetensors, about 40 s) lands in the session's STUDIO_CACHE
(see conftest.py), so it runs once per cache and later sessions reuse it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio import models
from studio.base.errors import ModelError
from studio.config import RunConfig
from tests.tiny_models import make_tiny_bert, minilm_dir

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
SMOLLM2 = "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.fixture
def empty_hub_cache(tmp_path, monkeypatch):
    """No Hugging Face cache: catalog ids must fall back to the bundled copies."""
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path / "hub"


def test_catalog_lists_the_bundled_models():
    cat = {e["name"]: e for e in models.list_catalog()}
    assert set(cat) == {"minilm", "smollm2", "minilm-seq2seq", "minilm-l3", "multilingual-e5-small"}
    assert cat["multilingual-e5-small"]["bundled"] and cat["multilingual-e5-small"]["languages"] == "multilingual"
    assert cat["minilm"]["hub_id"] == MINILM and cat["smollm2"]["hub_id"] == SMOLLM2
    assert cat["minilm"]["bundled"] and cat["smollm2"]["bundled"] and cat["minilm-seq2seq"]["bundled"]
    from studio.tasks import get_task

    assert get_task("seq2seq").model.catalog_models == ("minilm-seq2seq",)
    assert "minilm" in get_task("text-classification").model.catalog_models


@pytest.mark.parametrize("name", [MINILM, "minilm", "all-MiniLM-L6-v2", " MiniLM "])
def test_minilm_names_resolve_to_the_bundled_copy_offline(empty_hub_cache, name):
    path = models.resolve(name)
    assert Path(path) == minilm_dir()
    from transformers import AutoConfig

    assert AutoConfig.from_pretrained(str(path)).model_type == "bert"


def test_a_hub_cached_copy_is_preferred(empty_hub_cache):
    snap = empty_hub_cache / "models--sentence-transformers--all-MiniLM-L6-v2" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(json.dumps({"model_type": "bert"}))
    refs = snap.parent.parent / "refs"
    refs.mkdir()
    (refs / "main").write_text("abc123")
    assert Path(models.resolve(MINILM)) == snap


def test_smollm2_resolves_to_the_converted_cache(empty_hub_cache, studio_cache):
    path = Path(models.resolve(SMOLLM2))
    assert path == studio_cache / "models" / "smollm2-135m-instruct"
    assert (path / "model.safetensors").exists() and (path / "config.json").exists()
    conversion = json.loads((path / "studio_conversion.json").read_text())
    assert conversion["missing"] == [] and conversion["unexpected"] == []
    assert models.resolve("smollm2") == path
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".smollm2-")], "no half-written temp folder"


def test_checking_smollm2_without_materializing_does_not_convert(empty_hub_cache, tmp_path, monkeypatch):
    """Start must not block on the one-time GGUF conversion: create() only checks, the worker converts."""
    monkeypatch.setenv("STUDIO_CACHE", str(tmp_path / "fresh-cache"))
    path = Path(models.resolve("smollm2", materialize=False))
    assert path == tmp_path / "fresh-cache" / "models" / "smollm2-135m-instruct"
    assert not path.exists()


def test_converted_smollm2_loads_and_generates(empty_hub_cache):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = models.resolve(SMOLLM2)
    tok = AutoTokenizer.from_pretrained(str(path))
    model = AutoModelForCausalLM.from_pretrained(str(path)).eval()
    assert model.config.model_type == "llama" and model.config.vocab_size == 49152
    enc = tok("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=2, do_sample=False)
    new = out[0, enc["input_ids"].shape[1]:]
    assert len(new) == 2
    assert "Paris" in tok.decode(new)  # the de-quantized weights are the real ones, not noise


def test_a_local_folder_loads(tmp_path):
    folder = make_tiny_bert(tmp_path / "bert")
    path = models.resolve(str(folder))
    assert path == folder.resolve()
    from studio.tasks.text_classification import model as tc_model

    tok = tc_model.load_tokenizer(path)
    model = tc_model.load_model(path, ["a", "b"], tok)
    assert model.config.id2label == {0: "a", 1: "b"}


def test_a_plain_hub_id_passes_through_when_the_hub_is_on(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    assert models.resolve("someone/some-model") == "someone/some-model"


def test_an_uncached_hub_id_offline_says_the_hub_is_unreachable(empty_hub_cache):
    with pytest.raises(ModelError, match="not in this server's Hugging Face cache and the hub is unreachable "
                                         r"\(offline mode: HF_HUB_OFFLINE is set\)"):
        models.resolve("someone/some-model")


@pytest.mark.parametrize("name, match", [
    ("/nonexistent/model", "Model folder /nonexistent/model does not exist"),
    ("./no-such-folder", "does not exist"),
    ("a/b/c", "neither a catalog model, a hub id"),
    ("bad name?", "neither a catalog model, a hub id"),
    ("", "No model given"),
])
def test_bad_model_names(name, match):
    with pytest.raises(ModelError, match=match):
        models.resolve(name)


def test_a_folder_without_config_is_refused(tmp_path):
    with pytest.raises(ModelError, match="has no config.json"):
        models.resolve(str(tmp_path))
    with pytest.raises(ModelError, match="Local model folders are disabled"):
        models.resolve(str(tmp_path), allow_local=False)


def test_a_bad_model_creates_no_run(store, separable_csv):
    cfg = RunConfig.from_dict({"model": "/nonexistent/model", "data": {"train": str(separable_csv)}})
    with pytest.raises(ModelError):
        store.create(cfg)
    assert [p.name for p in store.root.iterdir() if not p.name.startswith("registry.sqlite")] == []
    assert store.list() == []


def test_cache_dir_follows_studio_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("STUDIO_CACHE", str(tmp_path))
    assert models.cache_dir() == tmp_path


def test_minilm_l3_is_minilm_with_every_other_layer_built_once(tmp_path, monkeypatch):
    import torch
    from transformers import AutoModel

    monkeypatch.setenv("STUDIO_CACHE", str(tmp_path))
    target = tmp_path / "models" / "minilm-l3"
    assert models.resolve("minilm-l3", materialize=False) == target and not target.exists()
    path = models.resolve("minilm-l3")
    built = (path / "model.safetensors").stat().st_mtime_ns
    assert models.resolve("minilm-l3") == path and (path / "model.safetensors").stat().st_mtime_ns == built
    small, full = AutoModel.from_pretrained(str(path)), AutoModel.from_pretrained(str(models.resolve("minilm")))
    assert small.config.num_hidden_layers == 3 and len(small.encoder.layer) == 3
    for mine, theirs in zip(small.encoder.layer, [full.encoder.layer[i] for i in (0, 2, 4)]):
        assert torch.equal(mine.attention.self.query.weight, theirs.attention.self.query.weight)
    assert torch.equal(small.embeddings.word_embeddings.weight, full.embeddings.word_embeddings.weight)
