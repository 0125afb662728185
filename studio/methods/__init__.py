"""Methods: full fine-tuning, frozen layers and the PEFT family, one registry of records that own what they do.

    base             Method; the helpers every method uses (target modules, heads, layer stacks)
    full             full, freeze
    lora             lora, dora, adalora
    qlora            qlora (LoRA on a 4- or 8-bit base, bitsandbytes)
    ia3              ia3
    virtual_tokens   prefix, prompt

Each Method builds its model (`attach`) and says what the rest of the studio asks of it: an adapter or the
whole model (`peft`), whether it folds into the base (`mergeable`), the virtual tokens it adds, whether its rank
moves during training. Its settings are a dataclass of setting() fields, as every config section's and task's
are (studio.base.settings: one mechanism for help, bounds, labels and checks). Adding a method is its record and one
line in METHODS.

Imports: base.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from studio.base.errors import ConfigError
from studio.base.settings import build, check_bounds
from studio.methods.base import Method, count_parameters, head_names, transformer_layers
from studio.methods.full import FREEZE, FULL
from studio.methods.ia3 import IA3
from studio.methods.lora import ADALORA, DORA, LORA
from studio.methods.qlora import QLORA
from studio.methods.virtual_tokens import PREFIX, PROMPT

if TYPE_CHECKING:
    from torch import nn

METHODS: dict[str, Method] = {m.name: m for m in (FULL, FREEZE, LORA, QLORA, DORA, ADALORA, IA3, PREFIX, PROMPT)}

__all__ = ["METHODS", "Method", "attach", "apply", "count_parameters", "describe", "head_names",
           "moves_rank", "resolve_args", "transformer_layers"]


def resolve_args(method: str, args: dict | None) -> dict[str, Any]:
    """The user's settings over the method's defaults (a None value keeps the default), read and checked as every
    settings dataclass is (studio.base.settings.build, check_bounds)."""
    m = METHODS[method]
    given = {k: v for k, v in (args or {}).items() if v is not None}
    names = [f.name for f in dataclasses.fields(m.settings)]
    for k in given:
        if k not in names:  # said with the method's name: the same setting may belong to another method
            hint = f"known ones are {', '.join(names)}" if names else "it takes none"
            raise ConfigError(f"method_args.{k}: not a setting of {method}; {hint}.")
    obj = build(m.settings, given, "method_args.")
    check_bounds(obj, "method_args")
    out = dataclasses.asdict(obj)
    if m.check is not None:
        m.check(out)
    return out


def attach(model: nn.Module, method: str, args: dict, peft_task_type: str, total_steps: int | None = None) -> nn.Module:
    """The model to train with `method` (settings resolved already: what a run's recorded config holds)."""
    return METHODS[method].build(model, args, peft_task_type, total_steps)


def apply(model: nn.Module, method: str, args: dict, peft_task_type: str, total_steps: int | None = None) -> nn.Module:
    """`attach` for settings a user gave: checked and completed with the method's defaults first."""
    return attach(model, method, resolve_args(method, args), peft_task_type, total_steps)


def moves_rank(model: nn.Module) -> bool:
    """The model's adapter moves rank between layers during training (AdaLoRA)."""
    configs = (getattr(model, "peft_config", None) or {}).values()
    kinds = {str(getattr(c.peft_type, "value", c.peft_type)).lower() for c in configs if hasattr(c, "peft_type")}
    return any(m.rank_allocation for name, m in METHODS.items() if name in kinds)


def describe() -> list[dict[str, Any]]:
    """The registry as plain data (for `studio methods`, docs and the UI)."""
    return [
        {"name": m.name, "title": m.title, "summary": m.summary, "learning_rate": m.learning_rate,
         "peft": m.peft, "mergeable": m.mergeable, "quantized": m.quantized_bits is not None,
         "settings": [{"name": f["name"], "default": f["default"], "help": f["help"], "type": f["type"].__name__,
                       "min": f.get("min"), "max": f.get("max"), "choices": f.get("choices")} for f in m.fields()]}
        for m in METHODS.values()
    ]
