"""Soft-label distillation's loss: KL divergence on temperature-softened probabilities (x T², Hinton et al. 2015)
plus cross-entropy on the true labels, over whatever Trainer the task uses; and the collator that carries the
teacher's logits beside each batch."""

from __future__ import annotations


class Collator:
    """The task's collator, with the teacher's logits stacked beside the batch (rows without them: evaluation)."""

    def __init__(self, base):
        self.base = base

    def __call__(self, features):
        import torch

        soft = [f.pop("teacher_logits") for f in features if "teacher_logits" in f]
        batch = self.base(features)
        if soft:
            batch["teacher_logits"] = torch.tensor(soft, dtype=torch.float32)
        return batch


def trainer_class(base_cls, temperature: float, alpha: float):
    """base_cls whose loss mixes the teacher's softened probabilities (KL x T²) with the true labels' cross-entropy;
    rows without a true label (the transfer texts, -100) learn from the teacher only."""
    import torch.nn.functional as F

    class DistillTrainer(base_cls):
        def _set_signature_columns_if_needed(self):
            super()._set_signature_columns_if_needed()  # the columns the model takes: the logits must reach the loss
            if "teacher_logits" not in self._signature_columns:
                self._signature_columns.append("teacher_logits")

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            soft = inputs.pop("teacher_logits", None)
            if soft is None:  # evaluation: the plain loss on true labels
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            logits = outputs.logits.float()
            t = temperature
            kl = F.kl_div(F.log_softmax(logits / t, -1), F.softmax(soft.to(logits.device) / t, -1),
                          reduction="batchmean") * t * t
            known = labels != -100
            ce = F.cross_entropy(logits[known], labels[known]) if known.any() else logits.sum() * 0.0
            loss = alpha * kl + (1 - alpha) * ce
            return (loss, outputs) if return_outputs else loss

    DistillTrainer.__name__ = f"Distill{base_cls.__name__}"
    return DistillTrainer
