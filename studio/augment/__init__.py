"""Augmentation: new training rows made from the training split (never validation or test), seeded.

    capability   Augmentation: what a task gives for its data to be augmented (operations, how to make a row)
    config       AugmentConfig, the run config's augment section, and its check against the task
    rows         planning, making, saving and reading back a run's new rows; previews
    hooks        the run feature: checked before a run exists, rows made before tokenising

Imports: base, models, tasks.
"""

from studio.augment.capability import Augmentation
from studio.augment.config import GENERATING, AugmentConfig, operations
from studio.augment.rows import (
                                 check_generator,
                                 counts,
                                 describe,
                                 for_run,
                                 make_rows,
                                 plan,
                                 preview,
                                 saved_rows,
                                 with_saved_rows,
)

__all__ = ["Augmentation", "GENERATING", "AugmentConfig", "operations", "check_generator", "counts", "describe",
           "for_run", "make_rows", "plan", "preview", "saved_rows", "with_saved_rows"]
