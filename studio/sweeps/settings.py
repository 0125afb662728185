"""A sweep's own settings: trials, a time budget, the sampler, pruning, the seed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from studio.base.errors import ConfigError
from studio.base.settings import build, check_bounds, field_help, setting

SAMPLERS = ("tpe", "random", "grid")
MIN_BUDGET_MINUTES = 1.0


@dataclass
class SweepSettings:
    trials: int = setting(12, "Trials to run at most (each is a run).", min=1, max=500)
    timeout_minutes: float | None = setting(None, "Stop starting new trials after this many minutes (the running one "
                                       "finishes); empty: no time budget.", max=100_000.0)
    sampler: str = setting("tpe", "How Optuna picks the next settings: tpe learns from the trials so far, random draws "
                      "them, grid tries every combination of choices.", choices=SAMPLERS)
    prune: bool = setting(False, "Stop a trial early when its validation score at an evaluation (from the second on) "
                     "is behind the median of earlier trials at that evaluation (after 2 finished trials). Saves about "
                     "40% of the steps, but a trial that starts slow and ends best (more epochs, a higher learning "
                     "rate) can be cut: off unless asked (bench/RESULTS.md).")
    seed: int = setting(0, "Seed of the sampler, so the same sweep proposes the same settings.", min=0)


def field_help_settings() -> list[dict[str, Any]]:
    """Each sweep setting with its help and bounds (the CLI's and the Sweep tab's texts)."""
    return field_help(SweepSettings)


def settings_from(raw: dict[str, Any] | None) -> SweepSettings:
    """Sweep settings from a mapping, checked like a config section."""
    settings = build(SweepSettings, raw or {}, "sweep.")
    check_bounds(settings, "sweep")
    if settings.timeout_minutes is not None and settings.timeout_minutes < MIN_BUDGET_MINUTES:
        raise ConfigError(f"sweep.timeout_minutes: a budget of {settings.timeout_minutes:g} minutes cannot fit one "
                          "trial (a run needs about a minute to start, train and be evaluated); give "
                          f"{MIN_BUDGET_MINUTES:g} or more.")
    return settings
