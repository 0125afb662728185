"""studio.serve.inference.base_load_kwargs: the playground serves a QLoRA run's adapter on the base it trained on
(4 or 8 bits, on the playground's GPU), not on the unquantized base, whose answers differ from the tested model's.
This machine has no GPU: what from_pretrained is given is checked, as precision's load_kwargs are."""

from __future__ import annotations

from studio.base import runfolder
from studio.serve.inference import base_load_kwargs


def _run_with_formats(tmp_path, **formats):
    rd = tmp_path / "run"
    rd.mkdir(parents=True)
    runfolder.write_status(rd, "completed", number_formats={"compute": "bf16", "weights": "bfloat16",
                                                            "masters": "float32", **formats})
    return rd


def test_a_qlora_runs_base_is_served_in_its_own_bits_on_the_playgrounds_gpu(tmp_path):
    import torch

    rd = _run_with_formats(tmp_path, weights="nf4")
    kw = base_load_kwargs(rd, "cuda:1")
    q = kw["quantization_config"]
    assert q.load_in_4bit and q.bnb_4bit_quant_type == "nf4" and q.bnb_4bit_compute_dtype == torch.bfloat16
    assert kw["device_map"] == {"": 1} and kw["dtype"] == torch.bfloat16
    eight = base_load_kwargs(_run_with_formats(tmp_path / "8", weights="int8"), "cuda")
    assert eight["quantization_config"].load_in_8bit and eight["device_map"] == {"": 0}


def test_other_runs_and_a_cpu_playground_load_the_base_as_stored(tmp_path):
    assert base_load_kwargs(_run_with_formats(tmp_path, weights="bfloat16"), "cuda:0") == {}
    assert base_load_kwargs(_run_with_formats(tmp_path / "cpu", weights="nf4"), "cpu") == {}  # bitsandbytes: CUDA only
    assert base_load_kwargs(tmp_path / "no-status", "cuda:0") == {}


def test_loaded_run_gives_the_base_those_arguments_and_leaves_it_where_they_put_it(tmp_path, monkeypatch):
    """LoadedRun, a QLoRA run on a GPU playground: its base is loaded with the run's quantization and device map
    (and not moved after: a quantized model cannot be), its adapter on top."""
    import json
    import types

    from studio.base.runfolder import RunFolder
    from studio.serve import inference

    rd = _run_with_formats(tmp_path, weights="nf4")
    RunFolder(rd).model.mkdir(parents=True)
    RunFolder(rd).model_meta.write_text(json.dumps({"task": "sft", "peft": True, "base_model": "/somewhere/base",
                                                    "labels": [], "method": "qlora"}))
    seen = {}

    class Base:
        def to(self, device):
            seen["moved"] = device
            return self

        def eval(self):
            return self

    def load_model(path, labels, tokenizer=None, **kw):
        seen.update(path=path, kw=kw)
        return Base()

    task = types.SimpleNamespace(load_tokenizer=lambda path: "tokenizer", load_model=load_model)
    monkeypatch.setattr(inference, "get_task", lambda name: task)
    monkeypatch.setattr(inference.models, "resolve", lambda name, **kw: name)
    monkeypatch.setattr(inference, "playground_device", lambda: "cuda:0")
    import peft

    monkeypatch.setattr(peft.PeftModel, "from_pretrained", staticmethod(lambda base, folder: base))
    inference.LoadedRun(rd)
    assert seen["path"] == "/somewhere/base" and seen["kw"]["quantization_config"].load_in_4bit
    assert seen["kw"]["device_map"] == {"": 0} and "moved" not in seen
