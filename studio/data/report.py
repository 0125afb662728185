"""What reading a task's data gives: the splits, the label set and the data check's report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Protocol, runtime_checkable

import pandas as pd


@dataclass
class DataReport:
    text_column: str                   # the file's columns the studio read: the (first) input
    label_column: str                  # the answer
    columns: list[str]
    labels: list[str]
    rows: dict[str, int]
    label_counts: dict[str, dict[str, int]]
    dropped_empty: int = 0
    dropped_duplicates: int = 0
    conflicting_duplicates: int = 0
    label_merges: dict[str, str] = field(default_factory=dict)
    shared_between_splits: dict[str, int] = field(default_factory=dict)
    split_source: dict[str, str] = field(default_factory=dict)
    long_texts: int = 0                # training texts over LONG_TEXT_CHARS characters
    longest_text: int = 0              # characters in the longest training text
    token_lengths: dict[str, float] | None = None
    warnings: list[str] = field(default_factory=list)
    context_column: str | None = None  # the second input, for tasks with two (extractive QA's context)
    # words of the training inputs that are Chinese, Japanese or Korean (data.describe.cjk_share)
    cjk_share: float = 0.0
    repaired_tags: int = 0             # BIO tags data.repair_bio changed (an I-TYPE that started an entity)
    skipped_records: int = 0           # records data.skip_bad_records left out, unreadable (all files together)
    skipped_examples: list[str] = field(default_factory=list)  # the first few: file, where and why

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PreparedData:
    splits: dict[str, pd.DataFrame]  # the task's input columns (Task.inputs) and its own
    labels: list[str]
    report: DataReport

    def label2id(self) -> dict[str, int]:
        return {l: i for i, l in enumerate(self.labels)}


@dataclass
class LabelledRows:
    """A file's rows as one text and one label each: what label review, active learning and a distillation's
    transfer texts work on (a task's OneLabelPerRow capability gives it)."""

    texts: list[str]                 # what the encoder reads, one per row
    labels: list[str | None]         # each row's label as the studio names it; None: not labelled yet
    rows: list[int]                  # each row's position among the file's data rows (0 = first data row)
    text_column: str
    label_column: str | None         # None: the file has no label column (a pool of unlabelled texts)
    stored: Mapping[str, Any] = field(default_factory=dict)  # label -> what the file stores (a class id)

    def labelled(self) -> list[int]:
        """Positions (in these lists) of the rows that carry a label."""
        return [i for i, lab in enumerate(self.labels) if lab is not None]


@runtime_checkable
class OneLabelPerRow(Protocol):
    """The capability of a task whose rows carry one label each (text classification): label review, active
    learning, labelling projects and a distillation's transfer texts apply to it. Their Protocol lives here, below
    the tasks and both features that use it (studio.labels, studio.distill)."""

    def labelled_rows(self, cfg, unlabelled_ok: bool = False) -> LabelledRows:
        """cfg: a data.DataConfig. Its training file as one text and one label per row (unlabelled_ok: a pool
        without labels is read too)."""
