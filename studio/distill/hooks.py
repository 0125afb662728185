"""Distillation as a run feature (studio.training.hooks).

Before the student's run exists its teacher is checked and recorded (RunFolder.distill), and afterwards the
labels-only comparison run is queued behind it (a QueueRun, which the store creates). While it trains: sequence
level (SequenceLevel) puts the teacher's answers in place of the targets; soft labels (SoftLabels) put the
teacher's logits beside every training row and mix them into the loss. Its report puts teacher and student side
by side.
"""

from __future__ import annotations

import dataclasses

from studio.base.runfolder import QueueRun, RunFolder
from studio.distill.capability import SoftLabels
from studio.distill.loss import Collator, trainer_class
from studio.distill.report import report as teacher_report
from studio.distill.report import sequence_report
from studio.distill.teacher import alone_config, attach, prepare, with_teacher_answers


class Distill:
    name = "distill"

    # ------------------------------------------------------------------------ before and after creation
    def check(self, new) -> None:
        if new.cfg.distill.teacher and new.prepared is not None:
            new.files[RunFolder.distill.name] = prepare(new.run_dir, new.cfg, new.prepared)

    def created(self, new, run_id: str) -> QueueRun | None:
        """The comparison: the same student on the labels alone, queued behind it; each names the other."""
        if RunFolder.distill.name not in new.files or not new.cfg.distill.compare_alone:
            return None
        return QueueRun(alone_config(new.cfg), named_in=RunFolder.distill, key="alone")

    # ------------------------------------------------------------------------------------ training
    @staticmethod
    def _soft(run) -> bool:
        return bool(run.cfg.distill.teacher) and run.task.capability(SoftLabels) is not None

    def train_rows(self, run, train):
        if run.cfg.distill.teacher and not self._soft(run):  # sequence level: the teacher's answers are the targets
            return with_teacher_answers(run.folder, run.cfg, run.task, train, run.main)
        return train

    def datasets(self, run, ds):
        if self._soft(run):  # every training row carries the teacher's logits (and the transfer texts join)
            ds["train"] = attach(run.folder, run.cfg, run.task, ds, run.splits, run.labels, run.tokenizer, run.main)
        return ds

    def trainer(self, run, parts, collator):
        if not self._soft(run):
            return parts, collator
        from transformers import Trainer

        cls = trainer_class(parts.trainer_cls or Trainer, run.cfg.distill.temperature, run.cfg.distill.alpha)
        return dataclasses.replace(parts, trainer_cls=cls), Collator(collator)

    def report(self, run, trainer, report) -> None:
        if self._soft(run):
            report["distillation"] = teacher_report(run.folder, run.cfg, trainer.model, run.tokenizer,
                                                    run.splits["test"], run.labels, report["metrics"])
        elif run.cfg.distill.teacher:
            report["distillation"] = sequence_report(run.folder, trainer.model)
