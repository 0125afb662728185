"""Local benchmark files: a multiple-choice file in the shape C-Eval, CMMLU and MMLU publish, or a generation file
with references, read, checked and written as an lm-eval task over local data (an offline machine has no hub).

Multiple choice: a question column and one column per choice (A, B, C, D, up to J) with the answer's letter
(C-Eval's `id,question,A,B,C,D,answer,explanation`, CMMLU's `,Question,A,B,C,D,Answer`, MMLU's headerless CSVs
`question,A,B,C,D,answer`), or MMLU's hub shape (`question`, a `choices` list, `answer` as 0-based index or letter).
Generation: a prompt column (question, prompt, input, instruction) and a reference column (reference, answer,
output, target) whose values are texts rather than letters.

Each becomes rows {"question", "choices", "letters", "answer"} or {"question", "reference"} in JSON Lines beside an
lm-eval YAML config (`dataset_path: json` over that file); the task's prompt is the one these benchmarks use
("Answer:", or "答案：" where the questions are Chinese).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from studio.data import DataError
from studio.data.reading import check_file, read_table

LETTERS = "ABCDEFGHIJ"
QUESTION_COLUMNS = ("question", "prompt", "input", "instruction", "query")
REFERENCE_COLUMNS = ("reference", "answer", "output", "target", "response")
MAX_QUESTIONS = 100_000
MAX_CHARS = 20_000  # one question or choice; longer is not a benchmark question but a pasted document
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass
class TaskFile:
    """One local benchmark, read and checked: its lm-eval task name, kind and normalised rows."""

    name: str          # the lm-eval task name (local_<file name>)
    source: str        # the file's name as the person gave it
    kind: str          # multiple_choice | generation
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def chinese(self) -> bool:
        sample = " ".join(r["question"] for r in self.rows[:50])
        return len(_CJK.findall(sample)) > len(sample) / 10

    def write(self, folder: Path, max_new_tokens: int = 64) -> Path:
        """The rows as JSON Lines and the lm-eval YAML over them, in `folder`; returns the YAML's path."""
        import yaml

        folder.mkdir(parents=True, exist_ok=True)
        data = folder / f"{self.name}.jsonl"
        data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in self.rows), encoding="utf-8")
        answer = "答案：" if self.chinese else "Answer:"
        config: dict[str, Any] = {"task": self.name, "dataset_path": "json",
                                  "dataset_kwargs": {"data_files": {"test": str(data.resolve())}},
                                  "test_split": "test", "metadata": {"version": 1, "source": self.source}}
        if self.kind == "multiple_choice":
            config.update({
                "output_type": "multiple_choice",
                "doc_to_text": "{{question.strip()}}\n{% for c in choices %}{{letters[loop.index0]}}. {{c}}\n"
                               "{% endfor %}" + answer,
                "doc_to_choice": "letters", "doc_to_target": "answer", "target_delimiter": " ",
                "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}]})
        else:
            config.update({
                "output_type": "generate_until",
                "doc_to_text": "{{question.strip()}}", "doc_to_target": "{{reference}}",
                "generation_kwargs": {"until": ["\n\n"], "max_gen_toks": int(max_new_tokens), "do_sample": False},
                # the answer without the spaces around it (the regex filter strips what it matches)
                "filter_list": [{"name": "strip", "filter": [
                    {"function": "regex", "regex_pattern": "(?s)^.*$", "fallback": ""}, {"function": "take_first"}]}],
                "metric_list": [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True,
                                 "ignore_case": True, "ignore_punctuation": True},
                                {"metric": "chrf", "aggregation": "chrf", "higher_is_better": True}]})
        path = folder / f"{self.name}.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return path


def task_name(path: str | Path) -> str:
    """local_<file name>, in the letters lm-eval's task names take."""
    stem = re.sub(r"[^0-9A-Za-z_]+", "_", Path(path).name).strip("_").lower() or "file"
    return f"local_{stem[:60]}"


def _columns(df: pd.DataFrame) -> dict[str, str]:
    """Lower-cased column name -> the column as written (CMMLU writes Question, Answer)."""
    return {str(c).strip().lower(): c for c in df.columns}


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return str(value).strip()


def _where(df: pd.DataFrame, i: int) -> str:
    places = df.attrs.get("places")
    return f"row {places[i]}" if places and i < len(places) else f"question {i + 1}"


def read_task_file(path: str | Path, display: str | None = None) -> TaskFile:
    """The file as a benchmark, or a DataError naming the file, the row and what to fix."""
    p = check_file(str(path), "Benchmark", empty="a header row and at least one question")
    name = display or p.name
    df = read_table(str(p), role="Benchmark")
    cols = _columns(df)
    if not any(c in cols for c in QUESTION_COLUMNS) and p.suffix.lower() in (".csv", ".tsv", ".txt"):
        headerless = read_table(str(p), role="Benchmark", header=False)
        if 4 <= len(headerless.columns) <= 12:  # MMLU's CSVs: question, the choices, the answer letter; no header
            n = len(headerless.columns) - 2
            headerless.columns = ["question", *LETTERS[:n], "answer"]
            df, cols = headerless, _columns(headerless)
    if len(df) > MAX_QUESTIONS:
        raise DataError(f"{name} has {len(df):,} questions; a benchmark file may have at most {MAX_QUESTIONS:,}.")
    question = next((cols[c] for c in QUESTION_COLUMNS if c in cols), None)
    if question is None:
        raise DataError(f"{name} has no question column (columns: {', '.join(map(str, df.columns))}); a benchmark "
                        "file needs question and A, B, C, D with answer (multiple choice, as C-Eval and MMLU), or "
                        "question and reference (generation).")
    letters = [cols[c.lower()] for c in LETTERS if c.lower() in cols]
    if len(letters) >= 2 or "choices" in cols:
        rows = _multiple_choice(df, name, question, letters, cols)
        kind = "multiple_choice"
    else:
        rows = _generation(df, name, question, cols)
        kind = "generation"
    return TaskFile(task_name(name), name, kind, rows)


def _answer_column(cols: dict[str, str], name: str) -> str:
    answer = cols.get("answer") or cols.get("label") or cols.get("target")
    if answer is None:
        raise DataError(f"{name} has choices but no answer column; add answer with the right choice's letter "
                        "(A, B, C, ...).")
    return answer


def _multiple_choice(df: pd.DataFrame, name: str, question: str, letters: list[str], cols: dict[str, str]
                     ) -> list[dict[str, Any]]:
    answer = _answer_column(cols, name)
    if letters and [str(c).strip().upper() for c in letters] != list(LETTERS[:len(letters)]):
        raise DataError(f"{name}: the choice columns are {', '.join(map(str, letters))}; they must run A, B, C, ... "
                        "without a gap.")
    rows = []
    for i, rec in enumerate(df.to_dict("records")):
        q = _text(rec[question])
        if letters:
            choices = [_text(rec[c]) for c in letters]
        else:
            choices = _choice_list(rec[cols["choices"]], name, _where(df, i))
        given = _text(rec[answer])
        where = f"{name}, {_where(df, i)}"
        if not q:
            raise DataError(f"{where}: the question is empty.")
        if len(choices) < 2 or len(choices) > len(LETTERS):
            raise DataError(f"{where}: {len(choices)} choices; a question needs 2 to {len(LETTERS)}.")
        if any(not c for c in choices):
            empty = LETTERS[choices.index("")]
            raise DataError(f"{where}: choice {empty} is empty.")
        if max(len(q), *(len(c) for c in choices)) > MAX_CHARS:
            raise DataError(f"{where}: a question or choice is longer than {MAX_CHARS:,} characters.")
        index = _answer_index(given, len(choices))
        if index is None:
            raise DataError(f"{where}: answer {given!r} is not one of the choices' letters "
                            f"({', '.join(LETTERS[:len(choices)])}).")
        rows.append({"question": q, "choices": choices, "letters": list(LETTERS[:len(choices)]), "answer": index})
    return rows


def _choice_list(value: Any, name: str, where: str) -> list[str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise DataError(f"{name}, {where}: choices is not a list of texts.")
    return [_text(v) for v in value]


def _answer_index(given: str, n: int) -> int | None:
    """A letter (A, b, "(C)", "D." ) or a 0-based index, as MMLU's hub copy writes it."""
    letter = given.strip().strip("().").upper()
    if len(letter) == 1 and letter in LETTERS[:n]:
        return LETTERS.index(letter)
    if re.fullmatch(r"\d+", given) and int(given) < n:
        return int(given)
    return None


def _generation(df: pd.DataFrame, name: str, question: str, cols: dict[str, str]) -> list[dict[str, Any]]:
    reference = next((cols[c] for c in REFERENCE_COLUMNS if c in cols and cols[c] != question), None)
    if reference is None:
        raise DataError(f"{name} has a question column but neither choices (A, B, C, D with answer) nor a reference "
                        "column with the expected answer.")
    rows = []
    for i, rec in enumerate(df.to_dict("records")):
        q, ref = _text(rec[question]), _text(rec[reference])
        where = f"{name}, {_where(df, i)}"
        if not q:
            raise DataError(f"{where}: the question is empty.")
        if not ref:
            raise DataError(f"{where}: the reference answer is empty.")
        if max(len(q), len(ref)) > MAX_CHARS:
            raise DataError(f"{where}: a question or reference is longer than {MAX_CHARS:,} characters.")
        rows.append({"question": q, "reference": ref})
    return rows
