"""A run's number formats: what the base's weights are stored in, what the passes compute in, which attention
kernel runs, whether tf32 is on. Chosen once per run from its method, precision setting and device, shown in its
log and status, and used by the memory estimate.

- compute: the Trainer's mixed precision (bf16, fp16 or fp32): the forward and backward passes autocast to it.
- weights: the dtype the base loads in. Full and freeze fine-tuning keep fp32 master weights: in bf16 an update
  smaller than 1/256 of a weight rounds away (1 + 1e-3 == 1 in bf16), so small learning rates would train
  nothing. Adapter methods load the frozen base in the compute format (half the memory of fp32) and keep their
  own weights in fp32 (peft's autocast_adapter_dtype). QLoRA loads the base's linear layers in 4 or 8 bits.
  Under FSDP every weight is fp32 (FSDP flattens each layer's weights into one tensor, which must have one
  dtype; the shards divide fp32's memory anyway) and the compute format is FSDP's mixed precision.
- tf32: on for fp32 matrix multiplications on Ampere and later GPUs (10-bit mantissa inputs, fp32 accumulation:
  what PyTorch recommends for training).
- attention: flash-attention 2 where it is installed, the GPU is Ampere or later with a 16-bit compute format and
  the model's architecture has it (T5, mT5 and DeBERTa do not: from_pretrained would refuse), else PyTorch's SDPA
  (fused kernels on a GPU, no n x n matrix kept on Ampere and later).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import asdict, dataclass, replace
from typing import Any

from studio.base.devices import COMPUTE_DTYPES, gpu_capability, pick_precision
from studio.base.errors import ConfigError
from studio.config.training import ATTENTIONS
from studio.methods import METHODS
from studio.methods.qlora import quantization_kwargs

BYTES = {"float32": 4, "bfloat16": 2, "float16": 2, "int8": 1, "nf4": 0.5}


@dataclass(frozen=True)
class Plan:
    compute: str          # the Trainer's mixed precision: bf16, fp16 or fp32
    weights: str          # the frozen base's storage: float32, bfloat16, float16, int8 or nf4
    masters: str          # the trained weights' storage (adapters' or the whole model's): float32 or the base's
    attention: str        # sdpa, flash_attention_2 or eager
    tf32: bool
    device: str
    sharded: bool = False  # FSDP or DeepSpeed split the weights over the processes

    @property
    def quantized(self) -> bool:
        return self.weights in ("int8", "nf4")

    def base_bytes(self) -> float:
        """Bytes per frozen base weight (4-bit: half a byte, plus a little for its block scales)."""
        return BYTES[self.weights] + (0.04 if self.weights == "nf4" else 0.0)

    def load_kwargs(self) -> dict[str, Any]:
        """from_pretrained's arguments for the base: dtype, attention kernel, and the quantization config."""
        return load_kwargs(self.to_dict())

    def describe(self) -> str:
        """One line for the run's log and status, e.g. "bf16 compute; base bfloat16, trained weights float32;
        sdpa attention; tf32 on"."""
        stored = f"weights {self.weights}" if self.masters == self.weights else \
            f"base {self.weights}, trained weights {self.masters}"
        return f"{self.compute} compute; {stored}; {self.attention} attention" + ("; tf32 on" if self.tf32 else "")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_kwargs(formats: dict[str, Any]) -> dict[str, Any]:
    """from_pretrained's arguments for a base in these number formats (a Plan as a dict: what a run's status
    records and a reproduce script carries): its dtype, attention kernel, and quantization config."""
    import torch

    compute = getattr(torch, COMPUTE_DTYPES[formats["compute"]])
    # sdpa is transformers' own default where a model supports it (and eager where not): named only otherwise.
    kw: dict[str, Any] = {} if formats["attention"] == "sdpa" else {"attn_implementation": formats["attention"]}
    if formats["weights"] in ("nf4", "int8"):
        sharded = bool(formats.get("sharded"))
        kw.update(quantization_kwargs(formats["weights"], compute, sharded))
        kw["dtype"] = compute
        if not sharded:
            # bitsandbytes quantizes while loading, on the GPU this process trains on (with several processes, each
            # has its own); the Trainer never moves a quantized model. Sharded, FSDP places the shards itself.
            device = formats.get("device") or "cuda"
            kw["device_map"] = {"": int(os.environ.get("LOCAL_RANK", device.split(":")[1] if ":" in device else 0))}
    else:
        kw["dtype"] = getattr(torch, formats["weights"])
    return kw


def plan(method: str, method_args: dict, precision: str, device: str, sharded: bool = False,
         attention: str = "auto", flash_model: bool = True) -> Plan:
    """The number formats of a run of `method` with this precision setting on `device` (see the module doc)."""
    compute = pick_precision(precision, device)
    capability = gpu_capability(device)
    ampere = capability is not None and capability >= (8, 0)
    m = METHODS[method]
    bits = m.base_bits(method_args)
    if bits:
        if sharded and bits != 4:
            raise ConfigError("method_args.bits: an 8-bit base cannot be sharded (FSDP and DeepSpeed shard 4-bit "
                              "QLoRA bases only); use bits 4, or training.distributed ddp.")
        weights = "nf4" if bits == 4 else "int8"
    elif sharded or not m.peft:
        weights = "float32"
    else:
        weights = COMPUTE_DTYPES[compute]
    masters = "float32"
    return Plan(compute=compute, weights=weights, masters=masters,
                attention=pick_attention(attention, compute, ampere, flash_model), tf32=ampere, device=device,
                sharded=sharded)


def pick_attention(asked: str, compute: str, ampere: bool, flash_model: bool = True) -> str:
    """The attention kernel: the one asked for, or for auto flash-attention 2 where it can run, else sdpa.
    flash_model: the model's architecture has a flash-attention 2 path (model_has_flash_attention)."""
    if asked not in ATTENTIONS:
        raise ConfigError(f"training.attention: {asked!r} is not one of {', '.join(ATTENTIONS)}.")
    flash_ok = ampere and compute in ("bf16", "fp16") and importlib.util.find_spec("flash_attn") is not None
    if asked == "flash_attention_2" and not (flash_ok and flash_model):
        why = ("this model's architecture has no flash-attention 2 path" if flash_ok and not flash_model else
               "it needs the flash-attn package, an Ampere or later GPU and bf16 or fp16")
        raise ConfigError(f"training.attention: flash_attention_2 cannot run here: {why}; pick auto or sdpa.")
    flash_ok = flash_ok and flash_model
    if asked != "auto":
        return asked
    return "flash_attention_2" if flash_ok else "sdpa"


def model_has_flash_attention(model_path, auto_class: str) -> bool:
    """The model class `auto_class` builds for the config at model_path supports flash-attention 2 (transformers'
    `_supports_flash_attn`); False when the config or class cannot be told."""
    import transformers

    try:
        config = transformers.AutoConfig.from_pretrained(str(model_path))
        cls = getattr(transformers, auto_class)._model_mapping[type(config)]
    except Exception:  # noqa: BLE001 - an unknown architecture: sdpa, which every model that loads can take
        return False
    return bool(getattr(cls, "_supports_flash_attn", False) or getattr(cls, "_supports_flash_attn_2", False))


def loaded(p: Plan, model) -> Plan:
    """The plan with the attention kernel the loaded model really uses (a model without SDPA support falls back
    to eager), as the log and status report it."""
    config = getattr(model, "config", None)
    used = getattr(config, "_attn_implementation", None) if config is not None else None
    return replace(p, attention=used) if isinstance(used, str) and used else p


def apply_tf32(p: Plan) -> None:
    """Let fp32 matrix multiplications use tf32 where the plan says so (Ampere and later)."""
    if p.tf32:
        import torch

        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
