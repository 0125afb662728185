"""Data: what every task shares about its files, and the data section of a run config.

    reading    the files people bring (CSV, TSV, JSON, JSON Lines, Parquet), checked, with one-sentence errors
    records    files of records, each with where it sits; fields found by name
    bad_records  the records a task cannot read: refused with their count, or left out (data.skip_bad_records)
    config     DataConfig: files, columns, split settings
    splits     the one split policy of every task (split_rows) and the seeded splits it uses
    report     PreparedData (splits, labels, report), DataReport, LabelledRows
    describe   token lengths and the warnings every task shares
    storage    a run's splits as Parquet
    uploads    files sent to the server, kept under generated names

Each task (studio/tasks/) reads its own shape of data with these and returns a PreparedData.

Imports: base.
"""

from studio.base.errors import DataError
from studio.data.config import DataConfig
from studio.data.describe import (
                                  LONG_TEXT_CHARS,
                                  cleaning_warnings,
                                  describe_lengths,
                                  length_stats,
                                  long_text_warnings,
                                  overlap_warnings,
                                  token_length_stats,
                                  truncation_warnings,
)
from studio.data.reading import (
                                  SUPPORTED,
                                  TEXT_NAMES,
                                  check_file,
                                  check_json_shape,
                                  check_text_encoding,
                                  explain_read_error,
                                  human_size,
                                  is_text_like,
                                  max_file_bytes,
                                  preview,
                                  read_table,
                                  too_big,
                                  write_table,
)
from studio.data.report import DataReport, LabelledRows, PreparedData
from studio.data.splits import check_held_out, random_split, sample_rows, split_rows, stratified_split
from studio.data.storage import load_splits, save_splits

__all__ = ["DataError", "DataConfig", "LONG_TEXT_CHARS", "cleaning_warnings", "describe_lengths", "length_stats",
           "long_text_warnings", "overlap_warnings", "token_length_stats", "truncation_warnings", "SUPPORTED",
           "TEXT_NAMES", "check_file", "check_json_shape", "check_text_encoding", "explain_read_error", "human_size",
           "is_text_like", "max_file_bytes", "preview", "read_table", "too_big", "write_table", "DataReport",
           "LabelledRows", "PreparedData", "check_held_out", "random_split", "sample_rows", "split_rows",
           "stratified_split", "load_splits", "save_splits"]
