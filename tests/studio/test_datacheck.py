"""studio.datacheck: what the Data tab shows is what a run will get."""

from __future__ import annotations

from pathlib import Path

from studio import datacheck
from studio.config import DataConfig

SAMPLE = Path(__file__).resolve().parents[2] / "assets" / "samples" / "support_tickets.csv"



def test_datacheck_reports_splits_and_tokens():
    check = datacheck.check(DataConfig(train=str(SAMPLE)), model="sentence-transformers/all-MiniLM-L6-v2", max_length=64)
    assert check.ok and (check.text_column, check.label_column) == ("text", "label")
    assert check.report.rows == {"train": 192, "validation": 24, "test": 24}
    assert len(check.token_lengths) == 192 and max(check.token_lengths) < 64
    assert "support_tickets.csv" in datacheck.list_samples()


def test_datacheck_keeps_the_preview_when_the_columns_are_wrong(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("text,label\n" + "".join(f"row {i},{'ab'[i % 2]}\n" for i in range(20)))
    check = datacheck.check(DataConfig(train=str(f), text_column="label", label_column="label"))
    assert not check.ok and "two different columns" in check.error
    assert check.preview is not None and check.columns == ["text", "label"]
