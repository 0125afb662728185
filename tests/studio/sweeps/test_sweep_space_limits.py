"""A sweep's space is sized and checked against its fields' bounds before any list is built or anything written."""

from __future__ import annotations

import time

import pytest

from studio.base.errors import ConfigError
from studio.config import RunConfig
from studio.sweeps.space import check_grid, parse_space


def cfg() -> RunConfig:
    return RunConfig.from_dict({"data": {"train": "x.csv"}})


def test_a_grid_with_a_tiny_step_is_refused_at_once_without_being_built():
    params = parse_space({"training.learning_rate": {"low": 1e-5, "high": 1e-3, "step": 1e-12}}, cfg())
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="makes 990,000,001 values .* at most 1000: give a bigger step"):
        check_grid(params, trials=8)
    assert time.perf_counter() - t0 < 0.5
    many = parse_space({"training.batch_size": {"choices": list(range(1, 501))},
                        "training.max_length": {"choices": list(range(8, 508))}}, cfg())
    with pytest.raises(ConfigError, match="250,000 combinations"):
        check_grid(many, trials=8)


@pytest.mark.parametrize("space,fragment", [
    ({"training.epochs": {"low": -5, "high": 2}}, "space.training.epochs.low: -5 is below the field's minimum"),
    ({"training.learning_rate": {"low": 1e-5, "high": 5.0}}, "high: 5 is above the field's maximum 1"),
    ({"training.batch_size": {"choices": [8, 100000]}}, "choices: 100000 is above the field's maximum 4096"),
    ({"training.epochs": {"low": 1, "high": float("inf")}}, "finite numbers"),
    ({"training.epochs": {"low": 1, "high": 3, "step": 0}}, "step above 0"),
    ({"training.batch_size": {"choices": [[1, 2]]}}, "not a value this field takes"),
])
def test_a_range_outside_its_fields_bounds_is_refused(space, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        parse_space(space, cfg())
