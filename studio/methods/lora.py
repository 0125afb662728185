"""The LoRA family: low-rank adapters beside the weights (LoRA, DoRA's learned magnitudes, AdaLoRA's moving rank).

With target_modules "all-linear" the adapters leave the task's head out: the head trains whole (peft's
modules_to_save), and an adapter inside it would break that for every head peft does not know to skip.
"""

from __future__ import annotations

from studio.base.errors import ConfigError
from studio.methods.base import Method, Setting, head_names, target_modules

_LORA = (
    Setting("r", 16, "Rank of the low-rank update; higher learns more and costs more.", int, 1, 512),
    Setting("alpha", 32, "Scale of the update (effective scale alpha / r).", int, 1, 1024),
    Setting("dropout", 0.05, "Dropout on the adapter's input.", float, 0.0, 0.9),
    Setting("target_modules", "all-linear", "Layers that get adapters: 'all-linear' or comma-separated module names "
            "(e.g. query,value).", str),
)
_ADALORA = (
    Setting("init_r", 12, "Starting rank of each adapter.", int, 1, 512),
    Setting("target_r", 8, "Average rank after pruning.", int, 1, 512),
    Setting("alpha", 32, "Scale of the update.", int, 1, 1024),
    Setting("dropout", 0.05, "Dropout on the adapter's input.", float, 0.0, 0.9),
    Setting("target_modules", "all-linear", "Layers that get adapters: 'all-linear' or comma-separated module names.",
            str),
)


def _targets(model, args, peft_task_type) -> dict:
    targets = target_modules(args["target_modules"])
    out = {"task_type": peft_task_type, "target_modules": targets}
    if targets == "all-linear" and head_names(model):
        out["exclude_modules"] = head_names(model)
    return out


def build_lora(model, args, peft_task_type, total_steps=None, dora: bool = False):
    import peft

    cfg = peft.LoraConfig(r=args["r"], lora_alpha=args["alpha"], lora_dropout=args["dropout"], use_dora=dora,
                          **_targets(model, args, peft_task_type))
    return peft.get_peft_model(model, cfg)


def build_dora(model, args, peft_task_type, total_steps=None):
    return build_lora(model, args, peft_task_type, total_steps, dora=True)


def build_adalora(model, args, peft_task_type, total_steps=None):
    """AdaLoRA's schedule (warm-up, pruning, final steps) is set from the run's length."""
    import peft

    steps = max(int(total_steps or 100), 10)
    cfg = peft.AdaLoraConfig(init_r=args["init_r"], target_r=args["target_r"], lora_alpha=args["alpha"],
                             lora_dropout=args["dropout"], total_step=steps, tinit=max(1, steps // 10),
                             tfinal=max(1, steps // 5), deltaT=max(1, steps // 20),
                             **_targets(model, args, peft_task_type))
    return peft.get_peft_model(model, cfg)


def check_adalora(args: dict) -> None:
    if args["target_r"] > args["init_r"]:
        raise ConfigError("method_args.target_r must not exceed method_args.init_r.")


LORA = Method("lora", "LoRA", "Low-rank adapters beside the weights; small, fast, close to full quality.", 5e-4,
              build_lora, _LORA)
DORA = Method("dora", "DoRA", "LoRA with a learned magnitude per weight (weight-decomposed); often a little better "
              "than LoRA, slower.", 5e-4, build_dora, _LORA)
ADALORA = Method("adalora", "AdaLoRA", "LoRA whose rank budget moves to the layers that need it during training.",
                 1e-3, build_adalora, _ADALORA, rank_allocation=True, check=check_adalora)
