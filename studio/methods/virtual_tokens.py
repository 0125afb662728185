"""Prefix and prompt tuning: learned virtual tokens before every sequence, nothing to fold into the weights.

Prefix tuning feeds its virtual tokens as past_key_values; peft checks for that argument on the backbone's
forward only when the model runs (transformers 5.24 renamed it on BERT-like encoders), so `check_runs` refuses
a model that cannot take it before the first step fails.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from studio.base.errors import ConfigError
from studio.base.settings import setting
from studio.base.text import Text
from studio.methods.base import Method


def build_prefix(model, args, peft_task_type, total_steps=None):
    import peft

    model = peft.get_peft_model(model, peft.PrefixTuningConfig(num_virtual_tokens=args["num_virtual_tokens"],
                                                               task_type=peft_task_type))
    check_runs(model)
    return model


def build_prompt(model, args, peft_task_type, total_steps=None):
    import peft

    return peft.get_peft_model(model, peft.PromptTuningConfig(num_virtual_tokens=args["num_virtual_tokens"],
                                                              task_type=peft_task_type))


def check_runs(model) -> None:
    """Refuse, in one sentence, a backbone whose forward takes no past_key_values."""
    name = getattr(model, "transformer_backbone_name", None)
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


VIRTUAL_TOKENS = Text("Virtual tokens", "虚拟词元数")


@dataclass
class PrefixSettings:
    """Prefix tuning's setting (cfg.method_args)."""

    num_virtual_tokens: int = setting(20, "Length of the learned prefix.",
                                      zh="学习的前缀长度。", min=1, max=512, label=VIRTUAL_TOKENS)


@dataclass
class PromptSettings:
    """Prompt tuning's setting (cfg.method_args)."""

    num_virtual_tokens: int = setting(20, "Length of the learned soft prompt.",
                                      zh="学习的软提示长度。", min=1, max=512, label=VIRTUAL_TOKENS)


PREFIX = Method("prefix", "Prefix tuning", "Trainable key/value vectors prepended in every attention layer.", 1e-2,
                build_prefix, PrefixSettings,
                mergeable=False, virtual_tokens_setting="num_virtual_tokens")
PROMPT = Method("prompt", "Prompt tuning", "Trainable soft-prompt embeddings prepended to the input.", 3e-2,
                build_prompt, PromptSettings,
                mergeable=False, virtual_tokens_setting="num_virtual_tokens")
