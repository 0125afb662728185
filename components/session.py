"""What a browser session carries from tab to tab (gr.State values), typed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from studio.tasks import DEFAULT_TASK


@dataclass(frozen=True)
class DataState:
    """The data a run will use, as the Data tab loaded and checked it."""

    path: str                        # the file on this server (a bundled sample or a stored upload)
    name: str                        # as the user knows it: the sample's or the uploaded file's name
    kind: str                        # "sample" or "upload"
    task: str = DEFAULT_TASK
    labels: tuple[str, ...] = ()     # the label or tag set its check found (empty for tasks without one)
    columns: tuple[str, ...] = ()    # the file's columns as read
    text_column: str | None = None   # what the check used: detected or chosen
    label_column: str | None = None
    context_column: str | None = None  # the second input, for tasks with two (a question's context)
    max_length: int | None = None    # the tokenizer's max_length its lengths were checked against
    cjk_share: float = 0.0           # words of its training inputs that are Chinese, Japanese or Korean
    failed: bool = False             # its last check refused it (the pickers then hold guesses, not choices)
    note: str = ""                   # what happened to the file ("Switched to NER: ... checked again"), kept for
                                     # the re-checks that follow (a new model's tokenizer), until the file changes
    read_with: tuple[tuple[str, Any], ...] = ()  # the Data tab's fields its last check read the file with (a one-click
                                     # fix's box included): a new tokenizer counts the file again as it was read

    def but(self, **changes) -> "DataState":
        return replace(self, **changes)


@dataclass(frozen=True)
class TokenizerChoice:
    """Whose tokenizer the Data tab counts lengths with (the Model tab sets it)."""

    model: str | None = None
    max_length: int | None = None
