"""What augmentation asks of a task (Task.capabilities): the operations that apply and how to make a row."""

from __future__ import annotations

from typing import Any, Mapping, Protocol, runtime_checkable

from studio.base.text import Text


@runtime_checkable
class Augmentation(Protocol):
    """operations: name -> what it does; default_operations: those a run gets when it names none."""

    operations: Mapping[str, Text]
    default_operations: tuple[str, ...]

    def context(self, train, operations: list[str], model_path, generator: str | None) -> Any:
        """What the operations need, once per run (word lists, synonyms, a generator model)."""

    def augment(self, rows, operation: str, strength: float, seed: int, context) -> list[dict | None]:
        """One new row (a dict of the split's columns) or None per row."""
