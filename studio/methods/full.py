"""Full fine-tuning and frozen lower layers: the whole model is saved, no adapter."""

from __future__ import annotations

from dataclasses import dataclass

from studio.base.settings import setting
from studio.base.text import Text
from studio.methods.base import Method, head_names, transformer_layers

TOP_MODULES = ("pooler", "norm", "final_layer_norm", "ln_f")  # between the top layer and the head


def build_full(model, args, peft_task_type, total_steps=None):
    for p in model.parameters():
        p.requires_grad = True
    return model


def build_freeze(model, args, peft_task_type, total_steps=None):
    """Only the top `trainable_layers` transformer layers, what sits above them and the head train."""
    for p in model.parameters():
        p.requires_grad = False
    layers = transformer_layers(model)
    n = args["trainable_layers"]
    if layers is not None and n > 0:
        for layer in list(layers)[-n:]:
            for p in layer.parameters():
                p.requires_grad = True
    for name in head_names(model):
        for p in getattr(model, name).parameters():
            p.requires_grad = True
    for name, mod in model.named_modules():
        if name.rsplit(".", 1)[-1] in TOP_MODULES:
            for p in mod.parameters():
                p.requires_grad = True
    return model


FULL = Method("full", "Full fine-tuning", "Every weight trains. Best quality on enough data; largest checkpoints.",
              5e-5, build_full, peft=False)
@dataclass
class FreezeSettings:
    """Freezing's setting (cfg.method_args)."""

    trainable_layers: int = setting(2, "How many of the top transformer layers train (0 trains only the head).",
                                    zh="顶部参与训练的 Transformer 层数（0 表示只训练任务头）。",
                                    min=0, max=200, label=Text("Trainable top layers", "可训练的顶层数"))


FREEZE = Method("freeze", "Freeze lower layers", "Only the top N transformer layers and the head train.", 1e-4,
                build_freeze, FreezeSettings, peft=False)
