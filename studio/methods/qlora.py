"""QLoRA: LoRA on a base whose linear layers load in 4 bits (NF4 with double quantization, computing in bf16 or
fp16) or 8 bits (LLM.int8), through bitsandbytes: about a quarter (4-bit) or half (8-bit) of a 16-bit base's
memory, so a 7-8B model trains on one 24 GB card. The adapters stay in fp32.

bitsandbytes quantizes on CUDA GPUs; it is an optional extra (`pip install -e ".[gpu]"`) installed where there is
one. Where there is none, the run is refused with that sentence before it exists.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from studio.base.errors import ConfigError
from studio.base.settings import setting
from studio.base.text import Text
from studio.methods.base import Method
from studio.methods.lora import LoraSettings, build_lora


@dataclass
class QLoraSettings(LoraSettings):
    """LoRA's settings and the bits the frozen base loads in (cfg.method_args)."""

    bits: int = setting(4, "Bits per base weight: 4 (NF4, double quantization: the QLoRA paper's) or 8 "
                        "(LLM.int8: closer to the 16-bit base, twice the memory of 4).",
                        zh="基础模型每个权重的位数：4（NF4 加双重量化：QLoRA 论文的做法）或 8（LLM.int8："
                           "更接近 16 位的基础模型，显存是 4 位的两倍）。", min=4, max=8, choices=(4, 8),
                        label=Text("Bits per base weight", "基础模型每个权重的位数"))


def quantization_kwargs(weights: str, compute_dtype, sharded: bool = False) -> dict:
    """from_pretrained's quantization_config for a base stored in `weights` (nf4 or int8), computing in
    compute_dtype: how a QLoRA run loads its base, and how its adapter is served on the same base."""
    from transformers import BitsAndBytesConfig

    if weights != "nf4":
        return {"quantization_config": BitsAndBytesConfig(load_in_8bit=True)}
    # Sharded, the 4-bit weights are stored in the compute dtype: FSDP flattens each layer into one tensor of one
    # dtype, which packed uint8 storage beside bf16 norms and adapters cannot be.
    storage = {"bnb_4bit_quant_storage": compute_dtype} if sharded else {}
    return {"quantization_config": BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                      bnb_4bit_use_double_quant=True,
                                                      bnb_4bit_compute_dtype=compute_dtype, **storage)}


def build_qlora(model, args, peft_task_type, total_steps=None):
    """The quantized base (loaded so by precision.Plan.load_kwargs) made trainable the way peft prescribes (norms
    in fp32, inputs that carry gradients), then LoRA on its linear layers."""
    import peft

    # Gradient checkpointing is the Trainer's to turn on (training.gradient_checkpointing), not peft's.
    model = peft.prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    return build_lora(model, args, peft_task_type, total_steps)


def check_machine(device: str) -> None:
    """bitsandbytes and a CUDA GPU, before a run exists."""
    if device == "cpu" or not _cuda_available():
        raise ConfigError("method qlora loads the base in 4 or 8 bits with bitsandbytes, which needs a CUDA GPU, and "
                          + ("this run is set to train on the CPU" if device == "cpu" else "this server has none")
                          + "; pick lora instead (on a CPU the base trains in fp32).")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ConfigError("method qlora needs bitsandbytes, which is not installed on this server: "
                          "`pip install -e \".[gpu]\"` (or `pip install bitsandbytes`), or pick lora.")


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


QLORA = Method("qlora", "QLoRA", "LoRA on a base loaded in 4 bits (or 8): a quarter of the base's memory, so 7-8B "
               "models train on one 24 GB GPU; a little slower than LoRA. Needs a CUDA GPU and bitsandbytes.", 2e-4,
               build_qlora, QLoraSettings, quantized_bits="bits", machine_check=check_machine)
