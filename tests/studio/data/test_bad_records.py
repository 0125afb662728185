"""studio.data's side of bad records (data.bad_records.BadRecords): what the readers cannot parse at all is counted
with where it sits, the rest read as it is; a file is settled once, refused or booked."""

from __future__ import annotations

import json

import pytest

from studio.data import DataError, DataReport
from studio.data.bad_records import BadRecords, skipped_warnings
from studio.data.reading import read_table, row_places
from studio.data.records import read_records


def test_a_csv_line_with_too_many_fields_is_left_out_and_the_others_keep_their_lines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('text,label\n"a, quoted",x\nb,y,extra\n"multi\nline",z\nc,w\n', encoding="utf-8")
    with pytest.raises(DataError, match="line 3 has 3 fields where the header has 2"):
        read_table(str(path))  # no collector: refused as before
    bad = BadRecords(skip=True, unit="row")
    df = read_table(str(path), bad=bad)
    assert df["text"].tolist() == ["a, quoted", "multi\nline", "c"]
    assert row_places(df, path) == ["line 2", "line 4", "line 6"]  # the quoted newline counted
    assert bad.pending("t.csv") == 1
    bad.settle("t.csv", len(df))
    assert bad.count == 1 and bad.examples == ["t.csv line 3 has 3 fields where the header has 2"]


def test_json_lines_and_array_items_that_are_not_records(tmp_path):
    lines = tmp_path / "r.jsonl"
    lines.write_text('{"a": 1}\n\n{"a": 2\n[3]\n{"a": 4}\n', encoding="utf-8")
    with pytest.raises(DataError, match="r.jsonl line 3 is not valid JSON"):
        read_records(str(lines))
    bad = BadRecords()
    _, records = read_records(str(lines), bad=bad)
    assert records == [("line 1", {"a": 1}), ("line 5", {"a": 4})] and bad.pending("r.jsonl") == 2
    array = tmp_path / "r.json"
    array.write_text(json.dumps([{"a": 1}, "stray", {"a": 3}]), encoding="utf-8")
    with pytest.raises(DataError, match="must be a non-empty list of records"):
        read_records(str(array))
    bad = BadRecords()
    assert read_records(str(array), bad=bad)[1] == [("record 1", {"a": 1}), ("record 3", {"a": 3})]
    df = read_table(str(array), bad=BadRecords())
    assert df["a"].tolist() == [1, 3] and row_places(df, array) == ["record 1", "record 3"]


def test_settling_a_file_refuses_or_books_it():
    one = BadRecords()
    one.add("f.jsonl", "line 4", "f.jsonl line 4: 'x' is empty; give every record its x, or remove the record.")
    with pytest.raises(DataError) as err:
        one.settle("f.jsonl", 9)
    assert err.value.fix == "skip_bad_records"
    assert str(err.value) == ("f.jsonl line 4: 'x' is empty; give every record its x, or remove the record. 1 of the "
                              "10 records of f.jsonl cannot be read; fix or remove it, or turn on "
                              "data.skip_bad_records (the Data tab offers it) to go on without it; the data report "
                              "counts it.")
    many = BadRecords(skip=True)
    for n in (30, 7, 12, 3, 20, 9, 41):  # found out of order (readers first, then the task)
        many.add("f.jsonl", f"line {n}", f"f.jsonl line {n} is not valid JSON (Expecting value); fix or remove it.")
    many.settle("f.jsonl", 100)
    assert many.count == 7 and [e.split()[2] for e in many.examples] == ["3", "7", "9", "12", "20"]
    assert many.pending("f.jsonl") == 0
    report = many.note(DataReport("t", "l", [], [], {}, {}))
    assert skipped_warnings(report)[0].endswith("f.jsonl line 20 is not valid JSON (Expecting value); ….")
    none = BadRecords(skip=True)
    none.add("f.jsonl", "line 1", "f.jsonl line 1 is not valid JSON (x); fix or remove that line.")
    with pytest.raises(DataError) as err:
        none.settle("f.jsonl", 0)  # the file's only record: its own message, nothing to go on with
    assert str(err.value) == "f.jsonl line 1 is not valid JSON (x); fix or remove that line." and err.value.fix is None
    clean = BadRecords()
    clean.settle("g.jsonl", 5)
    assert clean.count == 0 and skipped_warnings(clean.note(DataReport("t", "l", [], [], {}, {}))) == []


def test_an_error_with_its_own_fix_is_not_a_bad_record():
    bad = BadRecords(skip=True)

    def bio(_):
        raise DataError("f.conll line 3: BIO tags out of order", fix="repair_bio")

    with pytest.raises(DataError) as err:
        bad.read("f.conll", "line 3", bio, None)
    assert err.value.fix == "repair_bio" and bad.pending("f.conll") == 0
