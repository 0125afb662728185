"""studio.training.precision: each method's number formats on each kind of device, as a GPU user gets them;
checked here with the GPU's answers faked (this machine has none) and a tiny model loaded in them."""

from __future__ import annotations

import pytest

from studio.base import devices
from studio.base.errors import ConfigError
from studio.methods import METHODS, resolve_args
from studio.training import precision


@pytest.fixture
def gpu(monkeypatch):
    """A GPU of a given compute capability (8.0: A100; 7.5: T4; 9.0: H100/H200)."""
    def have(capability):
        monkeypatch.setattr(precision, "gpu_capability", lambda device: capability if device != "cpu" else None)
        monkeypatch.setattr(devices, "gpu_capability", lambda device: capability if device != "cpu" else None)
    return have


def plan(method, precision_setting="auto", device="cuda:0", **kw):
    return precision.plan(method, resolve_args(method, {}), precision_setting, device, **kw)


def test_full_and_freeze_keep_fp32_masters_and_adapters_a_16_bit_base(gpu):
    gpu((9, 0))
    for method in ("full", "freeze"):
        p = plan(method)
        assert (p.compute, p.weights, p.masters) == ("bf16", "float32", "float32"), method
    for method in ("lora", "dora", "adalora", "ia3", "prefix", "prompt"):
        p = plan(method)
        assert (p.compute, p.weights, p.masters) == ("bf16", "bfloat16", "float32"), method
    assert plan("lora").tf32 and "tf32 on" in plan("lora").describe()


def test_precision_fp32_trains_fp32_weights_and_a_cpu_never_gets_16_bits_by_itself(gpu):
    gpu((9, 0))
    assert (plan("lora", "fp32").compute, plan("lora", "fp32").weights) == ("fp32", "float32")
    assert (plan("full", "fp32").compute, plan("full", "fp32").weights) == ("fp32", "float32")
    cpu = plan("lora", device="cpu")
    assert (cpu.compute, cpu.weights, cpu.tf32) == ("fp32", "float32", False)


def test_pre_ampere_gpus_get_fp16_not_emulated_bf16(gpu):
    """torch.cuda.is_bf16_supported() says True on a T4 or V100 (emulation); their tensor cores are fp16."""
    gpu((7, 5))
    p = plan("lora")
    assert (p.compute, p.weights, p.tf32) == ("fp16", "float16", False)
    assert devices.pick_precision("auto", "cuda:0") == "fp16"
    gpu((8, 0))
    assert devices.pick_precision("auto", "cuda:0") == "bf16"


def test_qlora_loads_4_or_8_bits_and_fsdp_keeps_one_dtype(gpu):
    gpu((8, 6))
    four = precision.plan("qlora", resolve_args("qlora", {}), "auto", "cuda:0")
    eight = precision.plan("qlora", resolve_args("qlora", {"bits": 8}), "auto", "cuda:0")
    assert (four.weights, four.masters, four.quantized) == ("nf4", "float32", True)
    assert eight.weights == "int8" and 0.5 < four.base_bytes() < 0.6 and eight.base_bytes() == 1
    kw = four.load_kwargs()
    q = kw["quantization_config"]
    assert q.load_in_4bit and q.bnb_4bit_quant_type == "nf4" and q.bnb_4bit_use_double_quant
    assert str(q.bnb_4bit_compute_dtype) == "torch.bfloat16" and kw["device_map"] == {"": 0}
    assert precision.plan("qlora", resolve_args("qlora", {"bits": 8}), "auto", "cuda:0").load_kwargs()[
        "quantization_config"].load_in_8bit
    # FSDP flattens a layer's weights into one tensor: LoRA's fp32 adapters need an fp32 base beside them.
    sharded = plan("lora", sharded=True)
    assert sharded.weights == sharded.masters == "float32" and sharded.compute == "bf16"
    with pytest.raises(ValueError, match="bits"):
        resolve_args("qlora", {"bits": 3})


def test_attention_is_flash_where_it_can_run_and_sdpa_elsewhere(gpu, monkeypatch):
    gpu((8, 0))
    assert plan("lora").attention == "sdpa"  # flash-attn is not installed here
    monkeypatch.setattr(precision.importlib.util, "find_spec", lambda name: object() if name == "flash_attn" else None)
    assert plan("lora").attention == "flash_attention_2"
    assert plan("lora", "fp32").attention == "sdpa"  # flash-attention runs in 16 bits only
    with pytest.raises(ConfigError, match="flash_attention_2 cannot run here: it needs the flash-attn package"):
        plan("lora", "fp32", attention="flash_attention_2")
    gpu((7, 5))
    assert plan("lora").attention == "sdpa"


def test_a_tiny_model_loads_in_the_planned_dtype_and_reports_its_attention(tiny_bert, gpu):
    import torch
    from transformers import AutoModelForSequenceClassification

    from studio.methods import attach

    gpu((9, 0))
    p = plan("lora")
    kw = {k: v for k, v in p.load_kwargs().items() if k != "device_map"}
    model = AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=2, **kw)
    assert next(model.parameters()).dtype == torch.bfloat16
    from studio.training.parts import trained_in_fp32

    model = trained_in_fp32(attach(model, "lora", resolve_args("lora", {}), "SEQ_CLS"))
    trained = {p.dtype for p in model.parameters() if p.requires_grad}
    frozen = {p.dtype for p in model.parameters() if not p.requires_grad}
    assert trained == {torch.float32} and frozen == {torch.bfloat16}  # fp32 adapters on a bf16 base
    assert precision.loaded(p, model).attention in ("sdpa", "eager")
    full = plan("full").load_kwargs()
    assert full["dtype"] == torch.float32


def test_qlora_is_refused_in_one_sentence_without_cuda():
    from studio.methods.qlora import check_machine

    with pytest.raises(ConfigError, match="needs a CUDA GPU, and this server has none; pick lora"):
        check_machine("cuda:0")
    with pytest.raises(ConfigError, match="this run is set to train on the CPU"):
        check_machine("cpu")
    assert METHODS["qlora"].base_bits(resolve_args("qlora", {})) == 4 and METHODS["lora"].base_bits({}) is None


def test_flash_attention_only_for_architectures_that_have_it(gpu, monkeypatch, tmp_path, tiny_bert):
    """T5, mT5 and DeBERTa-v2/v3 have no flash-attention 2 path (from_pretrained would refuse it): auto takes SDPA
    for them where flash-attn is installed, and asking for it says why not."""
    from transformers import DebertaV2Config, T5Config

    from studio.config import RunConfig
    from studio.training.recipe import number_formats

    gpu((8, 0))
    monkeypatch.setattr(precision.importlib.util, "find_spec", lambda name: object() if name == "flash_attn" else None)
    t5, deberta = tmp_path / "t5", tmp_path / "deberta"
    T5Config(d_model=16, d_ff=32, num_layers=1, num_heads=2, d_kv=8, vocab_size=64).save_pretrained(t5)
    DebertaV2Config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                    vocab_size=64).save_pretrained(deberta)
    assert not precision.model_has_flash_attention(t5, "AutoModelForSeq2SeqLM")
    assert not precision.model_has_flash_attention(deberta, "AutoModelForSequenceClassification")
    assert precision.model_has_flash_attention(tiny_bert, "AutoModelForSequenceClassification")

    seq2seq = RunConfig.from_dict({"task": "seq2seq", "model": str(t5), "method": "lora",
                                   "data": {"train": "x.jsonl"}}).resolved()
    assert number_formats(seq2seq, "cuda:0", t5).attention == "sdpa"
    classifier = RunConfig.from_dict({"model": str(tiny_bert), "method": "lora", "data": {"train": "x.csv"}}).resolved()
    assert number_formats(classifier, "cuda:0", tiny_bert).attention == "flash_attention_2"
    with pytest.raises(ConfigError, match="architecture has no flash-attention 2 path"):
        plan("lora", attention="flash_attention_2", flash_model=False)


def test_a_sharded_qlora_base_stores_its_4_bit_weights_in_the_compute_dtype_and_has_no_device_map(gpu):
    """FSDP flattens each layer into one tensor of one dtype and places the shards itself: a 4-bit base sharded
    keeps its packed weights in bf16 storage (bnb_4bit_quant_storage) and is loaded without a device_map; an 8-bit
    base cannot be sharded, and says so before the run exists."""
    import torch

    gpu((8, 0))
    sharded = plan("qlora", sharded=True)
    kw = sharded.load_kwargs()
    assert sharded.sharded and "device_map" not in kw
    assert kw["quantization_config"].bnb_4bit_quant_storage == torch.bfloat16
    alone = plan("qlora").load_kwargs()
    assert alone["device_map"] == {"": 0} and alone["quantization_config"].bnb_4bit_quant_storage == torch.uint8
    with pytest.raises(ConfigError, match="8-bit base cannot be sharded"):
        precision.plan("qlora", resolve_args("qlora", {"bits": 8}), "auto", "cuda:0", sharded=True)
