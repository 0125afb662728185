"""training.max_length from the data: enough tokens for most records, within what the model and the memory allow.

A run whose training.max_length is empty gets one when it is created (studio.runs.store.Store.create): the 95th
percentile of its training records' token lengths as training builds them (each task's `count_tokens`: a
conversation whole, a preference record's prompt with its longer answer), rounded up to a multiple of STEP; at
most the model's position limit, the person's limit (limits.max_length) and the longest the memory estimate says
fits the device. The choice and why are in the run's status (`max_length_picked`) and log, and the data check
shows the same before Start; a number typed in training.max_length is used as it is.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence

from studio.base.text import Text
from studio.training import memory

COVER = 0.95     # the share of records whose every token training should see
STEP = 32        # lengths are rounded up to a multiple of this
FLOOR = 32       # never chosen below this
SAMPLE = 5000    # training records counted (the first ones; counting is the slow part)


@dataclass
class LengthChoice:
    """The max_length picked for a file, and why."""

    value: int
    records: int                 # records whose lengths were counted
    within: int                  # of those, how many fit in `value` tokens
    wanted: int                  # COVER of the records, rounded up to STEP
    longest: int
    capped_by: str | None = None  # "model", "limit" or "memory" when `value` is below `wanted`

    @property
    def summary(self) -> Text:
        share = self.within / max(self.records, 1)
        en = (f"max_length {self.value} from the data: {self.within:,} of {self.records:,} training records "
              f"({share:.0%}) fit whole (the longest has {self.longest:,} tokens)")
        zh = (f"max_length 按数据取 {self.value}：{self.records:,} 条训练记录中 {self.within:,} 条（{share:.0%}）"
              f"能完整放下（最长的有 {self.longest:,} 个词元）")
        why = {"model": ("the model reads at most", "模型最多读"),
               "limit": ("this server allows at most", "本服务器最多允许"),
               "memory": ("the memory estimate fits at most", "内存估算最多放得下")}.get(self.capped_by or "")
        if why:
            en += f"; {int(COVER * 100)}% would need {self.wanted:,}, but {why[0]} {self.value:,}"
            zh += f"；要让 {int(COVER * 100)}% 的记录放下需要 {self.wanted:,}，但{why[1]} {self.value:,}"
        return Text(en + ". Type a number in max_length to choose another.",
                    zh + "。在 max_length 中填一个数可另选。")

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "summary": str(self.summary), "summary_zh": self.summary.zh}


def with_length(cfg, value: int):
    """The config with training.max_length set."""
    return dataclasses.replace(cfg, training=dataclasses.replace(cfg.training, max_length=int(value)))


def position_limit(model: str) -> int | None:
    """The most tokens the model's position embeddings reach (None: no such limit, or its config cannot be read)."""
    try:
        config = memory.model_config(model)
    except Exception:  # noqa: BLE001 - an unreadable config: the run's own checks say why
        return None
    for part in (config, getattr(config, "encoder", None)):
        for name in ("max_position_embeddings", "n_positions"):
            value = getattr(part, name, None) if part is not None else None
            if isinstance(value, int) and value > 0:
                return value
    return None


def _round_up(n: float) -> int:
    return max(FLOOR, int(-(-n // STEP) * STEP))


def choose(cfg, lengths: Sequence[int], n_labels: int = 2, device: str | None = None,
           limit: int | None = None) -> LengthChoice:
    """The max_length for these records' token lengths (see the module doc)."""
    lengths = sorted(int(n) for n in lengths) or [FLOOR]
    wanted = _round_up(lengths[min(len(lengths) - 1, int(COVER * len(lengths)))])
    value, capped = wanted, None
    for cap, why in ((position_limit(cfg.model), "model"), (limit, "limit")):
        if cap and cap < value:
            value, capped = max(min(cap, value), 1), why
    fitted = _memory_cap(cfg, value, n_labels, device)
    if fitted < value:
        value, capped = fitted, "memory"
    within = sum(1 for n in lengths if n <= value)
    return LengthChoice(value=value, records=len(lengths), within=within, wanted=wanted, longest=lengths[-1],
                        capped_by=capped)


def _memory_cap(cfg, value: int, n_labels: int, device: str | None) -> int:
    """The longest length up to `value` whose estimate does not exceed what the device has (halving; FLOOR at
    least, where the memory check itself then says what else to change)."""
    while value > FLOOR:
        est = memory.estimate(with_length(cfg, value), n_labels, device=device)
        if est.verdict == "unknown" or est.total <= est.available:
            return value
        value = _round_up(value // 2)
    return value
