"""Will this run fit? Its peak memory, estimated before launch from the model's shape, its number formats
(studio.training.precision) and the run's settings.

The parts, in bytes per device:
- weights: the frozen base in its storage format (fp32, bf16/fp16, int8, or 4-bit NF4 with its block scales; the
  embeddings of a quantized base stay 16-bit) and the trained weights (adapters, or the whole model) in fp32;
- casts: with fp32 master weights and 16-bit compute, autocast's 16-bit copy of each weight in use;
- gradients: one fp32 value per trainable parameter;
- optimizer: AdamW's two moments per trainable parameter, fp32 (8 bytes) or 8-bit (2 bytes);
- weights, gradients and optimizer are divided among the processes when FSDP or DeepSpeed shards them;
- activations: what backpropagation keeps of one micro-batch (batch_size sequences of max_length tokens) in every
  layer it passes through: about ACTIVATION_FACTOR values of the hidden width per token per layer in the compute
  precision (Korthikanti et al. 2022 count 34 bytes, i.e. 17 half-precision values, per token and hidden unit
  for a GPT layer with attention scores held; SDPA attention holds none). Layers below the lowest trainable
  parameter keep nothing. Gradient checkpointing keeps each layer's input and one layer's full set;
- attention: on a CPU, the attention scores each trained layer keeps (batch x heads x length x length in fp32,
  ATTENTION_COPIES times: scores, probabilities, dropout mask), which grow with the square of max_length; on a
  GPU, SDPA's fused kernels keep none. Gradient checkpointing keeps one layer's;
- logits: a language-model head's batch x length x vocabulary scores, held three times (logits, their softmax,
  its gradient) in fp32; none with Liger's fused cross-entropy;
- generation: for a task that generates while it trains (reinforcement learning: GenerationInTraining), the
  key/value cache of the replies it writes at once (2 x layers x replies x (prompt + new tokens) x hidden, in the
  compute precision; grouped-query attention keeps less, so this errs high) and their last position's logits;
  its training sequences are the prompt and the reply (max_length + new tokens), and a full fine-tune with a KL
  term keeps a frozen reference copy of the model (adapters are switched off for it instead);
- runtime: the framework itself (CPU: a Python process with torch and transformers loaded; GPU: the CUDA
  context and allocator slack). Measured, see bench/RESULTS.md ("Memory estimate").

The estimate is compared with what the run's device has for it: a GPU's free memory (its total where another
studio run holds it now, since this one starts after it), or the RAM available on a CPU (shared between the runs
STUDIO_RUNS_PER_DEVICE lets train at once). Far over it (REFUSE_ABOVE), a run is refused with the changes that
would make it fit, unless training.ignore_memory_estimate says start anyway; near it, warned about. A model
whose shape cannot be built on the meta device is estimated from its config's sizes instead; one whose config
cannot be read gets verdict "unknown", said in its status and log, never a silent pass.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from studio import methods, models
from studio.base.devices import device_index, gpus_in, ranks_here, resolve_device, run_devices
from studio.base.errors import ConfigError
from studio.base.policy import trust_remote_code
from studio.base.process_rank import shards_model
from studio.base.runfolder import read_status
from studio.base.text import Text, pick
from studio.tasks import get_task
from studio.training import precision as number_formats

GIB = 1024 ** 3
ACTIVATION_FACTOR = 17          # values kept per token, hidden unit and layer (see the module doc)
ATTENTION_COPIES = 3            # fp32 batch x heads x length x length tensors a CPU layer keeps (measured)
CPU_RUNTIME = int(1.1 * GIB)    # a training process before its model: Python, torch, transformers, datasets
GPU_RUNTIME = int(0.6 * GIB)    # allocator fragmentation and workspaces
ASSUMED_LENGTH = 512            # an empty training.max_length before the data chose one (studio.training.lengths)
REFUSE_ABOVE = 1.25             # estimate / available: refused ("clearly cannot fit": the estimate aims at ±25%)
WARN_ABOVE = 0.8
# What each part of the estimate is called on the Chinese page.
PART_ZH = {"weights": "权重", "casts": "16 位副本", "gradients": "梯度", "optimizer": "优化器", "activations": "激活值",
           "attention": "注意力", "logits": "logits", "generation": "生成", "reference": "参考模型",
           "runtime": "运行时"}
MEASURED_ERROR = 0.32           # the largest |estimate / measured - 1| of the benchmarks (bench/RESULTS.md)
LM_HEADS = ("CAUSAL_LM", "SEQ_2_SEQ_LM")  # heads that score every vocabulary entry at every position
OPTIMIZER_BYTES = {"adamw": 8, "adamw_8bit": 2, "paged_adamw_8bit": 2}


@runtime_checkable
class GenerationInTraining(Protocol):
    """The capability of a task whose training writes replies (reinforcement learning): what the estimate adds."""

    def generation(self, cfg) -> tuple[int, int, bool]:
        """(replies generated at once per process, new tokens per reply, whether a frozen reference copy of the
        model is kept to score them: a KL term without adapters to switch off)."""


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
    tied: bool = True           # input embeddings and LM head share one matrix
    source: str = "meta"        # "meta": built on the meta device; "config": counted from the config's sizes
    adapter_inputs: int = 0     # summed input width of the modules adapters sit on (LoRA's dropout copies each)
    generated: int = 0          # replies written at once while training (GenerationInTraining), else 0
    new_tokens: int = 0         # tokens per reply, after the prompt's max_length
    reference: bool = False     # a reference model scores the replies (a KL term)


@dataclass
class Estimate:
    parts: dict[str, int]
    total: int
    available: int
    where: str                  # "of available RAM" or "free on cuda:0 (NVIDIA H200)"
    verdict: str                # "fits", "near", "too big", or "unknown" (no estimate could be made: `reason`)
    advice: list[str] = field(default_factory=list)
    formats: str = ""           # the number formats counted (precision.Plan.describe)
    reason: str = ""            # why there is no estimate, or what it was made from when not the model itself
    ignored: bool = False       # too big, and started anyway (training.ignore_memory_estimate)

    @property
    def ratio(self) -> float:
        return self.total / max(self.available, 1)

    def summary(self) -> Text:
        """One paragraph, in English and Chinese (the Model tab shows it; the CLI and errors read the English)."""
        return Text(self._summary(False), self._summary(True))

    def _summary(self, zh: bool) -> str:
        reason = pick(self.reason, zh)
        if self.verdict == "unknown":
            return f"未估算峰值内存：{reason}" if zh else f"Peak memory not estimated: {self.reason}"
        if zh:
            parts = "，".join(f"{PART_ZH.get(k, k)} {gib(v)}" for k, v in self.parts.items() if v)
            line = (f"峰值内存约 {gib(self.total)}，{pick(self.where, zh)} {gib(self.available)}（{parts}；估算值，"
                    f"与基准测试实测峰值相差在 ±{MEASURED_ERROR:.0%} 以内）" + (f"；{reason}" if reason else "") + "。")
            advice = "；或 ".join(pick(a, zh) for a in self.advice)
            if self.verdict == "too big":
                fixes = advice or "换用更小的模型"
                if self.ignored:
                    return f"{line}很可能放不下（{fixes}）；仍已启动（training.ignore_memory_estimate）。"
                return f"{line}放不下；{fixes}；或设置 training.ignore_memory_estimate 仍然启动。"
            if self.verdict == "near":
                return f"{line}接近上限：可能会内存不足" + (f"；稳妥起见：{advice}。" if advice else "。")
            return line
        parts = ", ".join(f"{k} {gib(v)}" for k, v in self.parts.items() if v)
        line = (f"Peak memory about {gib(self.total)} of {gib(self.available)} {self.where} ({parts}; an estimate, "
                f"within ±{MEASURED_ERROR:.0%} of the peaks measured in the benchmarks)"
                + (f"; {self.reason}" if self.reason else "") + ".")
        if self.verdict == "too big":
            fixes = "; or ".join(self.advice) or "use a smaller model"
            if self.ignored:
                return f"{line} It will probably not fit ({fixes}); started anyway (training.ignore_memory_estimate)."
            return (f"{line} It will not fit; {fixes}; or set training.ignore_memory_estimate to start it anyway.")
        if self.verdict == "near":
            return f"{line} Close to the limit: it may run out of memory" + (
                f"; to be safe: {'; or '.join(self.advice)}." if self.advice else ".")
        return line

    def to_dict(self) -> dict[str, Any]:
        # The Chinese summary goes along: the Texts it is made of are plain strings once read back from JSON.
        return {**dataclasses.asdict(self), "ratio": round(self.ratio, 3), "summary_zh": self.summary().zh}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "Estimate":
        return cls(**{k: raw[k] for k in ESTIMATE_FIELDS if k in raw})


ESTIMATE_FIELDS = ("parts", "total", "available", "where", "verdict", "advice", "formats", "reason", "ignored")


@dataclass(frozen=True)
class Where:
    """Where and how the run trains, as the sum needs it."""

    on_gpu: bool
    formats: number_formats.Plan
    shards: int = 1             # processes that split weights, gradients and optimizer (FSDP, DeepSpeed)
    dropout: float = 0.0        # the adapters' dropout (method_args.dropout; 0: none, nothing kept for it)


def gib(n: float) -> str:
    return f"{n / GIB:.1f} GiB" if n >= 0.1 * GIB else f"{n / 1024 ** 2:.0f} MiB"


# ------------------------------------------------------------------------------------------ the shape --
@functools.lru_cache(maxsize=32)
def _shape(model: str, method: str, args_json: str, task_name: str, n_labels: int) -> Shape:
    """The model as the task builds it (its Auto class), with the method attached, on the meta device."""
    import torch
    import transformers

    task = get_task(task_name)
    peft_task_type = task.model.peft_task_type
    config = model_config(model)
    if task.has_labels:
        config.num_labels = n_labels
    auto = getattr(transformers, task.model.auto_class)
    args = json.loads(args_json)
    if methods.METHODS[method].base_bits(args):
        method = "lora"  # the same adapters; a quantized base's bytes are the formats' to count, not its shapes
    # The shapes without the memory: nothing is allocated or read. torch.device("meta") holds for this thread
    # only; accelerate's init_empty_weights patches nn.Module for every thread, so a model another request loads
    # meanwhile (the playground's, a test's) would come out on the meta device, empty.
    with torch.device("meta"):
        net = auto.from_config(config, trust_remote_code=trust_remote_code())
        net = methods.attach(net, method, args, peft_task_type, total_steps=100)
    trainable, total = methods.count_parameters(net)
    dims = _dims(config)
    return Shape(total=total, trainable=trainable, trained_layers=_trained_layers(net, dims["layers"]),
                 lm_head=peft_task_type in LM_HEADS, adapter_inputs=_adapter_inputs(net), **dims)


def _adapter_inputs(net) -> int:
    """The input widths of every module a LoRA-family adapter sits on, summed (0 for other methods)."""
    return sum(int(getattr(m, "in_features", 0) or 0) for m in net.modules() if hasattr(m, "lora_A"))


def model_config(model: str):
    """The model's transformers config without its weights: a bundled base's own (read from its package before
    it is converted or built), else from its folder or the hub."""
    import transformers

    entry = models.find_entry(model)
    path = models.resolve(model, materialize=False)
    if entry is not None and models.bundled_available(entry) and not (Path(str(path)) / "config.json").exists():
        config = models.bundled_config(entry)
        if config is not None:
            return config
    return transformers.AutoConfig.from_pretrained(str(path), trust_remote_code=trust_remote_code())


def _dims(config) -> dict[str, Any]:
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    if getattr(config, "is_encoder_decoder", False) and hasattr(config, "decoder") and not hasattr(text, "hidden_size"):
        text = config.decoder
    hidden = int(getattr(text, "hidden_size", None) or getattr(text, "d_model", None) or getattr(text, "n_embd", 0))
    heads = int(getattr(text, "num_attention_heads", None) or getattr(text, "n_head", None)
                or getattr(text, "num_heads", None) or 1)
    return {"hidden": hidden, "layers": _layer_count(config), "vocab": int(getattr(text, "vocab_size", 0) or 0),
            "heads": heads, "tied": bool(getattr(config, "tie_word_embeddings", True))}


def _layer_count(config) -> int:
    if hasattr(config, "encoder") and hasattr(config, "decoder") and not hasattr(config, "num_hidden_layers"):
        return _layer_count(config.encoder) + _layer_count(config.decoder)  # EncoderDecoderModel's two configs
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    enc = getattr(text, "num_hidden_layers", None) or getattr(text, "num_layers", None) or getattr(text, "n_layer", 0)
    dec = getattr(text, "num_decoder_layers", None) if getattr(text, "is_encoder_decoder", False) else 0
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


def parameters_from_config(model: str) -> int:
    """About how many parameters a model has, from its config's sizes alone (no weights read, no task needed): a
    transformer's 12 x layers x hidden^2 plus its embeddings."""
    dims = _dims(model_config(model))
    h, n_layers, vocab = dims["hidden"], dims["layers"], dims["vocab"]
    if not (h and n_layers):
        raise ValueError("its config names no hidden size or layer count")
    return 12 * n_layers * h * h + vocab * h * (1 if dims["tied"] else 2)


def config_shape(model: str, method: str, task_name: str) -> Shape:
    """The shape from the config's sizes alone, for an architecture the meta-device build does not know: a
    transformer's parameters are about 12 x layers x hidden^2 plus the embeddings; an adapter method trains about
    1% of them, a full one all."""
    config = model_config(model)
    dims = _dims(config)
    h, n_layers, vocab = dims["hidden"], dims["layers"], dims["vocab"]
    if not (h and n_layers):
        raise ValueError("its config names no hidden size or layer count")
    total = 12 * n_layers * h * h + vocab * h * (1 if dims["tied"] else 2)
    trainable = total if not methods.METHODS[method].peft else max(1, total // 100)
    task = get_task(task_name)
    return Shape(total=total, trainable=trainable, trained_layers=n_layers,
                 lm_head=task.model.peft_task_type in LM_HEADS, source="config", **dims)


def shape(cfg, n_labels: int = 2) -> Shape:
    cfg = cfg.resolved()
    task = get_task(cfg.task)
    try:
        got = _shape(cfg.model, cfg.method, json.dumps(cfg.method_args, sort_keys=True), task.name,
                     max(2, int(n_labels)))
    except (ImportError, OSError, KeyError, TypeError, ValueError, RuntimeError, AttributeError):
        got = config_shape(cfg.model, cfg.method, task.name)  # raises when even the config cannot be read
    gen = task.capability(GenerationInTraining)
    generated, new_tokens, reference = gen.generation(cfg) if gen is not None else (0, 0, False)
    return dataclasses.replace(got, sequences=task.model.sequences_per_row, generated=generated,
                               new_tokens=new_tokens, reference=reference)


# ------------------------------------------------------------------------------------------- the sum --
def where(cfg, device: str | None = None) -> Where:
    """How cfg trains on `device` (default: its own): GPU or not, its number formats, how many shards."""
    t = cfg.training
    device = device or resolve_device(t.device)
    cfg = cfg.resolved()
    formats = number_formats.plan(cfg.method, cfg.method_args, t.precision, device, shards_model(t), "sdpa")
    return Where(on_gpu=device.startswith("cuda"), formats=formats,
                 shards=t.num_processes if shards_model(t) else 1,
                 dropout=float(cfg.method_args.get("dropout") or 0))


def parts(s: Shape, t, w: Where) -> dict[str, int]:
    """The estimate's parts for training settings `t` (a TrainingConfig) on a model of shape `s`, per device."""
    f = w.formats
    width = 2 if f.compute in ("bf16", "fp16") else 4
    frozen = s.total - s.trainable
    embeddings = s.vocab * s.hidden * (1 if s.tied else 2)
    if f.quantized:  # bitsandbytes quantizes the linear layers; peft's prepare_model_for_kbit_training casts what
        kept = min(embeddings, frozen)  # it leaves (embeddings, an untied head) to fp32: 4 bytes, not 2
        weights = (frozen - kept) * f.base_bytes() + kept * 4
    else:
        weights = frozen * f.base_bytes()
    weights += 4 * s.trainable  # fp32: adapters, or the whole model's master weights
    # Autocast keeps its 16-bit copy of each fp32 weight that trains for the whole forward pass (frozen ones are
    # cast anew each time and dropped): a full fine-tune's masters get a second, 16-bit model beside them.
    casts = width * s.trainable if width == 2 else 0
    gradients = 4 * s.trainable
    optimizer = OPTIMIZER_BYTES.get(getattr(t, "optimizer", "adamw"), 8) * s.trainable
    shards = max(1, w.shards)
    length = (t.max_length or ASSUMED_LENGTH) + s.new_tokens
    tokens = t.batch_size * length * s.sequences
    per_layer = tokens * s.hidden * ACTIVATION_FACTOR * width
    checkpointing = getattr(t, "gradient_checkpointing", False)
    if checkpointing:
        kept_acts = tokens * s.hidden * width * s.trained_layers + (per_layer if s.trained_layers else 0)
    else:
        kept_acts = per_layer * s.trained_layers
    if w.dropout > 0 and s.adapter_inputs:
        # LoRA's dropout keeps, for backward, its dropped copy of each adapted module's input (and its mask): one
        # copy per module, though q, k and v read the same input; with checkpointing, one layer's at a time.
        copies = tokens * s.adapter_inputs * (width + 1)
        kept_acts += copies // max(s.layers, 1) if checkpointing else copies
    fused_loss = getattr(t, "liger_kernels", False) and w.on_gpu
    logits = 3 * tokens * s.vocab * 4 if s.lm_head and not fused_loss else 0
    scores = t.batch_size * s.sequences * s.heads * length ** 2 * 4 * ATTENTION_COPIES
    layers_kept = min(1, s.trained_layers) if checkpointing else s.trained_layers
    out = {"weights": int(weights) // shards, "casts": int(casts), "gradients": gradients // shards,
           "optimizer": optimizer // shards, "activations": kept_acts,
           "attention": 0 if w.on_gpu else scores * layers_kept, "logits": logits}
    if s.generated:
        # Generation runs outside backpropagation, but its cache lives while the batch is written, beside the weights.
        out["generation"] = 2 * s.layers * s.generated * length * s.hidden * width + 2 * s.generated * s.vocab * 4
        if s.reference:
            out["reference"] = int(s.total * f.base_bytes()) // shards
    out["runtime"] = GPU_RUNTIME if w.on_gpu else CPU_RUNTIME
    return out


def available(device: str, busy: bool = False) -> tuple[int, str]:
    """Bytes the run's device has for it, and what that is. A GPU's free memory; its total when `busy` (another
    studio run holds it now, and this one starts after it)."""
    share = max(1, int(os.environ.get("STUDIO_RUNS_PER_DEVICE", "1")))
    if device.startswith("cuda"):
        import torch

        # A group of GPUs (a run of several processes, one on each): each holds a copy or a shard, so the least
        # free of them is what the run has.
        got = []
        for gpu in gpus_in(device):
            index = device_index(gpu)
            free, total = torch.cuda.mem_get_info(index)
            got.append((total // share if busy else min(free, total // share), gpu, index))
        have, gpu, index = min(got)
        name = torch.cuda.get_device_properties(index).name
        if busy:
            return have, Text(f"on {gpu} ({name}, in use by another run now)",
                              f"{gpu}（{name}，目前被另一个运行占用）上的显存")
        return have, Text(f"free on {gpu} ({name})", f"{gpu}（{name}）上的空闲显存")
    import psutil

    return psutil.virtual_memory().available // share, Text("of available RAM", "可用内存")


def estimate(cfg, n_labels: int = 2, device: str | None = None, room: int | None = None,
             busy: bool = False) -> Estimate:
    """The run's peak memory against its device (room: bytes to compare with instead of the device's); verdict
    "unknown" with the reason when the model's config cannot be read."""
    device = device or resolve_device(cfg.training.device)
    try:
        s = shape(cfg, n_labels)
    except Exception as e:  # noqa: BLE001 - any failure to read the model is said, not raised: the run decides
        why = f"{type(e).__name__}: {str(e)[:160]}"
        return Estimate(parts={}, total=0, available=0, where="", verdict="unknown",
                        reason=Text(f"the model's config could not be read ({why})", f"无法读取模型的配置（{why}）"))
    w = where(cfg, device)
    got = parts(s, cfg.training, w)
    total = sum(got.values())
    try:
        have, what = (room, Text("given", "给定的空间")) if room is not None else available(device, busy)
    except (RuntimeError, AssertionError) as e:  # torch without CUDA, a GPU that does not answer: said, not raised
        why = f"{type(e).__name__}: {str(e)[:160]}"
        return Estimate(parts=got, total=total, available=0, where="", verdict="unknown", formats=w.formats.describe(),
                        reason=Text(f"the memory of {device} could not be read ({why})",
                                    f"无法读取 {device} 的内存（{why}）"))
    ratio = total / max(have, 1)
    verdict = "too big" if ratio > REFUSE_ABOVE else "near" if ratio > WARN_ABOVE else "fits"
    est = Estimate(parts=got, total=total, available=have, where=what, verdict=verdict, formats=w.formats.describe(),
                   reason=Text("counted from the config's sizes (the architecture could not be built to count it)",
                               "按配置中的尺寸计算（无法构建该架构来统计）") if s.source == "config" else "")
    if verdict != "fits":
        est.advice = advice(cfg, s, w, have)
    return est


def advice(cfg, s: Shape, w: Where, have: int) -> list[str]:
    """Changes that bring the estimate under the warning line, each with its estimate, mildest first."""
    t = cfg.training
    out = []

    def fits(**changes) -> int | None:
        total = sum(parts(s, dataclasses.replace(t, **changes), w).values())
        return total if total <= WARN_ABOVE * have else None

    batch = t.batch_size
    while batch > 1:
        batch //= 2
        accumulation = t.gradient_accumulation_steps * (t.batch_size // batch)
        got = fits(batch_size=batch, gradient_accumulation_steps=accumulation)
        if got:
            out.append(Text(f"training.batch_size {batch} with training.gradient_accumulation_steps {accumulation} "
                            f"(the same effective batch; about {gib(got)})",
                            f"training.batch_size 设为 {batch}，training.gradient_accumulation_steps 设为 "
                            f"{accumulation}（有效批大小不变；约 {gib(got)}）"))
            break
    if not getattr(t, "gradient_checkpointing", False) and (got := fits(gradient_checkpointing=True)):
        out.append(Text(f"training.gradient_checkpointing on (slower steps; about {gib(got)})",
                        f"开启 training.gradient_checkpointing（每步更慢；约 {gib(got)}）"))
    length = t.max_length or ASSUMED_LENGTH
    while length > 64:
        length //= 2
        if got := fits(max_length=length):
            out.append(Text(f"training.max_length {length} (longer texts are cut; about {gib(got)})",
                            f"training.max_length 设为 {length}（更长的文本会被截断；约 {gib(got)}）"))
            break
    for method in ("lora", "qlora") if w.on_gpu else ("lora",):
        if cfg.method == method or (method == "qlora" and methods.METHODS[cfg.method].base_bits(cfg.method_args)):
            continue
        other = dataclasses.replace(cfg, method=method, method_args={})
        total = sum(parts(shape(other), t, where(other, w.formats.device)).values())
        if total <= WARN_ABOVE * have:
            out.append(Text(f"method {method} (about {gib(total)})", f"改用 {method} 方法（约 {gib(total)}）"))
            break
    return out


def check(cfg, n_labels: int = 2, busy: bool = False, device: str | None = None) -> Estimate:
    """The estimate, or a ConfigError when the run clearly cannot fit and the config does not say to start it
    anyway (training.ignore_memory_estimate)."""
    est = estimate(cfg, n_labels, device=device, busy=busy)
    if est.verdict == "too big":
        if not cfg.training.ignore_memory_estimate:
            raise ConfigError(est.summary())
        est.ignored = True
    return est


def measured_peak(device: str) -> dict[str, Any]:
    """What this process used at its peak: torch's allocator peak on a GPU, the peak resident set on a CPU."""
    if device.startswith("cuda"):
        import torch

        # Reserved, not allocated: what the allocator held at its peak, fragmentation included.
        return {"bytes": int(torch.cuda.max_memory_reserved()), "what": "torch.cuda.max_memory_reserved"}
    import resource

    return {"bytes": int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024,
            "what": "peak RSS of the training process"}


def device_for(training, busy: frozenset[str] = frozenset()) -> str:
    """The device (or group of GPUs) a new run will most likely get: the first the queue could give it whose GPUs
    no run holds now, else the first (it waits for that one)."""
    if training.device not in ("auto", "cuda"):
        return resolve_device(training.device)
    candidates = run_devices(training.device, ranks_here(training.num_processes, training.num_machines))
    return next((d for d in candidates if not any(g in busy for g in gpus_in(d))), candidates[0])


class MemoryCheck:
    """The run feature: the estimate made before a run exists (refusing what clearly cannot fit) and kept in its
    status beside the peak measured when it completes."""

    name = "memory"

    def check(self, new) -> None:
        device = device_for(new.cfg.training, new.busy)
        busy = device.startswith("cuda") and any(gpu in new.busy for gpu in gpus_in(device))
        fit = check(new.cfg, len(new.prepared.labels) if new.prepared is not None else 2, busy=busy, device=device)
        new.status["memory"] = fit.to_dict()
        if fit.verdict == "unknown":
            import sys

            print(f"[studio] {fit.summary()}", file=sys.stderr, flush=True)

    def finished(self, run, trainer) -> dict:
        peak = measured_peak(str(trainer.args.device))
        return {"peak_memory": peak, "memory_error": _error((read_status(run.folder) or {}).get("memory"), peak)}


def _error(est: dict | None, peak: dict) -> float | None:
    """estimate / measured - 1 of this run, the figure the benchmarks report."""
    if not est or not est.get("total") or not peak.get("bytes"):
        return None
    return round(est["total"] / peak["bytes"] - 1, 3)
