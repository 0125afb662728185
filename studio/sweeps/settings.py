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
    trials: int = setting(12, "Trials to run at most (each is a run).",
                          zh="最多运行的试验数（每次试验都是一个运行）。", min=1, max=500)
    timeout_minutes: float | None = setting(None, "Stop starting new trials after this many minutes (the running one "
                                       "finishes); empty: no time budget.",
                                            zh="超过这么多分钟后不再开始新的试验（正在运行的会跑完）；"
                                               "留空：不限时间。", max=100_000.0)
    sampler: str = setting("tpe", "How Optuna picks the next settings: tpe learns from the trials so far, random draws "
                      "them, grid tries every combination of choices.",
                           zh="Optuna 如何选择下一组设置：tpe 从已有试验中学习，random 随机抽取，grid 尝试所有选项的每"
                              "种组合。", choices=SAMPLERS)
    prune: bool = setting(False, "Stop a trial early when its validation score at an evaluation (from the second on) "
                     "is behind the median of earlier trials at that evaluation (after 2 finished trials). Saves about "
                     "40% of the steps, but a trial that starts slow and ends best (more epochs, a higher learning "
                     "rate) can be cut: off unless asked (bench/RESULTS.md).",
                          zh="某次评估（从第二次起）的验证分数落后于之前试验在同一次评估的中位数时（已有 2 个试验完成后"
                             "），提前停止该试验。约可节省 40% 的步数，但起步慢、最后最好的试验（更多轮数、更高学习率）"
                             "可能被剪掉：除非明确要求，否则关闭（见 bench/RESULTS.md）。")
    seed: int = setting(0, "Seed of the sampler, so the same sweep proposes the same settings.",
                        zh="采样器的随机种子，同一次搜索会提出同样的设置。", min=0)


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
