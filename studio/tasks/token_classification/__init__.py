"""Token classification (named entities): CoNLL / JSON reading with BIO checks, sub-word label alignment,
seqeval metrics, and entity spans in typed text.

Data: CoNLL-style column files (token first, tag last, a blank line between sentences) or JSON/JSONL
records with a token list and a BIO tag list. Every split is a DataFrame with columns text (the tokens
joined by spaces), tokens and tags. The report's labels are the tag set (O, then B- and I- of every entity
type) and its label_counts count the tokens of each tag per split, so the CLI and the Data tab show the
tag set with its counts; the warnings count whole entities (a two-token "B-PER I-PER" is one PER).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from studio.base.text import Text
from studio.tasks.base import TEXT, DataFacts, MetricFacts, ModelFacts, PredictionRows, Task, TaskTexts
from studio.tasks.token_classification.data import CONLL_TYPES, prepare_data, sentence_lengths, tag_bars
from studio.tasks.token_classification.model import load_model, load_tokenizer
from studio.tasks.token_classification.predict import card_usage, format_prediction
from studio.tasks.token_classification.predict import predict as predict_inputs
from studio.tasks.token_classification.report import test_report
from studio.tasks.token_classification.tag_ops import (
    TagPools,
    pools,
    replace_mentions,
    replace_tokens,
    shuffle_segments,
)
from studio.tasks.token_classification.tokens import collator, tokenize
from studio.tasks.token_classification.training import trainer_parts

TAG_OPS = {"mention": replace_mentions, "token": replace_tokens, "shuffle": shuffle_segments}


class TagAugmentation:
    """augment.Augmentation: new sentences with valid BIO tags (Dai & Adel 2020)."""

    operations = {
        "mention": Text("swap an entity for another of its type from the training set",
                        "把实体换成训练集中同类型的另一个实体"),
        "token": Text("swap a token for another seen with the same tag", "把词元换成训练集中同标记的另一个词元"),
        "shuffle": Text("shuffle the tokens within each same-tag segment", "在同标记片段内打乱词元顺序"),
    }
    default_operations = ("mention",)

    def context(self, train: pd.DataFrame, operations: list[str], model_path, generator: str | None) -> TagPools:
        return pools([(list(map(str, t)), list(map(str, g))) for t, g in zip(train["tokens"], train["tags"])])

    def augment(self, rows: pd.DataFrame, operation: str, strength: float, seed: int,
                context: TagPools) -> list[dict | None]:
        """One new sentence per sentence with valid BIO tags, or None where the operation changed nothing."""
        rng, out = np.random.default_rng(seed), []
        for tokens, tags in zip(rows["tokens"], rows["tags"]):
            tokens, tags = list(map(str, tokens)), list(map(str, tags))
            new_tokens, new_tags = TAG_OPS[operation](tokens, tags, rng, strength, context)
            out.append(None if new_tokens == tokens else {"text": " ".join(new_tokens), "tokens": new_tokens,
                                                          "tags": new_tags})
        return out


class Playground:
    """serve.Playground: the entities of a typed text, highlighted."""

    panel = "entities"
    labels_files = False
    format_prediction = staticmethod(format_prediction)


class Card:
    """export.ModelCard."""

    pipeline_tag = "token-classification"
    model_kind = "named-entity tagger"
    metrics_note = ("Precision, recall and F1 are entity-level micro averages (seqeval: an entity counts only when "
                    "its type and every token match); token accuracy is over the first sub-token of each word.")
    onnx = False
    gguf = False
    usage = staticmethod(card_usage)


TASK = Task(
    name="token-classification",
    warm_imports=("seqeval.metrics",),
    inputs=TEXT,
    texts=TaskTexts(title=Text("Token classification (NER)", "词元分类（命名实体识别）"),
                    data_hint=Text("CoNLL columns (token ... BIO tag, a blank line between sentences) or JSON/JSONL "
                                   "with tokens and tags",
                                   "CoNLL 列格式（词元 … BIO 标签，句子之间空一行），或包含 tokens 和 tags "
                                   "的 JSON/JSONL"),
                    inputs=(Text("Tokens column", "词元列"),), answer=Text("Tags column", "标签序列列"),
                    answer_info=Text("The BIO tags of each sentence, one per token.",
                                     "每个句子的 BIO 标签，每个词元一个。"),
                    input_noun=Text("tokens", "词元"), answer_noun=Text("tags", "标签")),
    data=DataFacts(samples=("ner_sample.conll",), file_types=(*CONLL_TYPES, ".json", ".jsonl"),
                   table_types=(".json", ".jsonl"),  # .txt and .tsv are CoNLL column files here
                   label_noun=Text("tag", "标签"), counts_chart=Text("Tokens per tag", "各标签的词元数"),
                   lengths_chart=Text("Tokens per sentence", "每个句子的词元数"), length_noun=Text("sentence", "句子"),
                   bio_tags=True),
    model=ModelFacts(peft_task_type="TOKEN_CLS", auto_class="AutoModelForTokenClassification",
                     default_model="sentence-transformers/all-MiniLM-L6-v2",
                     catalog_models=("minilm", "minilm-l3", "multilingual-e5-small"),
                     multilingual_model="multilingual-e5-small",
                     # Prompt tuning prepends virtual tokens to the input, so peft's token-classification model
                     # returns logits for more positions than there are labels and the loss cannot be computed.
                     methods=("full", "freeze", "lora", "qlora", "dora", "adalora", "ia3", "prefix"),
                     # A fresh token head learns slowly at the adapters' 5e-4: on the bundled NER sample, MiniLM +
                     # LoRA tagged every token O after 2 epochs (entity F1 0.0) in the browser, while 2e-3 reaches
                     # F1 1.0 in 4 (bench/ner_before_after.py).
                     learning_rates={"lora": 2e-3, "dora": 2e-3, "adalora": 2e-3}),
    metrics=MetricFacts(best=("f1", "precision", "recall", "token_accuracy", "loss"),
                        test=("f1", "precision", "recall", "token_accuracy"), plot=("f1", "token_accuracy"),
                        labels={"eval_f1": Text("validation entity F1 (micro)", "验证实体 F1（微平均）"),
                                "eval_precision": Text("validation entity precision", "验证实体精确率"),
                                "eval_recall": Text("validation entity recall", "验证实体召回率")}),
    # "label" and "predicted" are the sentence with each entity's type marked; the least sure word's probability
    # is the sentence's confidence.
    predictions=PredictionRows(columns=("text", "label", "predicted", "confidence"), correct="correct",
                               confidence="confidence"),
    prepare_data=prepare_data, load_tokenizer=load_tokenizer, load_model=load_model, tokenize=tokenize,
    collator=collator, trainer_parts=trainer_parts, test_report=test_report, predict=predict_inputs,
    count_bars=tag_bars, length_series=sentence_lengths, playground=Playground(), card=Card(),
    capabilities=(TagAugmentation(),),
)
