"""Every setting's help, and what the data check says, in both languages: the page shows them to readers of Chinese.

The settings dataclasses are found by reading the sources (every class with `setting(...)` fields), so a new one
cannot slip past; the English stays what the CLI, the docs and the other tests read.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import re
from pathlib import Path

import pandas as pd
import pytest

from studio.base.text import Text
from studio.config import DataConfig
from studio.data import DataReport, split_rows
from studio.data.describe import cleaning_warnings, long_text_warnings, overlap_warnings, truncation_warnings

STUDIO = Path(__file__).resolve().parents[3] / "studio"
CJK = re.compile("[\u4e00-\u9fff]")


def settings_classes() -> list[type]:
    """Every class in studio/ that declares a field with setting(...)."""
    found = []
    for path in sorted(STUDIO.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        if "setting(" not in source:
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(s, ast.AnnAssign) and isinstance(s.value, ast.Call)
                    and getattr(s.value.func, "id", None) == "setting" for s in node.body):
                module = ".".join(path.relative_to(STUDIO.parent).with_suffix("").parts).removesuffix(".__init__")
                found.append(getattr(importlib.import_module(module), node.name))
    return found


CLASSES = settings_classes()


def test_the_scan_finds_the_settings_of_every_part():
    names = {c.__qualname__ for c in CLASSES}
    assert {"RunConfig", "TrainingConfig", "DataConfig", "AugmentConfig", "DistillConfig", "LoraSettings", "Limits",
            "SweepSettings", "ReviewSettings"} <= names
    assert sum(len(dataclasses.fields(c)) for c in CLASSES) >= 100


def untranslated(text) -> str | None:
    """Why a help text is not fit for a reader of Chinese (None when it is)."""
    if not isinstance(text, Text):
        return "is not a Text"
    if text.zh == str(text) or not CJK.search(text.zh):
        return "has no Chinese"
    return None


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_every_setting_help_carries_its_chinese(cls):
    problems = [f"{cls.__qualname__}.{f.name}: {f.metadata.get('help')!r} {untranslated(f.metadata.get('help'))}"
                for f in dataclasses.fields(cls) if untranslated(f.metadata.get("help"))]
    assert not problems, "\n".join(problems)


def test_split_descriptions_carry_their_chinese():
    frame = pd.DataFrame({"text": [f"sentence {i}" for i in range(40)]})
    _, source = split_rows({"train": frame}, {"train": "msra_3k.txt"}, DataConfig(train="x"), "msra_3k.txt",
                           unit="sentence")
    assert source["validation"] == "10% of msra_3k.txt (random by sentence, seed 42)"  # what the CLI prints
    assert source["validation"].zh == "msra_3k.txt 的 10%（按句子随机，种子 42）"


def test_the_shared_data_warnings_carry_their_chinese():
    report = DataReport(text_column="text", label_column="label", columns=["text", "label"], labels=["a"],
                        rows={"train": 9}, label_counts={}, dropped_empty=2, dropped_duplicates=3,
                        shared_between_splits={"train-test": 4}, long_texts=1, longest_text=20_000,
                        token_lengths={"truncated_share": 0.1, "truncated": 9.0, "sampled": 90.0, "p95": 300.0})
    warnings = (overlap_warnings(report, Text("sentence", "句子")) + long_text_warnings(report)
                + truncation_warnings(report, 128, Text("sentences", "句子")) + cleaning_warnings(report))
    assert ("9 of 90 sentences (10%) are longer than max_length=128 tokens and will be truncated (95th percentile: "
            "300; an empty max_length takes it from the data).") in warnings
    assert len(warnings) == 5 and not [w for w in warnings if untranslated(w)], warnings
    assert ("90 条句子中有 9 条（10%）超过 max_length=128 个词元，将被截断（第 95 百分位：300；max_length 留空则按数据"
            "选取）。") in [w.zh for w in warnings]
