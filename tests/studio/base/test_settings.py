"""studio.base.settings: documented dataclass fields, read from JSON/YAML with checks that name the field."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from studio.base.errors import ConfigError
from studio.base.settings import base_type, build, check_bounds, coerce, field_help, known, setting


@dataclass
class Inner:
    size: int = setting(4, "A size.", min=1, max=10)


@dataclass
class Outer:
    name: str = setting("x", "A name.")
    share: float | None = setting(None, "A share.", min=0.0, max=1.0)
    mode: str = setting("a", "A mode.", choices=("a", "b"))
    tags: str | None = setting(None, "Comma-separated tags.", joined=True)
    flag: bool = setting(True, "A flag.")
    inner: Inner = field(default_factory=Inner)  # a nested section, as RunConfig's
    items: list = setting([1, 2], "Items.")


def test_help_carries_every_fields_default_and_bounds():
    spec = {f["name"]: f for f in field_help(Outer)}
    assert spec["share"]["help"] == "A share." and spec["share"]["max"] == 1.0 and spec["mode"]["choices"] == ("a", "b")
    assert Outer().items == [1, 2] and Outer().items is not Outer().items  # each instance its own list


def test_build_coerces_scalars_builds_sections_and_joins_lists():
    got = build(Outer, {"share": "0.5", "flag": "no", "tags": ["x", "y"], "inner": {"size": 3.0}})
    assert (got.share, got.flag, got.tags, got.inner.size) == (0.5, False, "x, y", 3)


@pytest.mark.parametrize("raw, where", [
    ({"nope": 1}, "nope: unknown setting; known ones are"),
    ({"share": "half"}, "share: expected a number"),
    ({"inner": {"size": 2.5}}, "inner.size: expected a whole number"),
    ({"flag": "maybe"}, "flag: expected true or false"),
    ({"name": None}, "name: a value is required"),
    ({"inner": [1]}, "inner: expected a mapping of settings"),
])
def test_build_names_the_field_that_is_wrong(raw, where):
    with pytest.raises(ConfigError, match=where):
        build(Outer, raw)


def test_bounds_and_choices_name_the_prefixed_field():
    with pytest.raises(ConfigError, match=r"outer.share: 1.5 is above the maximum 1.0"):
        check_bounds(Outer(share=1.5), "outer")
    with pytest.raises(ConfigError, match="outer.mode: 'c' is not one of a, b"):
        check_bounds(Outer(mode="c"), "outer")


def test_optional_types_unwrap_and_long_name_lists_show_the_closest():
    assert base_type(int | None) == (int, True) and base_type(str) == (str, False)
    assert coerce(int | None, None, "x") is None
    names = {f"setting_{i}" for i in range(60)} | {"learning_rate"}
    assert known("learnin_rate", names).startswith("learning_rate")
