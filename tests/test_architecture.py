"""ARCHITECTURE.md's "One run, end to end" names real functions: every dotted studio or components name in that
section imports, so the map of one run cannot drift from the code it describes."""

from __future__ import annotations

import importlib
import re

import pytest

from tests.support import ROOT


def section(title: str) -> str:
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def dotted_names(text: str) -> list[str]:
    """Every `studio.x.y` or `components.x.y` name written in backticks."""
    return sorted(set(re.findall(r"`((?:studio|components)(?:\.[A-Za-z_][A-Za-z0-9_]*)+)`", text)))


def resolve(name: str):
    """The object a dotted name stands for: the longest importable module, then attributes down from it."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(name)


NAMES = dotted_names(section("One run, end to end"))


def test_the_map_of_one_run_names_its_steps():
    assert len(NAMES) >= 25, NAMES  # a section that lost its names would pass the test below vacuously


@pytest.mark.parametrize("name", NAMES)
def test_every_name_on_the_map_of_one_run_exists(name):
    assert callable(resolve(name)) or isinstance(resolve(name), type), name


def test_a_name_that_is_gone_is_caught():
    with pytest.raises(AttributeError):
        resolve("studio.runs.store.Store.no_such_step")
