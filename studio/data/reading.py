"""Reading the files people bring: CSV, TSV, JSON (records or columns), JSON Lines, Parquet; and checking them.

Every problem a user can fix comes back as a `DataError` whose one sentence names the file, the row or column,
and the fix. Reading writes nothing outside the datasets cache, so a failed check leaves nothing behind;
write_table writes only where it is told.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from studio.base.cache import cache_dir
from studio.base.errors import DataError

if TYPE_CHECKING:
    from studio.data.bad_records import BadRecords

SUPPORTED = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
TEXT_NAMES = ("text", "sentence", "content", "review", "utterance", "query", "question", "document", "body",
              "message", "comment", "tweet", "input", "prompt", "sentence1", "title")


CONTROL_BYTES = (*range(0x00, 0x09), 0x0b, *range(0x0e, 0x1b), *range(0x1c, 0x20), 0x7f)


def max_file_bytes() -> int:
    return int(float(os.environ.get("STUDIO_MAX_FILE_MB", "1024")) * 1024 * 1024)


def max_rows() -> int | None:
    """Most rows a data file may have on this server (STUDIO_MAX_ROWS, set from the policy's `rows`), or None."""
    raw = os.environ.get("STUDIO_MAX_ROWS", "").strip()
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def too_many_rows(name: str, rows: int, limit: int) -> str:
    return (f"{name} has {rows:,} rows, over this server's limit of {limit:,} rows; sample it down (or run the studio "
            "on your own machine for bigger files).")


def check_size_before_reading(p: Path) -> None:
    """What a file will take once read, counted before it is read whole: a Parquet file's rows from its metadata and
    its decoded size batch by batch (a small file of repeated values can unpack to gigabytes, which its metadata
    does not tell), a text file's lines."""
    limit = max_rows()
    if p.suffix.lower() == ".parquet":
        try:
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(p)
        except Exception:  # noqa: BLE001 - not Parquet at all: the reader says so in its own words
            return
        if limit is not None and pf.metadata.num_rows > limit:
            raise DataError(too_many_rows(p.name, pf.metadata.num_rows, limit))
        unpacked = 0
        for batch in pf.iter_batches(batch_size=16_384):
            unpacked += batch.nbytes
            if unpacked > max_file_bytes():
                raise DataError(f"{p.name} unpacks to more than {human_size(max_file_bytes())}, this server's "
                                "limit; sample it down.")
        return
    if limit is None:
        return
    lines, last = 0, b"\n"
    with open(p, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    lines += last != b"\n"
    rows = lines if p.suffix.lower() in (".jsonl", ".json") else lines - 1  # a CSV's header line
    if rows > limit:
        raise DataError(too_many_rows(p.name, rows, limit))


def human_size(n: float) -> str:
    """Bytes as people read them: 812 KB, 3.4 MB."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit in ("bytes", "KB") or n >= 10 else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.0f} GB"


def too_big(name: str, size: int, limit: int | None = None) -> str:
    return (f"{name} is {human_size(size)}, over this server's limit of {human_size(limit or max_file_bytes())}; "
            "sample it down (or, on your own server, raise STUDIO_MAX_FILE_MB).")


# ---------------------------------------------------------------- reading --
def check_file(path: str, role: str, table: bool = True,
               empty: str = "a file with a header row and at least a few labelled rows") -> Path:
    """A file's checks before it is read: it exists, is a file of a supported type, not empty, within the size
    limit, UTF-8 text (Parquet aside), and within the row limit. table=False is for a column file its task reads
    itself (CoNLL): any extension, and no row limit, as its lines are tokens, not rows; `empty` says what an
    empty file should have held."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{role} file {path} does not exist.")
    if p.is_dir():
        raise DataError(f"{role} path {path} is a folder; give a file.")
    ext = p.suffix.lower()
    if table and ext not in SUPPORTED:
        raise DataError(f"{p.name}: unsupported file type {ext or '(none)'}; use CSV, TSV, JSON, JSONL or Parquet.")
    size = p.stat().st_size
    if size == 0:
        raise DataError(f"{p.name} is empty; upload {empty}.")
    if size > max_file_bytes():
        raise DataError(too_big(p.name, size))
    if ext != ".parquet":
        check_text_encoding(p)
    if table:
        check_size_before_reading(p)
    return p


def check_text_encoding(p: Path) -> None:
    with open(p, "rb") as fh:
        head = fh.read(4096)
    # Control bytes (NUL, BEL, ...) never occur in text files; images, archives and executables are full of them.
    controls = sum(head.count(bytes([b])) for b in CONTROL_BYTES)
    if (head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[:200].count(b"\x00") > 10
        or controls > max(3, len(head) // 100)):
        kind = ("UTF-16 text" if head.startswith((b"\xff\xfe", b"\xfe\xff"))
                or head[1:200:2].count(b"\x00") > 50 else "binary data")
        raise DataError(f"{p.name} holds {kind}, not UTF-8 text; save it as UTF-8 (in Excel: Save As > CSV UTF-8).")
    decoder_pos = 0
    lines_before = 0
    import codecs

    dec = codecs.getincrementaldecoder("utf-8")()
    with open(p, "rb") as fh:
        while True:
            chunk = fh.read(1 << 20)
            try:
                dec.decode(chunk, final=not chunk)
            except UnicodeDecodeError as e:
                pos = decoder_pos + e.start
                line = lines_before + chunk.count(b"\n", 0, e.start) + 1
                raise DataError(f"{p.name} is not UTF-8 text (byte 0x{chunk[e.start]:02x} on line {line}, offset "
                                f"{pos}, probably Latin-1 or Windows-1252); save it as UTF-8 "
                                "(in Excel: Save As > CSV UTF-8).") from None
            if not chunk:
                break
            decoder_pos += len(chunk)
            lines_before += chunk.count(b"\n")


def read_table(path: str, role: str = "Training", header: bool = True, bad: BadRecords | None = None,
               ) -> pd.DataFrame:
    """Read one file through `datasets` into a DataFrame, or raise a DataError.

    header=False reads a CSV/TSV whose first line is data: its columns are named column_1, column_2, ...
    bad (a data.bad_records.BadRecords): records that cannot be parsed (a JSON Lines line that is not a JSON object, a
    CSV line with more fields than the header) are counted there and left out instead of refusing the file; the
    frame then says where each row it kept sits (row_places)."""
    p = check_file(path, role)
    ext = p.suffix.lower()
    builder = SUPPORTED[ext]
    kwargs: dict[str, Any] = {}
    if builder == "csv":
        kwargs["sep"] = "\t" if ext == ".tsv" or (ext == ".txt" and b"\t" in p.read_bytes()[:4096]) else ","
        kwargs["keep_default_na"] = False  # "NA" or "null" are legitimate texts/labels
        kwargs["na_values"] = [""]
        if not header:
            kwargs["column_names"] = [f"column_{i + 1}" for i in range(_field_count(p, kwargs["sep"]))]
    places = None
    if builder == "json":
        found, columnar = json_records(p, bad, by_line=bad is not None)  # counting bad records: line by line
        if found is not None and bad.pending(p.name):  # records left out: the others as they are
            if not found:
                bad.settle(p.name, 0)
            df = pd.DataFrame([r for _, r in found])
            df.columns = [str(c).strip() for c in df.columns]
            df.attrs["places"] = [w for w, _ in found]
            return df
        if columnar is not None:  # datasets would read {"text": [...], "label": [...]} as one row of lists
            df = pd.DataFrame(columnar)
            df.columns = [str(c).strip() for c in df.columns]
            return df
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    try:
        ds = datasets.load_dataset(builder, data_files=str(p), split="train",
                                   cache_dir=str(_datasets_cache()), **kwargs)
    except Exception as e:  # datasets wraps the parser's error; dig out the cause
        problem = explain_read_error(p, e)
        if bad is None or builder != "csv" or "fields where the header has" not in problem:
            raise DataError(problem) from None
        places = _leave_out_long_lines(p, kwargs["sep"], header, bad)
        if places is None:
            raise DataError(problem) from None
        ds = datasets.load_dataset(builder, data_files=str(p), split="train", cache_dir=str(_datasets_cache()),
                                   on_bad_lines="skip", **kwargs)
    df = ds.to_pandas()
    if places is not None and len(places) == len(df):
        df.attrs["places"] = places
    if len(df.columns) == 0 or len(df) == 0:
        raise DataError(f"{p.name} has a header but no data rows; add labelled rows below the header.")
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _leave_out_long_lines(p: Path, sep: str, header: bool, bad: BadRecords) -> list[str] | None:
    """Each CSV line with more fields than the header counted in `bad`; where the others sit. None where the csv
    module finds none (the parser's complaint is another one then)."""
    good, over, width = _csv_lines(p, sep, header)
    if not over:
        return None
    for line, fields in over:
        bad.add(p.name, f"line {line}", f"{p.name} line {line} has {fields} fields where the header has {width}; "
                "quote texts that contain the separator, or remove the extra fields.")
    if not good:
        bad.settle(p.name, 0)
    return [f"line {n}" for n in good]


def write_table(df: pd.DataFrame, path: str | Path, header: bool = True, like: str | Path | None = None) -> Path:
    """Write a table in the format its suffix names (CSV, TSV, JSON array, JSONL, Parquet), atomically.

    like: the file it was read from, whose separator a .txt copy keeps; header=False writes no header row."""
    path = Path(path)
    ext = path.suffix.lower()
    tmp = path.with_name(f".{path.name}.part")
    if ext == ".parquet":
        df.to_parquet(tmp, index=False)
    elif ext in (".json", ".jsonl"):
        df.to_json(tmp, orient="records", lines=ext == ".jsonl", force_ascii=False)
    else:
        source = Path(like) if like is not None and Path(like).is_file() else None
        tabbed = ext == ".tsv" or (ext == ".txt" and source is not None and b"\t" in source.read_bytes()[:4096])
        df.to_csv(tmp, index=False, header=header, sep="\t" if tabbed else ",")
    os.replace(tmp, path)
    return path


def _field_count(p: Path, sep: str) -> int:
    """Fields on the first line of a CSV/TSV file (quotes respected)."""
    import csv

    with open(p, encoding="utf-8-sig", newline="") as fh:
        return max(1, len(next(csv.reader(fh, delimiter=sep), [""])))


def _datasets_cache() -> Path:
    return cache_dir() / "datasets"


def check_json_shape(p: Path) -> dict | None:
    """Check a JSON file holds records; returns the data when it is columnar ({"text": [...], ...})."""
    import json

    text = p.read_text(encoding="utf-8-sig")
    stripped = text.lstrip()
    if not stripped:
        raise DataError(f"{p.name} is empty; upload a file with labelled records.")
    if is_json_lines(p, stripped):
        for i, line in enumerate(text.splitlines(), start=1):
            problem = _json_line(p, i, line)[1] if line.strip() else None
            if problem:
                raise DataError(problem)
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{p.name} is not valid JSON (line {e.lineno}: {e.msg}).") from None
    limit = max_rows()
    n = len(data) if isinstance(data, list) else max((len(v) for v in data.values() if isinstance(v, list)),
                                                       default=0) if isinstance(data, dict) else 0
    if limit is not None and n > limit:
        raise DataError(too_many_rows(p.name, n, limit))
    if isinstance(data, dict):
        lists = [k for k, v in data.items() if isinstance(v, list)]
        if lists and all(isinstance(data[k], list) for k in data):
            sizes = {k: len(v) for k, v in data.items()}
            if len(set(sizes.values())) > 1:
                raise DataError(f"{p.name} holds columns of different lengths ({sizes}); give every column one "
                                "value per row.")
            if not max(sizes.values()):
                raise DataError(f"{p.name} has no data rows; add labelled rows.")
            return data  # columnar {"text": [...], "label": [...]} is fine
        raise DataError(f"{p.name} is a single JSON object, not a list of records; write it as "
                        '[{"text": "...", "label": "..."}, ...] or as JSON Lines.')
    if not isinstance(data, list) or not data or not all(isinstance(r, dict) for r in data):
        raise DataError(f"{p.name} must be a non-empty list of records like "
                        '[{"text": "...", "label": "..."}, ...].')


def is_json_lines(p: Path, stripped: str) -> bool:
    """A .jsonl file, or JSON text of one record per line whatever its suffix."""
    return p.suffix.lower() == ".jsonl" or (stripped[:1] == "{" and "\n{" in stripped)


def _json_line(p: Path, i: int, line: str) -> tuple[dict | None, str | None]:
    """(the record on line i, None), or (None, why it is not one)."""
    import json

    try:
        rec = json.loads(line)
    except json.JSONDecodeError as e:
        return None, f"{p.name} line {i} is not valid JSON ({e.msg}); fix or remove that line."
    if not isinstance(rec, dict):
        return None, (f"{p.name} line {i} is not a JSON object; each line must be a record like "
                      '{"text": "...", "label": "..."}.')
    return rec, None


def json_records(p: Path, bad: BadRecords | None, by_line: bool = True) -> tuple[list | None, dict | None]:
    """A JSON or JSONL file as (its records with their places, or None; its columnar dict, or None): JSON Lines
    read line by line (by_line), else the shape checked, and an array's records read one by one when bad records
    are counted; a file of neither shape raises check_json_shape's DataError."""
    found, columnar = json_lines(p, bad) if by_line else None, None
    if found is None:
        try:
            columnar = check_json_shape(p)
        except DataError:
            found = array_records(p, bad) if bad is not None else None
            if found is None:
                raise
    return found, columnar


def json_lines(p: Path, bad: BadRecords | None = None) -> list[tuple[str, dict]] | None:
    """The records of a JSON Lines file, each with where it sits ("line 3"), or None for other files. A line that
    is not a JSON object is refused (the first, as check_json_shape does) or, given `bad`, counted there and left
    out."""
    text = p.read_text(encoding="utf-8-sig")
    stripped = text.lstrip()
    if not stripped or not is_json_lines(p, stripped):
        return None
    out = []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        rec, problem = _json_line(p, i, line)
        if problem is None:
            out.append((f"line {i}", rec))
        elif bad is None:
            raise DataError(problem)
        else:
            bad.add(p.name, f"line {i}", problem)
    return out


def array_records(p: Path, bad: BadRecords) -> list[tuple[str, dict]] | None:
    """The records of a JSON array that holds other values beside them ("record 3"), the others counted in `bad`;
    None for any other file (check_json_shape's refusal stands: an array of no records is not a file of them)."""
    import json

    try:
        data = json.loads(p.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError:
        return None
    if not isinstance(data, list):
        return None
    kept = [(f"record {i + 1}", r) for i, r in enumerate(data) if isinstance(r, dict)]
    if not kept or len(kept) == len(data):
        return None
    limit = max_rows()
    if limit is not None and len(data) > limit:
        raise DataError(too_many_rows(p.name, len(data), limit))
    for i, r in enumerate(data):
        if not isinstance(r, dict):
            bad.add(p.name, f"record {i + 1}", f"{p.name} record {i + 1} is not a JSON object but "
                    f"{type(r).__name__}; each record must be like " '{"text": "...", "label": "..."}.')
    return kept


def row_places(df: pd.DataFrame, path: str | Path, header: bool = True) -> list[str]:
    """Where each row read_table gave sits in its file ("line 3", "record 3", "row 3"), for messages about it."""
    if "places" in df.attrs and len(df.attrs["places"]) == len(df):
        return list(df.attrs["places"])
    ext = Path(path).suffix.lower()
    if ext == ".parquet":
        return [f"row {i + 1}" for i in range(len(df))]
    if SUPPORTED.get(ext) == "csv":
        first = 2 if header else 1  # line 1 is the header
        return [f"line {i + first}" for i in range(len(df))]
    return [f"record {i + 1}" for i in range(len(df))]


def _csv_lines(p: Path, sep: str, header: bool) -> tuple[list[int], list[tuple[int, int]], int]:
    """(the first line of each CSV record that fits, (first line, fields) of each with more fields than the first
    line, the first line's fields), as the csv module splits them (quoted newlines and separators respected)."""
    import csv

    good: list[int] = []
    over: list[tuple[int, int]] = []
    width, start = None, 1
    with open(p, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=sep)
        for fields in reader:
            line, start = start, reader.line_num + 1
            if not fields:  # a blank line, which pandas skips too
                continue
            if width is None:
                width = len(fields)
                if header:
                    continue
            if len(fields) > width:
                over.append((line, len(fields)))
            else:
                good.append(line)
    return good, over, width or 0


def explain_read_error(p: Path, e: Exception) -> str:
    chain, cur = [], e
    while cur is not None and len(chain) < 8:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    msgs = " | ".join(f"{type(c).__name__}: {c}" for c in chain)
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", msgs)
    if m:
        return (f"{p.name} line {m.group(2)} has {m.group(3)} fields where the header has {m.group(1)}; "
                "quote texts that contain the separator, or remove the extra fields.")
    if "EOF inside string" in msgs or "EOF while parsing" in msgs or "unexpected end of data" in msgs:
        m = re.search(r"starting at row (\d+)", msgs)
        where = f" (a quote opened near row {m.group(1)})" if m else ""
        return f"{p.name} has a quote that is never closed{where}; close it or remove the stray quote character."
    if "corresponds to no data" in msgs or "BatchSize must be greater than 0" in msgs:
        return f"{p.name} has no data rows; add labelled rows (below the header line in CSV/TSV)."
    if "No columns to parse" in msgs or "EmptyDataError" in msgs:
        return f"{p.name} has no header or data; the first line must name the columns, e.g. text,label."
    if "UnicodeDecodeError" in msgs:
        return f"{p.name} is not UTF-8 text; save it as UTF-8 (in Excel: Save As > CSV UTF-8)."
    if p.suffix.lower() == ".parquet":
        return f"{p.name} is not a readable Parquet file ({type(chain[-1]).__name__}); export it again."
    last = chain[-1]
    return f"{p.name} could not be read: {str(last).splitlines()[0][:200] if str(last) else type(last).__name__}."


# ------------------------------------------------------------ columns --
def is_text_like(s: pd.Series) -> bool:
    if s.dtype == object or str(s.dtype).startswith(("string", "str")):
        sample = s.dropna().head(200)
        return len(sample) > 0 and all(isinstance(v, str) for v in sample)
    return False


def preview(path: str, rows: int = 20) -> pd.DataFrame:
    """The first rows of a file as read, for display."""
    return read_table(path).head(rows)
