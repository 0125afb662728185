"""Augmentation as a run feature (studio.training.hooks): its generator checked before a run exists, its rows
made (or read back) before the training split is tokenised."""

from __future__ import annotations

from studio.augment.rows import check_generator, for_run


class Augment:
    name = "augment"

    def check(self, new) -> None:
        check_generator(new.cfg.augment, new.task)

    def train_rows(self, run, train):
        return for_run(run.folder, run.cfg, run.task, train, run.model_path, run.main)
