"""What the Playground (and `studio predict`) asks of a task.

    task.playground                               # every task's: its panel, how a prediction reads
    chat = task.capability(Chat)                  # tasks that stream a chat answer (None: the others)
"""

from __future__ import annotations

from typing import Any, Iterator, Protocol, runtime_checkable


@runtime_checkable
class Playground(Protocol):
    """What every task's `playground` keeps. panel: which Playground panel tries the run (classify, entities,
    chat, generate or answer: a key of components.tabs.playground_tab.PANEL_BUILDERS); labels_files: a finished
    run can label a whole file (studio.serve.label_file)."""

    panel: str
    labels_files: bool

    def format_prediction(self, text: str, pred: dict[str, Any]) -> str:
        """One line of `studio predict` output."""


@runtime_checkable
class Chat(Protocol):
    def stream_chat(self, model, tokenizer, messages: list[dict[str, str]], **settings) -> Iterator[str]:
        """The growing answer to a conversation."""
