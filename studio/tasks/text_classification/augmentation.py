"""New training texts for a classifier (augment.Augmentation): word operations (EDA: swap, delete, insert,
synonyms from the base model's own word embeddings) and paraphrases written by a language model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from studio.base.text import Text
from studio.tasks.text_classification.paraphrase import load_generator, paraphrases
from studio.tasks.text_classification.word_ops import (
    content_words,
    delete,
    embedding_synonyms,
    insert,
    n_changed,
    replace_synonyms,
    swap,
)


@dataclass
class WordContext:
    vocabulary: list[str]                 # the training texts' content words, for insert
    synonyms: dict[str, list[str]]        # word -> near-synonyms, for synonym
    generator: Any = None                 # (model, tokenizer), for paraphrase


class WordAugmentation:
    """Each operation makes one new text per row and keeps its label."""

    operations = {
        "swap": Text("swap two words (strength x words times)", "交换两个词（次数 = 强度 × 词数）"),
        "delete": Text("drop words at random", "随机删除词"),
        "insert": Text("insert words from the training texts at random places", "在随机位置插入训练文本中的词"),
        "synonym": Text("replace words by near-synonyms (the base model's nearest word embeddings)",
                        "用近义词替换（基础模型词向量中最近的词）"),
        "paraphrase": Text("a language model rewrites the text (slow on CPU)", "由语言模型改写文本（CPU 上较慢）"),
    }
    default_operations = ("swap", "delete", "insert", "synonym")

    def context(self, train: pd.DataFrame, operations: list[str], model_path, generator: str | None) -> WordContext:
        words = content_words(train["text"])
        return WordContext(vocabulary=sorted(words),
                           synonyms=embedding_synonyms(model_path, words) if "synonym" in operations else {},
                           generator=load_generator(generator) if "paraphrase" in operations else None)

    def augment(self, rows: pd.DataFrame, operation: str, strength: float, seed: int,
                context: WordContext) -> list[dict | None]:
        """One new row per row (same label), or None where the operation left the text as it was."""
        if operation == "paraphrase":
            texts = paraphrases([str(t) for t in rows["text"]], context.generator, seed)
        else:
            rng = np.random.default_rng(seed)
            texts = [" ".join(_word_op(operation, str(t).split(), rng, strength, context)) for t in rows["text"]]
        return [None if new is None or new == str(old) else {"text": new, "label": label}
                for new, old, label in zip(texts, rows["text"], rows["label"])]


def _word_op(operation: str, words: list[str], rng: np.random.Generator, strength: float,
             ctx: WordContext) -> list[str]:
    n = n_changed(words, strength)
    if operation == "swap":
        return swap(words, rng, n)
    if operation == "delete":
        return delete(words, rng, n)
    if operation == "insert":
        return insert(words, rng, n, ctx.vocabulary)
    return replace_synonyms(words, rng, n, ctx.synonyms)
