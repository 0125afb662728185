"""What the Playground (and `studio predict`) asks of a task: a capability each task gives (Task.capabilities).

    playground = task.capability(Playground)     # None: runs of the task cannot be tried
    chat = task.capability(Chat)                  # tasks that stream a chat answer
"""

from __future__ import annotations

from typing import Any, Iterator, Protocol, runtime_checkable

PANELS = ("classify", "entities", "chat", "generate", "answer")


@runtime_checkable
class Playground(Protocol):
    """panel: which Playground panel tries the run (one of PANELS); labels_files: a finished run can label a
    whole file (studio.serve.label_file)."""

    panel: str
    labels_files: bool

    def format_prediction(self, text: str, pred: dict[str, Any]) -> str:
        """One line of `studio predict` output."""


@runtime_checkable
class Chat(Protocol):
    def stream_chat(self, model, tokenizer, messages: list[dict[str, str]], **settings) -> Iterator[str]:
        """The growing answer to a conversation."""
