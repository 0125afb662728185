"""The records of a file a task cannot read (a line that is not JSON, a turn without text, tags that do not fit their
tokens): counted with where they sit and why, and either refused with their count or, under data.skip_bad_records,
left out and counted on the data report. Readers (studio.data.reading, .records) and tasks report them here."""

from __future__ import annotations

import re
from typing import Any, Callable

from studio.base.errors import DataError
from studio.base.text import Text
from studio.data.report import DataReport

SHOWN_BAD = 5  # bad records an error or a warning names, with where each sits and why
UNITS_ZH = {"record": "条记录", "row": "行", "sentence": "个句子"}


class BadRecords:
    """The records of a task's files it cannot read, counted per file with where they sit and why.

    A task says what is wrong with a record by raising a DataError while reading it (`read`); studio.data's readers
    add the lines they cannot parse at all (a JSON Lines line that is not a JSON object, a CSV line with more fields
    than its header). `settle` ends each file: one whose records are all bad is refused; one with some is refused
    too, naming how many and the first few, with the fix data.skip_bad_records (the Data tab's one click), unless
    that setting is on: then they are left out and `note` hands the count to the data report.

    The file goes on being read after a bad record, so the error counts all of them, not just the first."""

    def __init__(self, skip: bool = False, unit: str = "record"):
        self.skip, self.unit = skip, unit
        self.count = 0                                      # left out, all files together
        self.examples: list[str] = []                       # the first SHOWN_BAD of them: file, where and why
        self._found: dict[str, list[tuple[str, str]]] = {}  # file -> the first (where, message) not settled yet
        self._counts: dict[str, int] = {}                   # file -> bad records not settled yet

    def add(self, file: str, where: str, message: str) -> None:
        """One bad record of `file`, at `where` ("line 87"), with the DataError message that says why."""
        self._counts[file] = self._counts.get(file, 0) + 1
        found = self._found.setdefault(file, [])
        if len(found) < SHOWN_BAD:
            found.append((where, message))
            return
        # Readers and tasks find theirs apart (a broken line before a record without text): keep the first in the file.
        last = max(range(len(found)), key=lambda i: _position(found[i][0]))
        if _position(where) < _position(found[last][0]):
            found[last] = (where, message)

    def read(self, file: str, where: str, fn: Callable[..., Any], *args, **kwargs) -> Any:
        """fn(*args, **kwargs), or None where it finds the record bad. A DataError that carries a fix of its own
        (repair_bio) is not a bad record: reading the file with that fix is the better offer, so it goes on up."""
        try:
            return fn(*args, **kwargs)
        except DataError as e:
            if e.fix is not None:
                raise
            self.add(file, where, str(e))
            return None

    def pending(self, file: str) -> int:
        """Bad records of `file` found and not settled yet."""
        return self._counts.get(file, 0)

    def settle(self, file: str, good: int) -> None:
        """The end of `file`, of which `good` records were read: refused where it has bad ones (always when they
        are all bad), or, with skip on, its bad ones counted as left out."""
        n, found = self._counts.pop(file, 0), self._found.pop(file, [])
        if not n:
            return
        found.sort(key=lambda f: _position(f[0]))
        total, unit = good + n, self.unit
        first, listed = found[0][1], self._listing(file, found, n)
        if not good:
            if total == 1:
                raise DataError(first)
            raise DataError(f"{first} None of the {total:,} {unit}s of {file} can be read ({listed}); fix the file, "
                            "or check that it is the right one for this task.")
        if not self.skip:
            them = "it" if n == 1 else "them"
            where = "" if n == 1 else f" ({listed})"
            raise DataError(f"{first} {n:,} of the {total:,} {unit}s of {file} cannot be read{where}; fix or remove "
                            f"{them}, or turn on data.skip_bad_records (the Data tab offers it) to go on without "
                            f"{them}; the data report counts {them}.", fix="skip_bad_records")
        self.count += n
        room = SHOWN_BAD - len(self.examples)
        self.examples += [f"{file} {_reason(file, where, message)}" for where, message in found[:room]]

    def note(self, report: DataReport) -> DataReport:
        """The records left out, on the data report."""
        report.skipped_records, report.skipped_examples = self.count, list(self.examples)
        return report

    @staticmethod
    def _listing(file: str, found: list[tuple[str, str]], n: int) -> str:
        shown = "; ".join(_reason(file, where, message) for where, message in found)
        return shown + (f"; and {n - len(found):,} more" if n > len(found) else "")


def _position(where: str) -> int:
    """The number in "line 87", "record 3": where a record sits, to list bad ones in file order."""
    digits = re.search(r"\d+", where)
    return int(digits.group()) if digits else 0


def _reason(file: str, where: str, message: str) -> str:
    """A bad record's message as "line 87: turn 4 (assistant) of 'chosen' has no text": where it sits and what is
    wrong, without the file's name (said once) and what to do (said once for all of them)."""
    if message.startswith(file + " "):
        text = message[len(file) + 1:]
    else:
        text = f"{where}: {message[len(file) + 2:] if message.startswith(file + ': ') else message}"
    text = text.split("; ")[0].rstrip(".")
    return text if len(text) <= 120 else text[:119] + "…"


def skipped_warnings(r: DataReport, unit: str = "record") -> list[str]:
    """The data check's sentence on the records data.skip_bad_records left out, naming the first few and why."""
    if not r.skipped_records:
        return []
    listed = "; ".join(r.skipped_examples) + ("; …" if r.skipped_records > len(r.skipped_examples) else "")
    return [Text(f"{r.skipped_records:,} {unit}(s) could not be read and were left out (data.skip_bad_records): "
                 f"{listed}.",
                 f"{r.skipped_records:,} {UNITS_ZH.get(unit, '条记录')}无法读取，已跳过（data.skip_bad_records）："
                 f"{listed}。")]
