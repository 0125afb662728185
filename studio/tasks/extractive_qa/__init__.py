"""Extractive question answering: a question and a passage in, the span of the passage that answers it out.

Data: SQuAD-style records, as the field publishes them: the nested SQuAD JSON (data -> paragraphs -> qas), flat
records with question, context and answers ({"text": [...], "answer_start": [...]}, as Hugging Face datasets
exports them, or a list of {text, answer_start}), or a table (CSV, TSV, JSONL, Parquet) with question, context and
answer columns (answer_start optional: the answer is found in its context). Questions without an answer (SQuAD
2.0's unanswerable ones) and answers that are not in their context are left out and counted, not a reason to
refuse the file. Every split is a DataFrame with columns question, context, answer (the first answer), answer_start
(its character offset), answers (every accepted answer, JSON) and text (the question, as a person reads it).

Training reads each question with its context (only the context is truncated); a context longer than max_length
is read in overlapping windows (task_args.doc_stride), each labelled with the answer's first and last token, or
the first token where the window does not hold it. The best span over every window is the prediction: start and
end logits added, the end not before the start, at most task_args.max_answer_length tokens. Scores are SQuAD's:
exact match and token F1 after lower-casing and dropping punctuation and articles, against the best of the
question's answers, as shares (0-1).
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.base.settings import setting
from studio.base.text import Text
from studio.tasks.base import (
    QUESTION_CONTEXT,
    DataFacts,
    MetricFacts,
    ModelFacts,
    PredictionRows,
    Task,
    TaskTexts,
    split_bars,
)
from studio.tasks.extractive_qa.data import count_tokens, length_series, prepare_data
from studio.tasks.extractive_qa.model import load_model, load_tokenizer
from studio.tasks.extractive_qa.predict import card_usage, format_prediction
from studio.tasks.extractive_qa.predict import predict as predict_inputs
from studio.tasks.extractive_qa.report import test_report
from studio.tasks.extractive_qa.tokens import collator, tokenize
from studio.tasks.extractive_qa.training import trainer_parts


@dataclass
class Settings:
    """The settings extractive question answering alone reads (cfg.task_args)."""

    doc_stride: int = setting(64, "Tokens two windows of a long context share: a context longer than max_length is "
                              "read in overlapping windows so no answer is cut at a window's edge.",
                              zh="长上下文中相邻两个窗口重叠的词元数：比 max_length 长的上下文会分成相互重叠的窗口读取"
                                 "，这样答案不会在窗口边缘被截断。", min=8, max=4096,
                              label=Text("Window overlap (tokens)", "窗口重叠（词元）"))
    max_answer_length: int = setting(30, "Longest answer in tokens a prediction may be.",
                                     zh="预测答案的最大词元数。", min=1, max=512,
                                     label=Text("Longest answer (tokens)", "最长答案（词元）"))


# --------------------------------------------------------------------------------------------- capabilities --
class Playground:
    """serve.Playground: a question and a passage in, the answer highlighted in the passage."""

    panel = "answer"
    labels_files = False
    format_prediction = staticmethod(format_prediction)


class Card:
    """export.ModelCard."""

    pipeline_tag = "question-answering"
    model_kind = "extractive question-answering model"
    metrics_note = ("Exact match and F1 are SQuAD's: the predicted span against the best of each question's answers "
                    "after lower-casing and dropping punctuation and articles, as shares (0-1).")
    onnx = False
    gguf = False
    usage = staticmethod(card_usage)


TASK = Task(
    name="extractive-qa",
    inputs=QUESTION_CONTEXT,
    texts=TaskTexts(title=Text("Extractive question answering", "抽取式问答"),
                    data_hint=Text("SQuAD-style records: a question, its context and the answer found in it (JSON, "
                                   "JSONL, CSV, TSV, Parquet)",
                                   "SQuAD 格式的记录：问题、上下文以及上下文中的答案（JSON、JSONL、CSV、"
                                   "TSV、Parquet）"),
                    inputs=(Text("Question column", "问题列"), Text("Context column", "上下文列")),
                    answer=Text("Answer column", "答案列"),
                    answer_info=Text("The answer: a span of the context (its text, and where it starts if given).",
                                     "答案：上下文中的一段文字（可附起始位置）。"),
                    input_noun=Text("question", "问题"), answer_noun=Text("answer", "答案")),
    data=DataFacts(samples=("qa_sample.jsonl",), file_types=(".json", ".jsonl", ".csv", ".tsv", ".parquet"),
                   counts_chart=Text("Questions per split", "各划分的问题数"),
                   lengths_chart=Text("Tokens per question and context", "问题与上下文的词元数"),
                   length_noun=Text("question + context", "问题与上下文")),
    model=ModelFacts(peft_task_type="QUESTION_ANS", auto_class="AutoModelForQuestionAnswering",
                     default_model="sentence-transformers/all-MiniLM-L6-v2",
                     catalog_models=("minilm", "minilm-l3", "multilingual-e5-small"),
                     multilingual_model="multilingual-e5-small",
                     # Prompt tuning prepends virtual tokens, so the span head scores positions that are not the
                     # input's and the labelled token positions no longer line up; every other method applies.
                     methods=("full", "freeze", "lora", "qlora", "dora", "adalora", "ia3", "prefix"),
                     # A fresh span head, like a fresh tag head, learns slowly at the adapters' usual rate.
                     learning_rates={"lora": 2e-3, "dora": 2e-3, "adalora": 2e-3}),
    metrics=MetricFacts(best=("f1", "exact_match", "loss"), test=("exact_match", "f1"), plot=("exact_match", "f1")),
    predictions=PredictionRows(columns=("question", "answer", "predicted", "f1", "score", "context"), correct="exact",
                               confidence="score"),
    settings=Settings,
    prepare_data=prepare_data, load_tokenizer=load_tokenizer, load_model=load_model, tokenize=tokenize,
    collator=collator, trainer_parts=trainer_parts, test_report=test_report, predict=predict_inputs,
    count_tokens=count_tokens, count_bars=split_bars, length_series=length_series,
    playground=Playground(), card=Card(),
)
