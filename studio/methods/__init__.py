"""Adaptation methods in one registry: full, freeze and the PEFT family.

Each method is a small record: its settings with defaults and help, the
learning rate it trains well with, and a function that turns a freshly
loaded model into the model to train. The task's head (classifier / score)
always trains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from studio.base.errors import ConfigError

if TYPE_CHECKING:  # torch loads lazily: config checks and the CLI's listings never need it
    from torch import nn


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    type: type = int
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None


@dataclass(frozen=True)
class Method:
    name: str
    title: str
    summary: str
    learning_rate: float
    settings: tuple[Setting, ...] = field(default_factory=tuple)
    peft: bool = True

    def defaults(self) -> dict[str, Any]:
        return {s.name: s.default for s in self.settings}


_LORA = (
    Setting("r", 16, "Rank of the low-rank update; higher learns more and costs more.", int, 1, 512),
    Setting("alpha", 32, "Scale of the update (effective scale alpha / r).", int, 1, 1024),
    Setting("dropout", 0.05, "Dropout on the adapter's input.", float, 0.0, 0.9),
    Setting("target_modules", "all-linear", "Layers that get adapters: 'all-linear' or comma-separated module names (e.g. query,value).", str),
)

METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("full", "Full fine-tuning", "Every weight trains. Best quality on enough data; largest checkpoints.", 5e-5, peft=False),
        Method("freeze", "Freeze lower layers", "Only the top N transformer layers and the head train.", 1e-4,
               (Setting("trainable_layers", 2, "How many of the top transformer layers train (0 trains only the head).", int, 0, 200),),
               peft=False),
        Method("lora", "LoRA", "Low-rank adapters beside the weights; small, fast, close to full quality.", 5e-4, _LORA),
        Method("dora", "DoRA", "LoRA with a learned magnitude per weight (weight-decomposed); often a little better than LoRA, slower.", 5e-4, _LORA),
        Method("adalora", "AdaLoRA", "LoRA whose rank budget moves to the layers that need it during training.", 1e-3, (
            Setting("init_r", 12, "Starting rank of each adapter.", int, 1, 512),
            Setting("target_r", 8, "Average rank after pruning.", int, 1, 512),
            Setting("alpha", 32, "Scale of the update.", int, 1, 1024),
            Setting("dropout", 0.05, "Dropout on the adapter's input.", float, 0.0, 0.9),
            Setting("target_modules", "all-linear", "Layers that get adapters: 'all-linear' or comma-separated module names.", str),
        )),
        Method("ia3", "IA3", "Learned rescaling vectors on keys, values and feed-forward activations; the fewest trainable weights.", 5e-3, (
            Setting("target_modules", "", "Comma-separated modules to rescale; empty takes peft's default for the architecture.", str),
            Setting("feedforward_modules", "", "Which of target_modules are feed-forward layers; empty takes peft's default.", str),
        )),
        Method("prefix", "Prefix tuning", "Trainable key/value vectors prepended in every attention layer.", 1e-2, (
            Setting("num_virtual_tokens", 20, "Length of the learned prefix.", int, 1, 512),
        )),
        Method("prompt", "Prompt tuning", "Trainable soft-prompt embeddings prepended to the input.", 3e-2, (
            Setting("num_virtual_tokens", 20, "Length of the learned soft prompt.", int, 1, 512),
        )),
    )
}


def resolve_args(method: str, args: dict | None) -> dict[str, Any]:
    """Merge user settings over the method's defaults, checking names, types and bounds."""
    m = METHODS[method]
    args = dict(args or {})
    known = {s.name: s for s in m.settings}
    for k in args:
        if k not in known:
            hint = f"known ones are {', '.join(known)}" if known else "it takes none"
            raise ConfigError(f"method_args.{k}: not a setting of {method}; {hint}.")
    out = m.defaults()
    for k, v in args.items():
        s = known[k]
        try:
            if s.type is int and (isinstance(v, bool) or (isinstance(v, float) and not v.is_integer())):
                raise ValueError
            v = s.type(v) if v is not None else s.default
        except (TypeError, ValueError):
            raise ConfigError(f"method_args.{k}: expected {s.type.__name__}, got {v!r}.") from None
        if s.min is not None and v < s.min:
            raise ConfigError(f"method_args.{k}: {v} is below the minimum {s.min}.")
        if s.max is not None and v > s.max:
            raise ConfigError(f"method_args.{k}: {v} is above the maximum {s.max}.")
        out[k] = v
    if method == "adalora" and out["target_r"] > out["init_r"]:
        raise ConfigError("method_args.target_r must not exceed method_args.init_r.")
    return out


def _modules(spec: str):
    spec = (spec or "").strip()
    if not spec:
        return None
    if spec == "all-linear":
        return "all-linear"
    return [s.strip() for s in spec.split(",") if s.strip()]


def transformer_layers(model: nn.Module) -> nn.ModuleList | None:
    """The stack of transformer blocks: the ModuleList holding the most weights. In an encoder-decoder that is
    the decoder's stack (its blocks add cross-attention), and never a block's own short list of sublayers (T5)."""
    from torch import nn

    best, best_size = None, -1
    for _, mod in model.named_modules():
        if isinstance(mod, nn.ModuleList):
            size = sum(p.numel() for p in mod.parameters())
            if size > best_size:
                best, best_size = mod, size
    return best


def _head_names(model: nn.Module) -> list[str]:
    from torch import nn

    names = []
    for attr in ("classifier", "score", "lm_head", "qa_outputs"):
        if isinstance(getattr(model, attr, None), nn.Module):
            names.append(attr)
    return names


def apply(model: nn.Module, method: str, args: dict, peft_task_type: str, total_steps: int | None = None) -> nn.Module:
    """Return the model to train with `method` applied (the head always trainable); args are checked and
    completed with the method's defaults."""
    return attach(model, method, resolve_args(method, args), peft_task_type, total_steps)


def attach(model: nn.Module, method: str, args: dict, peft_task_type: str, total_steps: int | None = None) -> nn.Module:
    """`apply` for settings resolved already (resolve_args): what a run's recorded config holds."""
    if method == "full":
        for p in model.parameters():
            p.requires_grad = True
        return model
    if method == "freeze":
        for p in model.parameters():
            p.requires_grad = False
        layers = transformer_layers(model)
        n = args["trainable_layers"]
        if layers is not None and n > 0:
            for layer in list(layers)[-n:]:
                for p in layer.parameters():
                    p.requires_grad = True
        for name in _head_names(model):
            for p in getattr(model, name).parameters():
                p.requires_grad = True
        # Poolers and final norms sit between the top layer and the head.
        for name, mod in model.named_modules():
            leaf = name.rsplit(".", 1)[-1]
            if leaf in ("pooler", "norm", "final_layer_norm", "ln_f"):
                for p in mod.parameters():
                    p.requires_grad = True
        return model

    import peft

    common = {"task_type": peft_task_type}
    if method in ("lora", "dora", "adalora") and peft_task_type == "TOKEN_CLS" and _modules(args["target_modules"]) == "all-linear":
        # peft keeps only a SEQ_CLS head out of "all-linear"; an adapter inside the token head breaks modules_to_save.
        common["exclude_modules"] = _head_names(model)
    if method in ("lora", "dora"):
        cfg = peft.LoraConfig(r=args["r"], lora_alpha=args["alpha"], lora_dropout=args["dropout"],
                              target_modules=_modules(args["target_modules"]), use_dora=method == "dora", **common)
    elif method == "adalora":
        steps = max(int(total_steps or 100), 10)
        cfg = peft.AdaLoraConfig(init_r=args["init_r"], target_r=args["target_r"], lora_alpha=args["alpha"],
                                 lora_dropout=args["dropout"], target_modules=_modules(args["target_modules"]),
                                 total_step=steps, tinit=max(1, steps // 10), tfinal=max(1, steps // 5),
                                 deltaT=max(1, steps // 20), **common)
    elif method == "ia3":
        tm = _modules(args["target_modules"])
        ff = _modules(args["feedforward_modules"])
        if tm is None and ff is None:
            tm, ff = _ia3_defaults(model)
        cfg = peft.IA3Config(target_modules=tm, feedforward_modules=ff, **common)
    elif method == "prefix":
        cfg = peft.PrefixTuningConfig(num_virtual_tokens=args["num_virtual_tokens"], **common)
    elif method == "prompt":
        cfg = peft.PromptTuningConfig(num_virtual_tokens=args["num_virtual_tokens"], **common)
    else:  # pragma: no cover - guarded by resolve_args
        raise KeyError(method)
    model = peft.get_peft_model(model, cfg)
    return model


def check_supported(model: nn.Module, method: str) -> None:
    """Refuse, in one sentence, a method the adapted model cannot run, before its first step would fail.

    Prefix tuning feeds its virtual tokens as past_key_values: peft checks for that argument on the
    backbone's forward only when the model runs (transformers 5.24 renamed it on BERT-like encoders)."""
    import inspect

    name = getattr(model, "transformer_backbone_name", None) if method == "prefix" else None
    if not name:
        return
    try:
        params = inspect.signature(model.base_model.get_submodule(name).forward).parameters
    except (AttributeError, TypeError, ValueError):
        return
    if "past_key_values" not in params:
        import transformers

        arch = type(model.base_model.get_submodule(name)).__name__
        raise ConfigError(f"Prefix tuning cannot run on {arch} with transformers {transformers.__version__}: its "
                          "forward takes no past_key_values, where prefix tuning puts its virtual tokens. Use "
                          "prompt tuning or LoRA, or transformers below 5.24 for prefix tuning on this model.")


def _ia3_defaults(model: nn.Module) -> tuple[list[str] | None, list[str] | None]:
    """peft knows IA3's modules per architecture but not for a generic EncoderDecoderModel: use its decoder's
    (for BERT2BERT that is BERT's key, value and output.dense). None leaves the choice to peft."""
    from peft.utils import (TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING as FEEDFORWARD,
                            TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING as TARGETS)

    config = getattr(model, "config", None)
    decoder_type = getattr(getattr(config, "decoder", None), "model_type", None)
    if getattr(config, "model_type", None) != "encoder-decoder" or decoder_type not in TARGETS:
        return None, None
    return list(TARGETS[decoder_type]), list(FEEDFORWARD.get(decoder_type, []))


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = total = 0
    for p in model.parameters():
        n = p.numel()
        total += n
        if p.requires_grad:
            trainable += n
    return trainable, total


def describe() -> list[dict[str, Any]]:
    """The registry as plain data (for `studio methods`, docs and the UI)."""
    return [
        {"name": m.name, "title": m.title, "summary": m.summary, "learning_rate": m.learning_rate,
         "settings": [{"name": s.name, "default": s.default, "help": s.help, "type": s.type.__name__,
                       "min": s.min, "max": s.max} for s in m.settings]}
        for m in METHODS.values()
    ]


def is_adalora(model: nn.Module) -> bool:
    cfg = getattr(model, "peft_config", None)
    if not cfg:
        return False
    return any(type(c).__name__ == "AdaLoraConfig" for c in cfg.values())

