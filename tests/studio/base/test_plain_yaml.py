"""studio.base.plain_yaml: configs from the page are read without aliases, anchors, tags or deep nesting."""

from __future__ import annotations

import time

import pytest

from studio.base import plain_yaml
from studio.base.errors import ConfigError

LOL = "[" + ",".join(["lol"] * 9) + "]"
BOMB = "a: &a " + LOL + "\n" + "".join(
    f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]\n" for p, c in zip("abcdefgh", "bcdefghi"))


def test_an_alias_bomb_is_refused_at_once():
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="anchors"):
        plain_yaml.load(BOMB, "run.yaml")
    assert time.perf_counter() - t0 < 1.0
    with pytest.raises(ConfigError, match="aliases"):
        plain_yaml.load("x: 1\ny: *x", "run.yaml")  # an alias alone (PyYAML's own error would name the anchor)


@pytest.mark.parametrize("text,fragment", [("[" * 200 + "]" * 200, "nesting deeper"),
                                           ("x: !!python/object/apply:os.system [ls]", "not valid YAML"),
                                           ("x: " + "a" * 1_100_000, "larger than 1 MB")])
def test_what_a_config_is_not(text, fragment):
    with pytest.raises(ConfigError, match=fragment):
        plain_yaml.load(text, "space")


def test_plain_configs_and_json_read_as_before():
    assert plain_yaml.load("task: text-classification\ntraining: {epochs: 2}\nm: [1, 2.5, null, true]") == {
        "task": "text-classification", "training": {"epochs": 2}, "m": [1, 2.5, None, True]}
    assert plain_yaml.load('{"a": [1, {"b": "c"}]}') == {"a": [1, {"b": "c"}]}
