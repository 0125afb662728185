"""Look at a data file before training: preview, columns, split report, token lengths.

The Data tab and `studio` scripts call `check`; it runs the same `prepare_data` of the task a run
will, so what the page shows (rows per split, warnings, errors) is what training will get. A file
that cannot be prepared still gets its preview and columns where it reads as a table, so the user
can pick other columns or see what is wrong.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from studio import models
from studio.base import limits
from studio.base.errors import ConfigError, DataError
from studio.base.policy import local_models_allowed
from studio.base.text import Text
from studio.config import DataConfig, RunConfig
from studio.data import SUPPORTED, DataReport, read_table
from studio.data.describe import unknown_share
from studio.data.samples import SAMPLES_DIR
from studio.tasks import DEFAULT_TASK, all_tasks, get_task
from studio.training import lengths

COLUMN_FIELDS = ("text_column", "context_column", "label_column")  # the file's columns a DataConfig names
HISTOGRAM_SAMPLE = lengths.SAMPLE  # token lengths are counted on at most this many training rows (as a run does)


@dataclass
class DataCheck:
    preview: pd.DataFrame | None = None
    columns: list[str] = field(default_factory=list)
    text_column: str | None = None
    label_column: str | None = None
    context_column: str | None = None  # the second input, for tasks with two
    report: DataReport | None = None
    token_lengths: list[int] = field(default_factory=list)   # tokens per training row, as training sees it
    length_series: dict[str, list[int]] = field(default_factory=dict)  # the task's histograms (prompt, answer, ...)
    count_bars: tuple[str, str, dict] = ("label", "rows", {})  # (x title, y title, {series: {category: count}})
    tokenizer: str | None = None
    unknown_share: float = 0.0  # tokens the tokenizer reads as unknown ([UNK]), over a sample of training inputs
    fix: str | None = None      # the data setting that reads a refused file as it is (DataError.fix), if one does
    error: str | None = None
    max_length: int | None = None  # what the warnings were counted against: the one given, else the data's choice
    length_choice: dict | None = None  # studio.training.lengths.LengthChoice.to_dict() when chosen from the data

    @property
    def ok(self) -> bool:
        return self.error is None and self.report is not None


def data_suffixes() -> tuple[str, ...]:
    """Every file suffix some task reads: what a data upload may be."""
    return tuple(sorted({s for task in all_tasks() for s in task.data.file_types} | set(SUPPORTED)))


def list_samples(folder: Path = SAMPLES_DIR) -> dict[str, Path]:
    """Bundled sample datasets by file name (empty when the assets are not shipped)."""
    if not folder.is_dir():
        return {}
    named = {name for task in all_tasks() for name in task.data.samples}
    return {p.name: p for p in sorted(folder.iterdir()) if p.name in named and p.is_file()}


def sample_task(name: str) -> str:
    """The task a bundled sample is for."""
    return next((task.name for task in all_tasks() if name in task.data.samples), DEFAULT_TASK)


def samples_for(task: str, samples: dict[str, Path]) -> list[str]:
    """The bundled samples of one task, its default first."""
    return [n for n in get_task(task).data.samples if n in samples]


@functools.lru_cache(maxsize=8)
def _tokenizer(model: str, task: str):
    path = models.resolve(model, allow_local=local_models_allowed())
    return get_task(task).load_tokenizer(path)


def load_tokenizer(model: str | None, task: str = DEFAULT_TASK):
    """The model's tokenizer as the task loads it, or None when it cannot be loaded here (lengths are skipped)."""
    if not model:
        return None
    try:
        return _tokenizer(model.strip(), task)
    except Exception:  # an unreachable hub id or a broken folder must not block looking at data
        return None


def suffix_problem(path: str, spec) -> str | None:
    """A file this task does not read, in one sentence that names the tasks that do (None when it reads it)."""
    p = Path(path)
    ext = p.suffix.lower()
    if ext in spec.data.file_types or not p.exists():
        return None  # a missing file gets the reader's own message
    readers = [t.texts.title.en for t in all_tasks() if ext in t.data.file_types]
    kinds = ", ".join(s.lstrip(".").upper() for s in spec.data.file_types)
    if readers:
        return (f"{p.name}: {spec.texts.title.en} does not read {ext} files (it reads {kinds}); "
                f"{' and '.join(readers)} {'does' if len(readers) == 1 else 'do'}: pick that task, or upload a file "
                "for this one.")
    return f"{p.name}: unsupported file type {ext or '(none)'}; {spec.texts.title.en} reads {kinds}."


def read_preview(path: str, rows: int, task: str = DEFAULT_TASK, header: bool = True) -> pd.DataFrame | None:
    """The file's first rows as read, for a file the task reads as a table (None for CoNLL files, unreadable ones)."""
    if Path(path).suffix.lower() not in get_task(task).data.table_types:
        return None
    try:
        return read_table(path, header=header).head(rows)
    except DataError:
        return None


def check(cfg: DataConfig, model: str | None = None, max_length: int | None = None, preview_rows: int = 50,
          task: str = DEFAULT_TASK, run: RunConfig | None = None) -> DataCheck:
    """Preview and prepare cfg's data the way a run will; problems land in `.error`. Without a max_length, the one
    a run would choose from this data (studio.training.lengths; `run`: the rest of the run's settings, which the
    memory estimate reads) is chosen and the warnings are counted against it."""
    spec = get_task(task)
    out = DataCheck()
    wrong_kind = suffix_problem(cfg.train, spec)
    if wrong_kind:
        out.error = wrong_kind
        return out
    table = read_preview(cfg.train, preview_rows, task, cfg.header)
    if table is not None:
        out.preview, out.columns = shown(table), [str(c) for c in table.columns]
        # Columns a new file does not have fall back to detection, as a run's would.
        cfg = replace(cfg, **{k: getattr(cfg, k) if getattr(cfg, k) in out.columns else None for k in COLUMN_FIELDS})
        out.text_column, out.label_column, out.context_column = cfg.text_column, cfg.label_column, cfg.context_column
    tok = load_tokenizer(model, task)
    counted = None
    try:
        if max_length is None and tok is not None:
            out.length_choice, counted = choose_length(spec, cfg, model, tok, run)
            max_length = out.length_choice["value"]
        out.max_length = max_length
        prepared = spec.prepare_data(cfg, tokenizer=tok, max_length=max_length)
    except (DataError, ConfigError) as e:  # ConfigError: label_names that cannot name ids
        out.error, out.fix = str(e), getattr(e, "fix", None)
        if table is not None and out.text_column is None and out.label_column is None:
            out.text_column, out.label_column = spec.guess_columns(table)
        return out
    out.report = prepared.report
    out.text_column, out.label_column = prepared.report.text_column, prepared.report.label_column
    out.context_column = prepared.report.context_column
    out.count_bars = spec.count_bars(prepared)
    if out.preview is None:  # not a table (CoNLL): the prepared rows
        out.preview = shown(prepared.splits["train"].head(preview_rows))
        out.columns = list(prepared.report.columns)
    if tok is not None:
        train = prepared.splits["train"].head(HISTOGRAM_SAMPLE)
        # The same rows the choice counted (the split is seeded): counted once.
        out.token_lengths = counted if counted is not None else spec.count_tokens(train, tok)
        out.length_series = spec.length_series(train, tok)
        out.tokenizer = model
        out.unknown_share = unknown_share(spec.inputs.from_frame(train), tok)
        out.report.warnings += unreadable_warnings(out.unknown_share, model, spec, prepared.report.cjk_share)
    return out


def choose_length(spec, cfg: DataConfig, model: str, tokenizer, run: RunConfig | None) -> tuple[dict, list[int]]:
    """The max_length a run of this data would get (see studio.training.lengths), as a dict with its summary, and
    the token lengths it was chosen from."""
    first = spec.prepare_data(cfg)  # the rows as read, before anything is counted
    run = run or RunConfig(task=spec.name, model=model)
    run = replace(run, task=spec.name, model=model, data=cfg)
    counted = spec.count_tokens(first.splits["train"].head(lengths.SAMPLE), tokenizer)
    choice = lengths.choose(run, counted, max(len(first.labels), 2), limit=limits.current().max_length)
    return choice.to_dict(), counted


UNREADABLE = 0.05  # a tokenizer that reads this share of the tokens as unknown cannot see the texts


def unreadable_warnings(share: float, model: str, spec, cjk: float) -> list[Text]:
    """A sentence when the chosen model's tokenizer reads much of the data as unknown tokens, naming the task's
    multilingual base where the texts are mostly CJK."""
    if share < UNREADABLE:
        return []
    better = spec.model.base_for(cjk)
    if better == spec.model.default_model or models.find_entry(better) == models.find_entry(model):
        better = None
    en = (f"{share:.0%} of the tokens are unknown to {model}'s tokenizer ([UNK]): the model cannot read these texts, "
          "so it learns from what little is left.")
    zh = f"{share:.0%} 的词元对 {model} 的分词器是未知词（[UNK]）：模型读不懂这些文本，只能从剩下的少量内容中学习。"
    if better:
        en += f" Pick {better} in the Model tab: it reads Chinese, Japanese, Korean and about 100 other languages."
        zh += f"请在“模型”页选择 {better}：它能读中文、日文、韩文等约 100 种语言。"
    return [Text(en, zh=zh)]


def shown(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame whose cells a table can show: lists and records as one line of text."""
    return frame.map(lambda v: v if isinstance(v, (str, int, float, bool)) or v is None else _show(v))


def _show(v: Any) -> str:
    """Lists (tokens, tags, chat turns) as one readable cell."""
    try:
        seq = list(v)
    except TypeError:
        return str(v)
    if all(isinstance(x, str) for x in seq):
        return " ".join(seq)
    return json.dumps([dict(x) if hasattr(x, "keys") else x for x in seq], ensure_ascii=False, default=str)[:500]


def summary_rows(report: DataReport) -> list[dict[str, Any]]:
    """One row per split: rows, where it comes from, and its label counts."""
    rows = []
    for split in ("train", "validation", "test"):
        if split in report.rows:
            rows.append({"split": split, "rows": report.rows[split], "source": report.split_source.get(split, ""),
                         **report.label_counts.get(split, {})})
    return rows
