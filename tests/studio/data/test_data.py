"""studio.data: what every task shares: reading files, splitting, and the generic warnings."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from studio import data
from studio.data import DataError, DataReport
from tests.support import separable_rows

ROWS = separable_rows(10)  # 20 rows, 2 classes


def test_columnar_json_reads(tmp_path):
    p = tmp_path / "train.json"
    p.write_text(json.dumps({"text": [r["text"] for r in ROWS], "label": [r["label"] for r in ROWS]}))
    assert len(data.read_table(str(p))) == len(ROWS)


def test_random_split_is_seeded_keeps_one_row_per_split_and_names_its_unit():
    from studio.data import random_split

    df = pd.DataFrame({"text": [f"t{i}" for i in range(20)]})
    a = random_split(df, {"validation": 0.1, "test": 0.1}, seed=3, name="x.jsonl", unit="record")
    b = random_split(df, {"validation": 0.1, "test": 0.1}, seed=3, name="x.jsonl", unit="record")
    assert {k: v["text"].tolist() for k, v in a.items()} == {k: v["text"].tolist() for k, v in b.items()}
    assert [len(a[k]) for k in ("train", "validation", "test")] == [16, 2, 2]
    assert sorted(sum((v["text"].tolist() for v in a.values()), [])) == sorted(df["text"])
    tiny = random_split(df.head(3), {"validation": 0.01, "test": 0.01}, seed=0, name="x", unit="record")
    assert [len(tiny[k]) for k in ("train", "validation", "test")] == [1, 1, 1]
    with pytest.raises(DataError, match=r"x.conll has 2 usable sentence\(s\), too few to split into train and "
                                        r"validation and test"):
        random_split(df.head(2), {"validation": 0.1, "test": 0.1}, seed=0, name="x.conll", unit="sentence")


def _report(**kw) -> DataReport:
    base = dict(text_column="text", label_column="label", columns=["text", "label"], labels=[],
                rows={"train": 10}, label_counts={})
    return DataReport(**{**base, **kw})


def test_generic_warnings_name_the_unit_and_stay_quiet_when_all_is_well():
    quiet = _report()
    assert data.overlap_warnings(quiet) == data.long_text_warnings(quiet) == data.cleaning_warnings(quiet) == []
    assert data.truncation_warnings(quiet, 128) == []
    r = _report(shared_between_splits={"train-test": 3, "train-validation": 0}, long_texts=2, longest_text=12_345,
                dropped_duplicates=4, dropped_empty=1, token_lengths={"truncated_share": 0.5, "truncated": 60.0,
                                                                 "sampled": 120.0, "p95": 300.0})
    assert data.overlap_warnings(r, "sentence") == [
        "3 sentence(s) appear in both train and test: test scores will be optimistic."]
    assert "2 source text(s) are longer than 10,000 characters (the longest has 12,345)" in \
        data.long_text_warnings(r, "source text")[0]
    assert data.cleaning_warnings(r, "pair", "source or target") == [
        "4 duplicate pair(s) were dropped.", "1 row(s) with an empty source or target were dropped."]
    assert data.truncation_warnings(r, 128, "sources") == [
        "60 of 120 sources (50%) are longer than max_length=128 tokens and will be truncated (95th percentile: 300; "
        "an empty max_length takes it from the data)."]


def test_length_stats_agree_with_the_counts_they_summarise():
    stats = data.length_stats([10, 20, 30, 40], max_length=25)
    assert (stats["p50"], stats["max"], stats["truncated_share"]) == (25.0, 40.0, 0.5)
