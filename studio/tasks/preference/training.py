"""trl's DPO, ORPO and KTO trainers, logging under the studio's metric names."""

from __future__ import annotations

from typing import Any

import numpy as np

from studio.tasks.base import TrainerParts

# What trl logs per evaluation, under the studio's names (a slash in a metric name would be a folder elsewhere).
RENAMED = {"rewards/accuracies": "reward_accuracy", "rewards/margins": "reward_margin",
           "rewards/chosen": "reward_chosen", "rewards/rejected": "reward_rejected"}


def rename_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """trl's rewards/... as reward_..., and a margin where the trainer logs none (KTO logs each side only)."""
    for prefix in {k.split("rewards/")[0] for k in metrics if "rewards/" in k}:
        for old, new in RENAMED.items():
            if prefix + old in metrics:
                metrics[prefix + new] = metrics.pop(prefix + old)
        chosen, rejected = metrics.get(prefix + "reward_chosen"), metrics.get(prefix + "reward_rejected")
        if prefix + "reward_margin" not in metrics and chosen is not None and rejected is not None:
            metrics[prefix + "reward_margin"] = chosen - rejected
    return metrics


def _mean(values) -> float:
    return float(np.mean([float(v) for v in values]))


def trainer_classes(loss: str) -> tuple[Any, Any]:
    """(Trainer, its arguments class) of a preference loss, the Trainer logging under the studio's names."""
    if loss == "dpo":
        from trl import DPOConfig as Args
        from trl import DPOTrainer as Base
    elif loss == "orpo":
        from trl.experimental.orpo import ORPOConfig as Args
        from trl.experimental.orpo import ORPOTrainer as Base
    else:
        from trl import KTOConfig as Args
        from trl import KTOTrainer as Base

    class PreferenceTrainer(Base):
        """trl keeps what it measures per batch and adds the averages only when it logs: the averages are taken
        here, under the studio's names, and also handed to the evaluation's result, where the Trainer looks for
        the metric that picks the best checkpoint."""

        def _stored(self, mode: str, take: bool) -> dict[str, float]:
            store = getattr(self, "_metrics", None)
            prefix = "eval_" if mode == "eval" else ""
            if not isinstance(store, dict) or mode not in store:  # ORPO: its keys carry their prefix already
                store, prefix = getattr(self, "_stored_metrics", {}), ""
            kept = store.get(mode) if hasattr(store, "get") else None
            got = {prefix + k: _mean(v) for k, v in (kept or {}).items() if len(v)}
            if take and kept:
                kept.clear()
            return rename_metrics(got)

        def log(self, logs, *args, **kwargs):
            mode = "train" if "loss" in logs else "eval"
            return super().log(rename_metrics({**logs, **self._stored(mode, take=True)}), *args, **kwargs)

        def evaluation_loop(self, *args, **kwargs):
            out = super().evaluation_loop(*args, **kwargs)
            out.metrics.update(self._stored("eval", take=False))
            return out

    return PreferenceTrainer, Args


def trainer_parts(cfg, tokenizer, labels, splits):
    t, own = cfg.training, cfg.task_args
    trainer_cls, args_cls = trainer_classes(own.preference_loss)
    # trl's rows hold no input_ids to group by length (it tokenises each answer apart); KTO estimates its KL term
    # from each row's neighbours in a fixed-order batch, so it reads the (shuffled) rows in order.
    order = "sequential" if own.preference_loss == "kto" else "random"
    args: dict[str, Any] = {"beta": own.beta, "max_length": t.max_length, "train_sampling_strategy": order,
                            "per_device_eval_batch_size": t.batch_size}  # as SFT: logits are the peak
    if own.preference_loss == "dpo":
        args["loss_type"] = [own.dpo_loss_type]
    return TrainerParts(trainer_cls=trainer_cls, args_cls=args_cls, args=args)
