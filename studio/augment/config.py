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
                          "augmented.",
                          zh="每行训练数据生成的新行数，依次各用一种操作生成；0 关闭数据扩充。只扩充训练集："
                             "验证集和测试集的行从不扩充。", min=0, max=20)
    operations: str = setting("", "Comma-separated operations; empty takes the task's defaults. Text classification: "
                              "swap, delete, insert, synonym (words of the text; synonyms are the base model's nearest "
                              "word embeddings) and paraphrase (the generator rewrites the text: slow on CPU). Token "
                              "classification: mention (an entity swapped for another of its type from the training "
                              "set), token (a token swapped for another with the same tag), shuffle (tokens shuffled "
                              "within each same-tag segment).",
                              zh="逗号分隔的操作；留空则使用任务的默认操作。文本分类：swap、delete、insert、"
                                 "synonym（作用于文本中的词；同义词取基础模型中词向量最近的词）和 paraphrase（由生成模"
                                 "型改写文本：在 CPU 上较慢）。词元分类：mention（把实体换成训练集中同类型的另一个实体"
                                 "）、token（把词元换成标签相同的另一个词元）、shuffle（在标签相同的片段内打乱词元）。")
    strength: float = setting(0.1, "Share of a row's words (or entities) each operation changes; at least one.",
                              zh="每种操作改动一行中词（或实体）的比例；至少改动一个。",
                              min=0.01, max=0.5)
    max_new_rows: int | None = setting(None, "At most this many new rows in all (a seeded choice); paraphrases take "
                                       "about a second each on CPU, so cap them here. Empty: copies x training rows.",
                                       zh="新行总数上限（按种子抽取）；改写在 CPU 上每条约需一秒，可在此限制数量。"
                                          "留空：copies × 训练行数。",
                                       min=1)
    generator: str = setting("smollm2", "Paraphrase only: the causal language model that writes them (catalog name, "
                             "hub id or local folder).",
                             zh="仅用于改写（paraphrase）：负责改写的因果语言模型（模型目录名称、Hub ID 或"
                                "本地文件夹）。")

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
