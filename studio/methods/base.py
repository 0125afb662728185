"""What every method is: its settings (with defaults, help and bounds), the learning rate it trains well with,
the function that turns a freshly loaded model into the model to train, and the facts the rest of the studio
asks of it (an adapter or the whole model, whether it folds into the base, how many virtual tokens it adds).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from studio.base.settings import NoSettings, field_help

if TYPE_CHECKING:  # torch loads lazily: config checks and the CLI's listings never need it
    from torch import nn

HEAD_NAMES = ("classifier", "score", "lm_head", "qa_outputs")  # the task heads transformers' models name


@dataclass(frozen=True)
class Method:
    """One method and what it owns. `build(model, args, peft_task_type, total_steps)` returns the model to train
    (the task's head always trains); args are the resolved settings: its `settings` dataclass (setting() fields,
    as every config section and task has) as a dict, a run's cfg.method_args."""

    name: str
    title: str
    summary: str
    learning_rate: float
    build: Callable[..., Any]
    settings: type = NoSettings
    peft: bool = True                  # an adapter saved beside the base (False: the whole model is saved)
    mergeable: bool = True             # folds into the base's weights (virtual tokens do not)
    virtual_tokens_setting: str | None = None  # the setting that prepends this many learned tokens to each sequence
    rank_allocation: bool = False      # moves rank between layers during training (AdaLoRA: a callback calls it)
    check: Callable[[dict], None] | None = None  # how settings go together: a ConfigError names the one to fix
    quantized_bits: str | None = None  # the setting that says in how many bits the frozen base loads (QLoRA)
    machine_check: Callable[[str], None] | None = None  # what the server must offer (given the run's device)

    def defaults(self) -> dict[str, Any]:
        return dataclasses.asdict(self.settings())

    def fields(self) -> list[dict[str, Any]]:
        """Its settings with their help, bounds and labels (base.settings.field_help): forms, the CLI, sweeps."""
        return field_help(self.settings)

    def base_bits(self, args: dict[str, Any]) -> int | None:
        """Bits per weight of the quantized base (4 or 8), None for a base in a float format."""
        return int(args[self.quantized_bits]) if self.quantized_bits else None

    def virtual_tokens(self, args: dict[str, Any]) -> int:
        """Learned tokens put before every sequence (prefix and prompt tuning), 0 for the others."""
        return int(args.get(self.virtual_tokens_setting, 0)) if self.virtual_tokens_setting else 0


def target_modules(spec: str):
    """'all-linear', a list of module names, or None (peft's default for the architecture)."""
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


def head_names(model: nn.Module) -> list[str]:
    """The task head modules of a model (its classifier, score, LM head or span head)."""
    from torch import nn

    return [attr for attr in HEAD_NAMES if isinstance(getattr(model, attr, None), nn.Module)]


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = total = 0
    for p in model.parameters():
        n = p.numel()
        total += n
        if p.requires_grad:
            trainable += n
    return trainable, total
