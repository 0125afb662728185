"""The augment section of a run config, and its check against the task (pure: config validation calls it)."""

from __future__ import annotations

from dataclasses import dataclass

from studio.augment.capability import Augmentation
from studio.base.errors import ConfigError
from studio.base.settings import setting

GENERATING = ("paraphrase",)  # operations that run a generator model (slow on CPU)


@dataclass
class AugmentConfig:
    copies: int = setting(0, "New training rows made from each training row, each by one of the operations in turn; 0 "
                          "turns augmentation off. Only the training split grows: validation and test rows are never "
                          "augmented.", min=0, max=20)
    operations: str = setting("", "Comma-separated operations; empty takes the task's defaults. Text classification: "
                              "swap, delete, insert, synonym (words of the text; synonyms are the base model's nearest "
                              "word embeddings) and paraphrase (the generator rewrites the text: slow on CPU). Token "
                              "classification: mention (an entity swapped for another of its type from the training "
                              "set), token (a token swapped for another with the same tag), shuffle (tokens shuffled "
                              "within each same-tag segment).")
    strength: float = setting(0.1, "Share of a row's words (or entities) each operation changes; at least one.",
                              min=0.01, max=0.5)
    max_new_rows: int | None = setting(None, "At most this many new rows in all (a seeded choice); paraphrases take "
                                       "about a second each on CPU, so cap them here. Empty: copies x training rows.",
                                       min=1)
    generator: str = setting("smollm2", "Paraphrase only: the causal language model that writes them (catalog name, "
                             "hub id or local folder).")

    def check(self, task) -> None:
        """This section against the task: its operations must be the task's."""
        if not self.copies:
            return
        cap = task.capability(Augmentation)
        if cap is None:
            raise ConfigError(f"augment.copies: {task.name} data cannot be augmented; set copies to 0.")
        ops = operations(self, task)
        unknown = [o for o in ops if o not in cap.operations]
        if unknown:
            raise ConfigError(f"augment.operations: {unknown[0]!r} does not apply to {task.name}; choose from "
                              f"{', '.join(cap.operations)}.")
        if len(set(ops)) != len(ops):
            raise ConfigError("augment.operations: name each operation once.")
        if any(o in GENERATING for o in ops) and not (self.generator or "").strip():
            raise ConfigError("augment.generator: paraphrase needs a causal language model to write them; give a "
                              "catalog name (smollm2), a hub id or a local folder.")


def operations(acfg, task) -> list[str]:
    """The operations a run applies: those named, else the task's defaults."""
    named = [o.strip() for o in (acfg.operations or "").split(",") if o.strip()]
    cap = task.capability(Augmentation)
    return named or list(cap.default_operations if cap else ())
