"""What judges ask of a task (Task.capabilities): replies to score, and a place for the judges' rewards."""

from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable


@runtime_checkable
class JudgedReplies(Protocol):
    """A task whose training scores generated replies with rewards, some of which judges from outside it give."""

    def judges_named(self, cfg) -> dict[str, tuple[str, str]]:
        """The judges the run's settings name: "classifier": (run id, label), "code": (file path, function name)."""

    def with_judges(self, cfg, parts, judges: dict[str, Callable]) -> Any:
        """The trainer's parts (tasks.base.TrainerParts) with the judges' rewards in place. judges["classifier"]:
        texts -> each one's probability of the label; judges["code"]: the person's reward function, called as any
        reward is (prompts, completions, **columns)."""
