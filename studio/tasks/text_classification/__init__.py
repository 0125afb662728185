"""Text classification: a text in, one of a fixed set of labels out.

Data: a table (CSV, TSV, JSON, JSONL, Parquet) with a text column and a label column, detected by name
or shape. Labels are cleaned (case and spacing variants merged, ids named by label_names), duplicates
dropped, and the split is stratified so every split keeps the class balance. Every split is a
DataFrame with columns text and label.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.base.settings import setting
from studio.base.text import Text
from studio.tasks.base import TEXT, DataFacts, MetricFacts, ModelFacts, PredictionRows, Task, TaskTexts
from studio.tasks.text_classification.augmentation import WordAugmentation
from studio.tasks.text_classification.data import guess_columns, labelled_rows, prepare_data
from studio.tasks.text_classification.model import load_model, load_tokenizer
from studio.tasks.text_classification.predict import card_usage, format_prediction
from studio.tasks.text_classification.predict import predict as predict_inputs
from studio.tasks.text_classification.report import metrics_from_logits, test_report
from studio.tasks.text_classification.tokens import collator, tokenize
from studio.tasks.text_classification.training import trainer_parts


@dataclass
class Settings:
    """The settings text classification alone reads (cfg.task_args)."""

    head_init: str = setting("prototype", "Start the classification head from class prototypes (the mean of the "
                             "training texts of each class) or from random weights. Prototypes reach good accuracy "
                             "in far fewer steps.",
                             zh="分类头的初始值取自类别原型（每个类别训练文本的平均值）还是随机权重。"
                                "用原型能在少得多的步数内达到不错的准确率。", choices=("prototype", "random"),
                             label=Text("Classifier head starts from", "分类头的初始值"))


class ClassifierHead:
    """training.head_init.PrototypeHead and training.base_scores.UntrainedBase: the head starts from class
    prototypes, so the untrained base is already a nearest-class-mean classifier worth scoring."""

    def prototype_head(self, task_args) -> bool:
        return task_args.head_init == "prototype"

    def base_note(self, cfg) -> Text | None:
        if not self.prototype_head(cfg.task_args):
            return None  # a random head scores chance
        return Text("the base model with its prototype head (class means of training texts), before any training",
                    "带原型分类头（训练文本的类别均值）的基础模型，未经任何训练")


class Playground:
    """serve.Playground: label probabilities for a typed text, or for a whole file."""

    panel = "classify"
    labels_files = True
    format_prediction = staticmethod(format_prediction)


class Card:
    """export.ModelCard."""

    pipeline_tag = "text-classification"
    model_kind = "text classifier"
    metrics_note = "Precision, recall and F1 are macro averages over the labels."
    onnx = True
    gguf = False
    usage = staticmethod(card_usage)


class Teaching:
    """distill.SoftLabels: a teacher's class probabilities teach a student."""

    metrics_from_logits = staticmethod(metrics_from_logits)


class RowLabels:
    """data.OneLabelPerRow: label review, active learning, labelling projects and transfer texts apply."""

    labelled_rows = staticmethod(labelled_rows)


TASK = Task(
    name="text-classification",
    warm_imports=("sklearn.metrics",),
    inputs=TEXT,
    texts=TaskTexts(title=Text("Text classification", "文本分类"),
                    data_hint=Text("a text column and a label column (CSV, TSV, JSON, JSONL, Parquet)",
                                   "一个文本列和一个标签列（CSV、TSV、JSON、JSONL、Parquet）"),
                    inputs=(Text("Text column", "文本列"),), answer=Text("Label column", "标签列"),
                    answer_info=Text("The class each text belongs to.", "每条文本所属的类别。"),
                    input_noun=Text("text", "文本"), answer_noun=Text("label", "标签")),
    data=DataFacts(samples=("support_tickets.csv", "sentiment_reviews.jsonl", "hotel_reviews_zh.csv"),
                   file_types=(".csv", ".tsv", ".txt", ".json", ".jsonl", ".parquet"),
                   label_noun=Text("label", "标签")),
    model=ModelFacts(peft_task_type="SEQ_CLS", auto_class="AutoModelForSequenceClassification",
                     default_model="sentence-transformers/all-MiniLM-L6-v2",
                     catalog_models=("minilm", "minilm-l3", "smollm2", "multilingual-e5-small"),
                     multilingual_model="multilingual-e5-small"),
    metrics=MetricFacts(best=("f1", "accuracy", "precision", "recall", "loss"),
                        test=("accuracy", "f1", "precision", "recall"),
                        plot=("accuracy", "f1"),
                        labels={"eval_f1": Text("validation F1 (macro)", "验证 F1（宏平均）")}),
    predictions=PredictionRows(columns=("text", "label", "predicted", "confidence"), correct="correct",
                               confidence="confidence", label="label"),
    settings=Settings,
    prepare_data=prepare_data, load_tokenizer=load_tokenizer, load_model=load_model, tokenize=tokenize,
    collator=collator, trainer_parts=trainer_parts, test_report=test_report, predict=predict_inputs,
    guess_columns=guess_columns,
    playground=Playground(), card=Card(),
    capabilities=(ClassifierHead(), Teaching(), WordAugmentation(), RowLabels()),
)
