"""IA3: learned rescaling vectors on keys, values and feed-forward activations."""

from __future__ import annotations

from dataclasses import dataclass

from studio.base.settings import setting
from studio.base.text import Text
from studio.methods.base import Method, target_modules


def build_ia3(model, args, peft_task_type, total_steps=None):
    import peft

    tm, ff = target_modules(args["target_modules"]), target_modules(args["feedforward_modules"])
    if tm is None and ff is None:
        tm, ff = decoder_defaults(model)
    return peft.get_peft_model(model, peft.IA3Config(target_modules=tm, feedforward_modules=ff,
                                                     task_type=peft_task_type))


def decoder_defaults(model) -> tuple[list[str] | None, list[str] | None]:
    """peft knows IA3's modules per architecture but not for a generic EncoderDecoderModel: use its decoder's
    (for BERT2BERT that is BERT's key, value and output.dense). None leaves the choice to peft."""
    from peft.utils import TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING as FEEDFORWARD
    from peft.utils import TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING as TARGETS

    config = getattr(model, "config", None)
    decoder_type = getattr(getattr(config, "decoder", None), "model_type", None)
    if getattr(config, "model_type", None) != "encoder-decoder" or decoder_type not in TARGETS:
        return None, None
    return list(TARGETS[decoder_type]), list(FEEDFORWARD.get(decoder_type, []))


@dataclass
class IA3Settings:
    """IA3's settings (cfg.method_args)."""

    target_modules: str = setting("", "Comma-separated modules to rescale; empty takes peft's default for the "
                                  "architecture.",
                                  zh="要重新缩放的模块，"
                                     "用逗号分隔；"
                                     "留空则使用 peft 对该架构"
                                     "的默认值。", joined=True, label=Text("Target modules", "目标模块"))
    feedforward_modules: str = setting("", "Which of target_modules are feed-forward layers; empty takes peft's "
                                       "default.",
                                       zh="target_modules"
                                          " 中哪些是前馈"
                                          "层；"
                                          "留空则使用"
                                          " pef"
                                          "t 的默认值。", joined=True, label=Text("Feed-forward modules", "前馈模块"))


IA3 = Method("ia3", "IA3", "Learned rescaling vectors on keys, values and feed-forward activations; the fewest "
             "trainable weights.", 5e-3, build_ia3, IA3Settings)
