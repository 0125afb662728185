"""Methods: full fine-tuning, frozen layers and the PEFT family, one registry of records that own what they do.

    base             Method and Setting; the helpers every method uses (target modules, heads, layer stacks)
    full             full, freeze
    lora             lora, dora, adalora
    qlora            qlora (LoRA on a 4- or 8-bit base, bitsandbytes)
    ia3              ia3
    virtual_tokens   prefix, prompt

Each Method builds its model (`attach`) and says what the rest of the studio asks of it: an adapter or the
whole model (`peft`), whether it folds into the base (`mergeable`), the virtual tokens it adds, whether its rank
moves during training. Adding a method is its record and one line in METHODS.

Imports: base.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from studio.base.errors import ConfigError
from studio.methods.base import Method, Setting, count_parameters, head_names, transformer_layers
from studio.methods.full import FREEZE, FULL
from studio.methods.ia3 import IA3
from studio.methods.lora import ADALORA, DORA, LORA
from studio.methods.qlora import QLORA
from studio.methods.virtual_tokens import PREFIX, PROMPT

if TYPE_CHECKING:
    from torch import nn

METHODS: dict[str, Method] = {m.name: m for m in (FULL, FREEZE, LORA, QLORA, DORA, ADALORA, IA3, PREFIX, PROMPT)}

__all__ = ["METHODS", "Method", "Setting", "attach", "apply", "count_parameters", "describe", "head_names",
           "moves_rank", "resolve_args", "transformer_layers"]


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
        if s.choices and v not in s.choices:
            raise ConfigError(f"method_args.{k}: {v!r} is not one of {', '.join(map(str, s.choices))}.")
        out[k] = v
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
         "settings": [{"name": s.name, "default": s.default, "help": s.help, "type": s.type.__name__,
                       "min": s.min, "max": s.max} for s in m.settings]}
        for m in METHODS.values()
    ]
