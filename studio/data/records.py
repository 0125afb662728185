"""Files of records (JSON arrays, JSON Lines, columnar JSON, or any table read as rows), each record with where
it sits in the file ("line 3", "record 3") so an error can name it; and finding a record's fields by name."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from studio.base.errors import DataError
from studio.data.bad_records import BadRecords
from studio.data.reading import check_file, json_records, read_table, row_places


def read_records(path: str, role: str = "Training", bad: BadRecords | None = None,
                 ) -> tuple[Path, list[tuple[str, dict]]]:
    """The file's records, each with where it sits ("line 3", "record 3") for error messages. With `bad`, records
    it cannot parse (a line that is not a JSON object, a CSV line with too many fields) are counted there and left
    out; a file with none left is refused."""
    p = check_file(path, role)
    ext = p.suffix.lower()
    if ext in (".parquet", ".csv", ".tsv", ".txt"):
        df = read_table(str(p), role, bad=bad)
        return p, list(zip(row_places(df, p), df.to_dict("records")))
    found, columnar = json_records(p, bad)
    if found is not None:
        if bad is not None and not found:
            bad.settle(p.name, 0)
        return p, found
    if columnar is not None:
        return p, [(f"record {i + 1}", r) for i, r in enumerate(pd.DataFrame(columnar).to_dict("records"))]
    text = p.read_text(encoding="utf-8-sig")
    return p, [(f"record {i + 1}", r) for i, r in enumerate(json.loads(text))]


def field_names(records: list[tuple[str, dict]], name: str, given) -> dict[str, str]:
    """The fields of the first 1,000 records by lower-case name; a given (role, column) that is not among them is
    one clear error."""
    keys: dict[str, str] = {}
    for _, rec in records[:1000]:
        for k in rec:
            keys.setdefault(str(k).strip().lower(), k)
    for role, col in given:
        if col and col.lower() not in keys:
            raise DataError(f"{name}: no field named {col!r} for the {role}; choose one of "
                            f"{sorted(map(str, keys.values()))}.")
    return keys
