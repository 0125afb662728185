"""The LoRA family: low-rank adapters beside the weights (LoRA, DoRA's learned magnitudes, AdaLoRA's moving rank).

With target_modules "all-linear" the adapters leave the task's head out: the head trains whole (peft's
modules_to_save), and an adapter inside it would break that for every head peft does not know to skip.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.base.errors import ConfigError
from studio.base.settings import setting
from studio.base.text import Text
from studio.methods.base import Method, head_names, target_modules

ALPHA = Text("Alpha", "Alpha 缩放")
DROPOUT = Text("Dropout", "Dropout")
TARGETS = Text("Target modules", "目标模块")


@dataclass
class LoraSettings:
    """LoRA's and DoRA's settings (cfg.method_args)."""

    r: int = setting(16, "Rank of the low-rank update; higher learns more and costs more.",
                     zh="低秩更新的秩；越高学得越多，代价也越大。", min=1, max=512,
                     label=Text("Rank r", "秩 r"))
    alpha: int = setting(32, "Scale of the update (effective scale alpha / r).",
                         zh="更新的缩放（实际缩放为 alpha / r）。", min=1, max=1024, label=ALPHA)
    dropout: float = setting(0.05, "Dropout on the adapter's input.",
                             zh="适配器输入上的 dropout。", min=0.0, max=0.9, label=DROPOUT)
    target_modules: str = setting("all-linear", "Layers that get adapters: 'all-linear' or comma-separated module "
                                  "names (e.g. query,value).",
                                  zh="加适配器的层：'all-linear' 或逗号分隔的模块名（例如 "
                                     "query,value）。", joined=True, label=TARGETS)


@dataclass
class AdaLoraSettings:
    """AdaLoRA's settings (cfg.method_args)."""

    init_r: int = setting(12, "Starting rank of each adapter.",
                          zh="每个适配器的初始秩。", min=1, max=512, label=Text("Initial rank", "初始秩"))
    target_r: int = setting(8, "Average rank after pruning.",
                            zh="剪枝后的平均秩。", min=1, max=512, label=Text("Target rank", "目标秩"))
    alpha: int = setting(32, "Scale of the update.", zh="更新的缩放。", min=1, max=1024, label=ALPHA)
    dropout: float = setting(0.05, "Dropout on the adapter's input.",
                             zh="适配器输入上的 dropout。", min=0.0, max=0.9, label=DROPOUT)
    target_modules: str = setting("all-linear", "Layers that get adapters: 'all-linear' or comma-separated module "
                                  "names.",
                                  zh="加适配器的层：'all-linear' 或逗号分隔的模块名。", joined=True, label=TARGETS)


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
              build_lora, LoraSettings)
DORA = Method("dora", "DoRA", "LoRA with a learned magnitude per weight (weight-decomposed); often a little better "
              "than LoRA, slower.", 5e-4, build_dora, LoraSettings)
ADALORA = Method("adalora", "AdaLoRA", "LoRA whose rank budget moves to the layers that need it during training.",
                 1e-3, build_adalora, AdaLoraSettings, rank_allocation=True, check=check_adalora)
