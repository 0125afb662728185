"""What distillation asks of a task (Task.capabilities): one of two kinds of teaching."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class SoftLabels(Protocol):
    """One label per text: a teacher's class probabilities can teach a student."""

    def metrics_from_logits(self, logits, y) -> dict:
        """The task's test metrics of any model's logits (the teacher's, on the student's test split)."""


@runtime_checkable
class SequenceLevel(Protocol):
    """Generated answers: the teacher's answers to the training prompts become the student's targets."""

    def teacher_answers(self, train, teacher_model, teacher_tokenizer, max_new_tokens: int):
        """The training split with the teacher's answers as targets."""
