"""Knowledge distillation: a finished run (the teacher) teaches a new run (the student).

Two kinds, as the task says (its capabilities). Sequence level (SequenceLevel: SFT): the teacher answers each
training conversation and its answers become the student's targets (Kim & Rush 2016). Soft labels (SoftLabels:
classification, a text and a label per row): the student learns from the teacher's temperature-softened class
probabilities plus the true labels, weighted by `distill.alpha`; optionally also from a transfer file of
unlabelled texts that only the teacher labels. The teacher's logits or answers are computed once, before
training, and kept in the student's folder. At the end the run scores the teacher on its own test split and
measures both models' prediction speed, so its report shows teacher and student side by side; with
`compare_alone` the same student is queued again without the teacher, to show what the teacher added.

    capability   SoftLabels, SequenceLevel: what a task gives to be distilled
    config       DistillConfig and its check against the task
    teacher      the teacher checked, its logits and answers, the comparison run's config
    loss         the KL + cross-entropy Trainer and the collator carrying the teacher's logits
    report       teacher and student side by side
    hooks        the run feature

Imports: base, methods, tasks, serve.
"""

from studio.distill.capability import SequenceLevel, SoftLabels
from studio.distill.config import DistillConfig
from studio.distill.loss import Collator, trainer_class
from studio.distill.report import report, sequence_line, sequence_report, side_by_side, speed, table_lines
from studio.distill.teacher import (
                                    alone_config,
                                    attach,
                                    prepare,
                                    record,
                                    teacher_logits,
                                    transfer_texts,
                                    with_teacher_answers,
)

__all__ = ["SequenceLevel", "SoftLabels", "DistillConfig", "Collator", "trainer_class", "report", "sequence_line",
           "sequence_report", "side_by_side", "speed", "table_lines", "alone_config", "attach", "prepare", "record",
           "teacher_logits", "transfer_texts", "with_teacher_answers"]
