"""The search space: which config fields a sweep varies and over what (ranges, choices), and a trial's settings
written into a copy of the base config."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from studio import methods
from studio.base.errors import ConfigError
from studio.base.settings import base_type, field_help
from studio.config import RunConfig, TrainingConfig
from studio.tasks import get_task


@dataclass(frozen=True)
class Param:
    """One field of the search space."""

    name: str                      # "training.learning_rate", "method", "method_args.r"
    kind: str                      # "float", "int" or "choice"
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple = ()

    def distribution(self):
        import optuna.distributions as d

        if self.kind == "choice":
            return d.CategoricalDistribution(list(self.choices))
        if self.kind == "int":
            return d.IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        return d.FloatDistribution(float(self.low), float(self.high), log=self.log, step=self.step)

    def grid_size(self) -> int:
        """How many values grid() would list, counted without listing them."""
        if self.kind == "choice":
            return len(self.choices)
        if self.kind == "int" or self.step:
            return int(round((self.high - self.low) / (self.step or 1))) + 1
        raise ConfigError(f"space.{self.name}: a grid sweep needs choices or a step for this range; give "
                          "choices: [...] or step, or use the tpe or random sampler.")

    def grid(self) -> list:
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int" or self.step:
            n = self.grid_size()
            if n > MAX_GRID_VALUES:
                raise ConfigError(f"space.{self.name}: step {self.step or 1:g} makes {n:,} values from {self.low:g} to "
                                  f"{self.high:g}; a grid field takes at most {MAX_GRID_VALUES}: give a bigger step.")
            values = [self.low + i * (self.step or 1) for i in range(n)]
            return [int(v) for v in values] if self.kind == "int" else values
        raise ConfigError(f"space.{self.name}: a grid sweep needs choices or a step for this range; give "
                          "choices: [...] or step, or use the tpe or random sampler.")

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "choice":
            return {"choices": list(self.choices)}
        out: dict[str, Any] = {"low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step:
            out["step"] = self.step
        return out


MAX_GRID_VALUES = 1000     # values one grid field may list
MAX_GRID_COMBINATIONS = 100_000  # combinations a grid may have (its trials still stop at the sweep's trials)


def check_grid(params: list["Param"], trials: int) -> None:
    """A grid sweep's space, sized before any list is built: each field within MAX_GRID_VALUES values, the
    combinations within MAX_GRID_COMBINATIONS."""
    import math

    sizes = []
    for p in params:
        n = p.grid_size()
        if n > MAX_GRID_VALUES:
            p.grid()  # says which field and what step would do
        sizes.append(n)
    total = math.prod(sizes)
    if total > MAX_GRID_COMBINATIONS:
        raise ConfigError(f"space: the grid has {total:,} combinations, more than {MAX_GRID_COMBINATIONS:,}; vary "
                          f"fewer fields or give bigger steps (the sweep runs at most {trials} trials anyway).")


# ------------------------------------------------------------------------------------------- the space --
def _field_kind(name: str, cfg: RunConfig, method_names: list[str]) -> tuple[type, tuple | None, tuple]:
    """(the field's type, its choices, its (min, max)) for a sweepable field, or a ConfigError naming the fields
    there are."""
    if name == "method":
        return str, tuple(get_task(cfg.task).model.method_names()), (None, None)
    section, _, leaf = name.partition(".")
    if section == "training" and leaf:
        spec = next((f for f in field_help(TrainingConfig) if f["name"] == leaf), None)
        if spec is not None:
            return base_type(spec["type"])[0], spec.get("choices"), (spec.get("min"), spec.get("max"))
    if section == "method_args" and leaf:
        for m in method_names:
            spec = next((f for f in methods.METHODS[m].fields() if f["name"] == leaf), None)
            if spec is not None:
                return base_type(spec["type"])[0], spec.get("choices"), (spec.get("min"), spec.get("max"))
        every = sorted({f["name"] for m in method_names for f in methods.METHODS[m].fields()})
        raise ConfigError(
            f"space.{name}: {leaf!r} is not a setting of {', '.join(method_names)}; the settings are "
            f"{', '.join(every) or 'none'}.")
    known = ", ".join(["method", "training.<field>", "method_args.<setting>"])
    raise ConfigError(f"space.{name}: not a field a sweep can vary; use {known} (studio train --help lists the "
                      "training fields).")


def parse_space(raw: Any, cfg: RunConfig) -> list[Param]:
    """The search space as Params, checked against the config's fields: one sentence for the first problem."""
    if not isinstance(raw, dict) or not raw:
        raise ConfigError("space: give at least one field to vary, e.g. training.learning_rate: "
                          "{low: 1.0e-5, high: 1.0e-3, log: true}.")
    methods_in_play = [cfg.method]
    if isinstance(raw.get("method"), dict) and isinstance(raw["method"].get("choices"), list):
        methods_in_play = [m for m in raw["method"]["choices"] if m in methods.METHODS] or [cfg.method]
    params = []
    for name, spec in raw.items():
        tp, choices, bounds = _field_kind(str(name), cfg, methods_in_play)
        params.append(_param(str(name), spec, tp, choices, bounds))
    return params


def _within(where: str, value: float, bounds: tuple) -> None:
    lo, hi = bounds
    if lo is not None and value < lo:
        raise ConfigError(f"{where}: {value:g} is below the field's minimum {lo:g}.")
    if hi is not None and value > hi:
        raise ConfigError(f"{where}: {value:g} is above the field's maximum {hi:g}.")


def _param(name: str, spec: Any, tp: type, allowed: tuple | None, bounds: tuple = (None, None)) -> Param:
    where = f"space.{name}"
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: give a range {{low: ..., high: ...}} or {{choices: [...]}}, not {spec!r}.")
    unknown = sorted(set(spec) - {"low", "high", "log", "step", "choices"})
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown; a field takes low, high, log, step or choices.")
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}.choices: give a non-empty list of values.")
        bad = [c for c in choices if allowed is not None and c not in allowed]
        if bad:
            raise ConfigError(f"{where}.choices: {bad[0]!r} is not one of {', '.join(map(str, allowed))}.")
        if len(choices) > MAX_GRID_VALUES:
            raise ConfigError(f"{where}.choices: {len(choices)} choices; give at most {MAX_GRID_VALUES}.")
        for c in choices:
            if isinstance(c, (dict, list)):
                raise ConfigError(f"{where}.choices: {c!r} is not a value this field takes.")
            if tp in (int, float) and isinstance(c, (int, float)) and not isinstance(c, bool):
                _within(f"{where}.choices", float(c), bounds)
        return Param(name, "choice", choices=tuple(choices))
    if allowed is not None or tp not in (int, float):
        raise ConfigError(f"{where}: this field takes choices: [...], not a range.")
    try:
        low, high = float(spec["low"]), float(spec["high"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"{where}: give both low and high as numbers.") from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ConfigError(f"{where}: give low and high as finite numbers.")
    if not low < high:
        raise ConfigError(f"{where}: the range is empty (low {low:g} is not below high {high:g}); give low < high.")
    _within(f"{where}.low", low, bounds)
    _within(f"{where}.high", high, bounds)
    log = bool(spec.get("log", False))
    if log and low <= 0:
        raise ConfigError(f"{where}: a log range needs low above 0, not {low:g}.")
    step = spec.get("step")
    if step not in (None, ""):
        try:
            step = float(step)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}.step: give a number.") from None
        if not (math.isfinite(step) and step > 0):
            raise ConfigError(f"{where}.step: give a step above 0.")
    kind = "int" if tp is int else "float"
    if kind == "int" and (not float(low).is_integer() or not float(high).is_integer()):
        raise ConfigError(f"{where}: this field takes whole numbers; give a whole low and high.")
    return Param(name, kind, low=int(low) if kind == "int" else low, high=int(high) if kind == "int" else high,
                 log=log, step=float(step) if step not in (None, "") else None)


def default_space(cfg: RunConfig) -> dict[str, Any]:
    """With no space given: the learning rate around the method's default (a quarter to four times), and epochs
    around the config's."""
    lr = cfg.learning_rate()
    epochs = max(1, int(round(cfg.training.epochs)))
    return {"training.learning_rate": {"low": float(f"{lr / 4:.3g}"), "high": float(f"{lr * 4:.3g}"), "log": True},
            "training.epochs": {"low": max(1, epochs - 1), "high": epochs + 2, "step": 1}}


def preset(name: str, cfg: RunConfig) -> dict[str, Any]:
    """A sensible range around the config's own value for a field a person often varies (the Sweep tab's
    checkboxes): learning rate, epochs, method, LoRA rank, batch size, warm-up share, max length."""
    t = cfg.training
    if name in ("training.learning_rate", "training.epochs"):
        return default_space(cfg)[name]
    if name == "method":
        return {"choices": [m for m in ("lora", "dora", "ia3") if m in get_task(cfg.task).model.method_names()]}
    if name == "method_args.r":
        return {"choices": [8, 16, 32]}
    if name == "training.batch_size":
        return {"choices": sorted({max(1, t.batch_size // 2), t.batch_size, t.batch_size * 2})}
    if name == "training.warmup_ratio":
        return {"low": 0.0, "high": 0.2}
    if name == "training.max_length":
        if t.max_length is None:  # chosen from the data per run: nothing to vary around yet
            raise ConfigError("space.training.max_length: its preset varies a typed training.max_length (half, "
                              "itself, double); set one, or give its choices yourself.")
        return {"choices": sorted({max(16, t.max_length // 2), t.max_length, t.max_length * 2})}
    raise ConfigError(f"space.{name}: no preset; give its range yourself.")


def apply_params(base: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The base config (as a dict) with a trial's settings; a new method starts from its own defaults."""
    out = json.loads(json.dumps(base))
    if "method" in params and params["method"] != out.get("method"):
        out["method"], out["method_args"] = params["method"], {}
    for name, value in params.items():
        section, _, leaf = name.partition(".")
        if section == "training":
            out.setdefault("training", {})[leaf] = value
        elif section == "method_args":
            if any(f["name"] == leaf for f in methods.METHODS[out["method"]].fields()):
                out.setdefault("method_args", {})[leaf] = value
    if "training.learning_rate" not in params and "method" in params:
        out.setdefault("training", {})["learning_rate"] = None  # each method at its own default
    return out
