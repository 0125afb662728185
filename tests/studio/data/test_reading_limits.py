"""What a file will take once read is counted before it is read whole: a Parquet file's unpacked size and rows from
its metadata, a text file's lines, a JSON array's records (the server's STUDIO_MAX_FILE_MB and STUDIO_MAX_ROWS)."""

from __future__ import annotations

import pandas as pd
import pytest

from studio.data import reading
from studio.data.reading import DataError, read_table


def test_a_small_parquet_file_that_unpacks_past_the_limit_is_refused_unread(tmp_path, monkeypatch):
    path = tmp_path / "bomb.parquet"
    pd.DataFrame({"text": ["a" * 1000] * 5000, "label": ["x"] * 5000}).to_parquet(path, compression="zstd")
    assert path.stat().st_size < 200_000  # compresses to almost nothing
    monkeypatch.setenv("STUDIO_MAX_FILE_MB", "1")
    read = []
    monkeypatch.setattr(reading, "_datasets_cache", lambda: read.append(1) or tmp_path / "cache")
    with pytest.raises(DataError, match="unpacks to more than 1.0 MB, this server.s limit"):
        read_table(str(path))
    assert not read, "the file was read"


@pytest.mark.parametrize("name,write", [
    ("rows.csv", lambda p, n: p.write_text("text,label\n" + "".join(f"t{i},a\n" for i in range(n)))),
    ("rows.jsonl", lambda p, n: p.write_text("".join(f'{{"text": "t{i}", "label": "a"}}\n' for i in range(n)))),
    ("rows.json", lambda p, n: p.write_text("[" + ",".join(f'{{"text": "t{i}", "label": "a"}}' for i in range(n))
                                            + "]")),
    ("rows.parquet", lambda p, n: pd.DataFrame({"text": [f"t{i}" for i in range(n)], "label": "a"}).to_parquet(p)),
])
def test_more_rows_than_the_server_allows_are_refused_with_the_count(tmp_path, monkeypatch, name, write):
    path = tmp_path / name
    write(path, 120)
    monkeypatch.setenv("STUDIO_MAX_ROWS", "100")
    with pytest.raises(DataError, match=f"{name} has 120 rows, over this server's limit of 100 rows"):
        read_table(str(path))
    monkeypatch.setenv("STUDIO_MAX_ROWS", "200")
    assert len(read_table(str(path))) == 120
