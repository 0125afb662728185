"""Sequence-to-sequence: a source text in, a target text out (translation, summarisation, rewriting).

Scores are computed on generated text: BLEU and chrF from sacrebleu and ROUGE-L (the mean LCS F-measure
over lower-cased word tokens, x100) on sacrebleu's 0-100 scale, and exact match as a share (0-1) of
outputs equal to the reference after whitespace normalisation, like every share in the studio.

Records: one row per pair with a source and a target column (CSV, TSV, JSON, JSONL, Parquet). The columns are
the ones set (text_column, label_column), else a known name pair (source/target, article/summary, ...), two
language-code columns (en, fr: the first is the source), or the two text columns with the longer one as the
source; Hugging Face's {"translation": {"de": ..., "en": ...}} records count as a column per language.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.base.settings import setting
from studio.base.text import Text
from studio.tasks.base import (
    TEXT,
    DataFacts,
    MetricFacts,
    ModelFacts,
    PredictionRows,
    Task,
    TaskTexts,
    split_bars,
)
from studio.tasks.seq2seq.data import guess_columns, length_series, prepare_data
from studio.tasks.seq2seq.model import load_model, load_tokenizer
from studio.tasks.seq2seq.predict import card_usage, format_prediction
from studio.tasks.seq2seq.predict import predict as predict_inputs
from studio.tasks.seq2seq.report import test_report
from studio.tasks.seq2seq.tokens import collator, tokenize
from studio.tasks.seq2seq.training import trainer_parts


@dataclass
class Settings:
    """The settings sequence-to-sequence alone reads (cfg.task_args)."""

    max_target_length: int = setting(128, "Longest target in tokens; longer targets are truncated.",
                                     zh="目标文本的最大词元数；更长的目标会被截断。", min=4, max=32768,
                                     label=Text("Max target length (tokens)", "目标最大长度（词元）"))
    max_new_tokens: int = setting(64, "Most tokens generated per source when evaluating (and by default in the "
                                  "playground).",
                                  zh="评估时每条源文"
                                     "本最多生成的词"
                                     "元数（也是试用"
                                     "页的默认值）。", min=1, max=4096, label=Text("Max new tokens", "最多生成词元数"))


class GenerativeBase:
    """training.base_scores.UntrainedBase: the base model generates from the same test sources."""

    def base_note(self, cfg) -> Text:
        return Text("the base model generating from the same test sources, before any training",
                    "基础模型根据同样的测试源文本生成，未经任何训练")


class Playground:
    """serve.Playground: a source in, the generated target out."""

    panel = "generate"
    labels_files = False
    format_prediction = staticmethod(format_prediction)


class Card:
    """export.ModelCard."""

    pipeline_tag = "text2text-generation"
    model_kind = "sequence-to-sequence model"
    metrics_note = ("Scores compare greedy outputs with the references: BLEU and chrF (sacrebleu, corpus level) "
                    "and ROUGE-L (mean LCS F-measure over lower-cased words) on a 0-100 scale; exact match is the "
                    "share (0-1) of outputs equal to their reference.")
    onnx = False
    gguf = False
    usage = staticmethod(card_usage)


TASK = Task(
    name="seq2seq",
    warm_imports=("sacrebleu",),
    inputs=TEXT,
    texts=TaskTexts(title=Text("Sequence to sequence (translation, summaries)", "序列到序列（翻译、摘要）"),
                    data_hint=Text("a source column and a target column (CSV, TSV, JSON, JSONL, Parquet)",
                                   "一个源文本列和一个目标文本列（CSV、TSV、JSON、JSONL、Parquet）"),
                    inputs=(Text("Source column", "源文本列"),), answer=Text("Target column", "目标文本列"),
                    answer_info=Text("The text the model learns to generate.", "模型要学会生成的文本。"),
                    input_noun=Text("source", "源文本"), answer_noun=Text("target", "目标文本")),
    data=DataFacts(samples=("seq2seq_sample.csv",), file_types=(".csv", ".tsv", ".txt", ".json", ".jsonl", ".parquet"),
                   counts_chart=Text("Rows per split", "各划分的行数"),
                   lengths_chart=Text("Tokens per source and target", "源文本与目标文本的词元数"),
                   length_noun=Text("source", "源文本")),
    model=ModelFacts(peft_task_type="SEQ_2_SEQ_LM", auto_class="AutoModelForSeq2SeqLM", default_model="minilm-seq2seq",
                     catalog_models=("minilm-seq2seq",),
                     # All eight apply: each trains a tiny T5 in the seq2seq tests. On the MiniLM encoder-decoder IA3
                     # takes its decoder's modules and prefix/prompt the layer counts its build writes to config.
                     methods=("full", "freeze", "lora", "qlora", "dora", "adalora", "ia3", "prefix", "prompt")),
    metrics=MetricFacts(best=("chrf", "bleu", "rougeL", "loss"), test=("chrf", "bleu", "rougeL", "exact_match"),
                        plot=("chrf", "bleu", "rougeL")),
    predictions=PredictionRows(columns=("text", "reference", "output", "exact", "chrf")),
    settings=Settings,
    prepare_data=prepare_data, load_tokenizer=load_tokenizer, load_model=load_model, tokenize=tokenize,
    collator=collator, trainer_parts=trainer_parts, test_report=test_report, predict=predict_inputs,
    guess_columns=guess_columns, count_bars=split_bars, length_series=length_series,
    playground=Playground(), card=Card(),
    capabilities=(GenerativeBase(),),
)
