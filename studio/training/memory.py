"""Will this run fit? Its peak memory, estimated before launch from the model's shape and the run's settings.

The parts, in bytes:
- weights: every parameter in fp32 (the studio trains in fp32; bf16/fp16 are autocast, not a second copy kept);
- gradients: one fp32 value per trainable parameter;
- optimizer: AdamW's two fp32 moments per trainable parameter;
- activations: what backpropagation keeps of one micro-batch (batch_size sequences of max_length tokens) in every
  layer it passes through: about ACTIVATION_FACTOR values of the hidden width per token per layer in the compute
  precision (Korthikanti et al. 2022 count 34 bytes, i.e. 17 half-precision values, per token and hidden unit
  for a GPT layer with attention scores held; SDPA attention holds none). Layers below the lowest trainable
  parameter keep nothing. Gradient checkpointing keeps each layer's input and one layer's full set;
- attention: on a CPU, the attention scores each trained layer keeps (batch x heads x length x length in fp32,
  ATTENTION_COPIES times: scores, probabilities, dropout mask), which grow with the square of max_length; on a
  GPU, SDPA's fused kernels keep none. Gradient checkpointing keeps one layer's;
- logits: a language-model head's batch x length x vocabulary scores, held three times (logits, their softmax,
  its gradient) in fp32;
- runtime: the framework itself (CPU: a Python process with torch and transformers loaded; GPU: allocator
  slack). Measured, see bench/RESULTS.md ("Memory estimate").

The estimate is compared with what the run's device has: a GPU's memory, or the RAM available on a CPU
(shared between the runs STUDIO_RUNS_PER_DEVICE lets train at once). Far over it, a run is refused with the
changes that would make it fit; near it, warned about.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from dataclasses import dataclass, field
from typing import Any

from studio import methods, models
from studio.base.devices import pick_precision, resolve_device
from studio.base.errors import ConfigError
from studio.base.policy import trust_remote_code
from studio.tasks import get_task

GIB = 1024 ** 3
ACTIVATION_FACTOR = 17          # values kept per token, hidden unit and layer (see the module doc)
ATTENTION_COPIES = 3            # fp32 batch x heads x length x length tensors a CPU layer keeps (measured)
CPU_RUNTIME = int(1.1 * GIB)    # a training process before its model: Python, torch, transformers, datasets
GPU_RUNTIME = int(0.6 * GIB)    # allocator fragmentation and workspaces
REFUSE_ABOVE = 1.25             # estimate / available: refused ("clearly cannot fit": the estimate aims at ±25%)
WARN_ABOVE = 0.8
LM_HEADS = ("CAUSAL_LM", "SEQ_2_SEQ_LM")  # heads that score every vocabulary entry at every position


@dataclass(frozen=True)
class Shape:
    """What the estimate needs to know of a model with its method attached."""

    total: int                  # parameters
    trainable: int
    hidden: int
    layers: int                 # transformer layers a token passes through (encoder + decoder)
    vocab: int
    trained_layers: int         # layers from the lowest one with a trainable parameter up (backprop reaches them)
    lm_head: bool
    heads: int = 1              # attention heads per layer
    sequences: int = 1          # sequences a training row becomes (a preference pair: chosen and rejected)


@dataclass
class Estimate:
    parts: dict[str, int]
    total: int
    available: int
    where: str                  # "CPU RAM" or "cuda:0 (NVIDIA H200)"
    verdict: str                # "fits", "near" or "too big"
    advice: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.total / max(self.available, 1)

    def summary(self) -> str:
        parts = ", ".join(f"{k} {gib(v)}" for k, v in self.parts.items() if v)
        line = f"Peak memory about {gib(self.total)} of {gib(self.available)} {self.where} ({parts})."
        if self.verdict == "too big":
            return f"{line} It will not fit; " + ("; or ".join(self.advice) or "use a smaller model") + "."
        if self.verdict == "near":
            return f"{line} Close to the limit: it may run out of memory" + (
                f"; to be safe: {'; or '.join(self.advice)}." if self.advice else ".")
        return line

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "ratio": round(self.ratio, 3)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "Estimate":
        return cls(**{k: raw[k] for k in ESTIMATE_FIELDS})


ESTIMATE_FIELDS = ("parts", "total", "available", "where", "verdict", "advice")


def gib(n: float) -> str:
    return f"{n / GIB:.1f} GiB" if n >= 0.1 * GIB else f"{n / 1024 ** 2:.0f} MiB"


# ------------------------------------------------------------------------------------------ the shape --
@functools.lru_cache(maxsize=32)
def _shape(model: str, method: str, args_json: str, task_name: str, n_labels: int) -> Shape:
    """The model as the task builds it (its Auto class), with the method attached, on the meta device."""
    import transformers
    from accelerate import init_empty_weights

    task = get_task(task_name)
    peft_task_type = task.model.peft_task_type
    path = models.resolve(model, materialize=False)
    config = transformers.AutoConfig.from_pretrained(str(path), trust_remote_code=trust_remote_code())
    if task.has_labels:
        config.num_labels = n_labels
    auto = getattr(transformers, task.model.auto_class)
    with init_empty_weights():  # the shapes without the memory: nothing is allocated or read
        net = auto.from_config(config, trust_remote_code=trust_remote_code())
        net = methods.attach(net, method, json.loads(args_json), peft_task_type, total_steps=100)
    trainable, total = methods.count_parameters(net)
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    hidden = int(getattr(text, "hidden_size", None) or getattr(text, "d_model", None) or getattr(text, "n_embd", 0))
    layers = _layer_count(text)
    heads = int(getattr(text, "num_attention_heads", None) or getattr(text, "n_head", None)
                or getattr(text, "num_heads", None) or 1)
    return Shape(total=total, trainable=trainable, hidden=hidden, layers=layers, vocab=int(getattr(text, "vocab_size", 0)),
                 trained_layers=_trained_layers(net, layers), lm_head=peft_task_type in LM_HEADS, heads=heads)


def _layer_count(config) -> int:
    enc = getattr(config, "num_hidden_layers", None) or getattr(config, "num_layers", None) or getattr(config, "n_layer", 0)
    dec = getattr(config, "num_decoder_layers", None) if getattr(config, "is_encoder_decoder", False) else 0
    return int(enc or 0) + int(dec or 0)


def _trained_layers(net, layers: int) -> int:
    """Layers backprop passes through: from the lowest layer holding a trainable parameter to the top. A method
    that trains inputs (prompt, prefix) or every layer reaches them all."""
    stack = methods.transformer_layers(net)
    if stack is None or not layers:
        return layers
    stack = list(stack)
    lowest = next((i for i, layer in enumerate(stack) if any(p.requires_grad for p in layer.parameters())), None)
    if lowest is None:  # only the head (or virtual tokens before the first layer) trains
        trains_inputs = any(p.requires_grad for n, p in net.named_parameters() if "prompt" in n or "embed" in n)
        return layers if trains_inputs else 0
    return max(0, layers - round(lowest * layers / len(stack)))


def shape(cfg, n_labels: int = 2) -> Shape:
    cfg = cfg.resolved()
    task = get_task(cfg.task)
    got = _shape(cfg.model, cfg.method, json.dumps(cfg.method_args, sort_keys=True), task.name, max(2, int(n_labels)))
    return dataclasses.replace(got, sequences=task.model.sequences_per_row)


# ------------------------------------------------------------------------------------------- the sum --
def parts(s: Shape, t, on_gpu: bool) -> dict[str, int]:
    """The estimate's parts for training settings `t` (a TrainingConfig) on a model of shape `s`."""
    precision = pick_precision(t.precision, "cuda" if on_gpu else "cpu")
    width = 2 if precision in ("bf16", "fp16") else 4
    tokens = t.batch_size * t.max_length * s.sequences
    per_layer = tokens * s.hidden * ACTIVATION_FACTOR * width
    if getattr(t, "gradient_checkpointing", False):
        kept = tokens * s.hidden * width * s.trained_layers + (per_layer if s.trained_layers else 0)
    else:
        kept = per_layer * s.trained_layers
    logits = 3 * tokens * s.vocab * 4 if s.lm_head else 0
    scores = t.batch_size * s.sequences * s.heads * t.max_length ** 2 * 4 * ATTENTION_COPIES
    layers_kept = min(1, s.trained_layers) if getattr(t, "gradient_checkpointing", False) else s.trained_layers
    return {"weights": 4 * s.total, "gradients": 4 * s.trainable, "optimizer": 8 * s.trainable,
            "activations": kept, "attention": 0 if on_gpu else scores * layers_kept, "logits": logits,
            "runtime": GPU_RUNTIME if on_gpu else CPU_RUNTIME}


def available(device: str) -> tuple[int, str]:
    """Bytes the run's device has for it, and what that is."""
    share = max(1, int(os.environ.get("STUDIO_RUNS_PER_DEVICE", "1")))
    if device.startswith("cuda"):
        import torch

        index = int(device.split(":", 1)[1]) if ":" in device else 0
        props = torch.cuda.get_device_properties(index)
        return props.total_memory // share, f"on {device} ({props.name})"
    import psutil

    return psutil.virtual_memory().available // share, "of available RAM"


def estimate(cfg, n_labels: int = 2, device: str | None = None, room: int | None = None) -> Estimate:
    """The run's peak memory against its device (room: bytes to compare with instead of the device's)."""
    device = device or resolve_device(cfg.training.device)
    on_gpu = device.startswith("cuda")
    s = shape(cfg, n_labels)
    got = parts(s, cfg.training, on_gpu)
    have, where = (room, "given") if room is not None else available(device)
    total = sum(got.values())
    ratio = total / max(have, 1)
    verdict = "too big" if ratio > REFUSE_ABOVE else "near" if ratio > WARN_ABOVE else "fits"
    est = Estimate(parts=got, total=total, available=have, where=where, verdict=verdict)
    if verdict != "fits":
        est.advice = advice(cfg, s, on_gpu, have)
    return est


def advice(cfg, s: Shape, on_gpu: bool, have: int) -> list[str]:
    """Changes that bring the estimate under the warning line, each with its estimate, mildest first."""
    t = cfg.training
    out = []

    def fits(**changes) -> int | None:
        total = sum(parts(s, dataclasses.replace(t, **changes), on_gpu).values())
        return total if total <= WARN_ABOVE * have else None

    batch = t.batch_size
    while batch > 1:
        batch //= 2
        accumulation = t.gradient_accumulation_steps * (t.batch_size // batch)
        got = fits(batch_size=batch, gradient_accumulation_steps=accumulation)
        if got:
            out.append(f"training.batch_size {batch} with training.gradient_accumulation_steps {accumulation} "
                       f"(the same effective batch; about {gib(got)})")
            break
    if not getattr(t, "gradient_checkpointing", False) and (got := fits(gradient_checkpointing=True)):
        out.append(f"training.gradient_checkpointing on (slower steps; about {gib(got)})")
    length = t.max_length
    while length > 64:
        length //= 2
        if got := fits(max_length=length):
            out.append(f"training.max_length {length} (longer texts are cut; about {gib(got)})")
            break
    if not methods.METHODS[cfg.method].peft:
        lora = shape(dataclasses.replace(cfg, method="lora", method_args={}))
        total = sum(parts(lora, t, on_gpu).values())
        if total <= WARN_ABOVE * have:
            out.append(f"method lora (about {gib(total)})")
    return out


def check(cfg, n_labels: int = 2) -> Estimate:
    """The estimate, or a ConfigError when the run clearly cannot fit."""
    est = estimate(cfg, n_labels)
    if est.verdict == "too big":
        raise ConfigError(est.summary())
    return est


def measured_peak(device: str) -> dict[str, Any]:
    """What this process used at its peak: torch's allocator peak on a GPU, the peak resident set on a CPU."""
    if device.startswith("cuda"):
        import torch

        # Reserved, not allocated: what the allocator held at its peak, fragmentation included.
        return {"bytes": int(torch.cuda.max_memory_reserved()), "what": "torch.cuda.max_memory_reserved"}
    import resource

    return {"bytes": int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024, "what": "peak RSS of the training process"}


class MemoryCheck:
    """The run feature: the estimate made before a run exists (refusing what clearly cannot fit) and kept in its
    status beside the peak measured when it completes."""

    name = "memory"

    def check(self, new) -> None:
        fit = checked(new.cfg, len(new.prepared.labels) if new.prepared is not None else 2)
        new.status["memory"] = fit.to_dict() if fit else None

    def finished(self, run, trainer) -> dict:
        return {"peak_memory": measured_peak(str(trainer.args.device))}


def checked(cfg, n_labels: int) -> Estimate | None:
    """The run's estimate; a ConfigError when it clearly cannot fit, None when the model's shape cannot be read
    without loading it (the run then starts unchecked, and its log says why)."""
    import sys

    try:
        return check(cfg, n_labels)
    except ConfigError:
        raise
    except Exception as e:  # an architecture the meta-device build does not know: say so in the log, do not block
        print(f"[studio] memory estimate skipped: {type(e).__name__}: {str(e)[:200]}", file=sys.stderr, flush=True)
        return None
