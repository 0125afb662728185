"""The features every run has, in the order their hooks are called (studio.training.hooks names the points).

Adding a feature is its object (with the hook methods it needs) and one line here.
"""

from __future__ import annotations

from studio.augment.hooks import Augment
from studio.distill.hooks import Distill
from studio.judge.hooks import Judge
from studio.training.base_scores import BaseScores
from studio.training.cpu_share import CpuShare
from studio.training.memory import MemoryCheck
from studio.training.trial_pruning import TrialPruning
from studio.training.wall_clock import WallClock

FEATURES = (
    Augment(),       # new training rows, before tokenising (its generator checked before a run exists)
    Distill(),       # a teacher checked, its answers or logits, the loss, the side-by-side report
    Judge(),         # a classifier run checked, loaded beside the model, scoring replies as a reward
    MemoryCheck(),   # before a run exists: will it fit? when it completes: its measured peak
    BaseScores(),    # the untrained base scored before the first step, beside the tuned model in the report
    TrialPruning(),  # a sweep's trial reports to Optuna, which may prune it
    CpuShare(),      # runs on one CPU share its cores
    WallClock(),     # the server's limit on how long a run trains at a stretch
)
