"""The task contract: everything the engine, the CLI, the UI, exports and reproduce scripts need from a task.

A task is one module under studio/tasks/ that ends with `TASK = Task(...)`, and one line in the
registry (studio/tasks/__init__.py). Code outside studio/tasks/ asks the task for what it needs
(`get_task(cfg.task).has_labels`, `.playground`, `.test_report(...)`); it never compares task names.

Adding a task
-------------
1. Write studio/tasks/<name>.py with the functions below and, last, `TASK = Task(name=..., ...)`.
   Read and check data with studio.data's shared helpers (read_table, random_split, the generic
   warnings); every split is a DataFrame with a "text" column (the input as a person reads it) plus
   the task's own columns, and `prepare_data` returns a data.PreparedData.
2. Add one line to TASK_MODULES in studio/tasks/__init__.py.
3. Put a small sample of your own in assets/samples/ (listed in `samples`) and a config in examples/.
tests/studio/test_task_contract.py checks every registered task against this contract: fields filled,
functions with the parameters below, its sample prepared, its reproduce script compiled and checked.

Reproduce scripts copy a task's training functions (load_tokenizer, load_model, tokenize, collator,
trainer_parts, test_report) and whatever they call into a standalone file (studio.export.script_source).
So these functions, and the studio code they reach, name other studio code directly (module-level
`from studio.x import name`), never through a module (`data.read_table`) or an import inside a
function; the generator refuses what it cannot copy, and the contract test says where.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Mapping, NamedTuple, Sequence

from studio.methods import METHODS


class Text(NamedTuple):
    """A text the page shows, in English and Simplified Chinese (components.i18n.t takes both)."""

    en: str
    zh: str


@dataclass
class TrainerParts:
    """What a task adds to the recipe's Trainer: metrics, and a Trainer/arguments class when the
    default one does not fit (seq2seq generates during evaluation)."""

    compute_metrics: Callable | None = None
    preprocess_logits_for_metrics: Callable | None = None
    trainer_cls: Any = None        # None: transformers.Trainer
    args_cls: Any = None           # None: transformers.TrainingArguments
    args: dict[str, Any] = field(default_factory=dict)


PLAYGROUNDS = ("classify", "entities", "chat", "generate")


@dataclass
class LabelledRows:
    """A file's rows as one text and one label each: what label review (studio.labels.label_review) and active
    learning (studio.labels.query_strategies) work on."""

    texts: list[str]                 # what the encoder reads, one per row
    labels: list[str | None]         # each row's label as the studio names it; None: not labelled yet
    rows: list[int]                  # each row's position among the file's data rows (0 = first data row)
    text_column: str
    label_column: str | None         # None: the file has no label column (a pool of unlabelled texts)
    stored: Mapping[str, Any] = field(default_factory=dict)  # label -> what the file stores (a class id)

    def labelled(self) -> list[int]:
        """Positions (in these lists) of the rows that carry a label."""
        return [i for i, lab in enumerate(self.labels) if lab is not None]


def no_run_callbacks(cfg, tokenizer, labels, splits, run_dir) -> list:
    return []


def text_tokens(df, tokenizer, sample: int = 5000) -> list[int]:
    """Tokens of each input text (the split's "text" column), special tokens included, over the first `sample`."""
    texts = [str(t) for t in df["text"].head(sample)]
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]]


def label_bars(prepared) -> tuple[str, str, dict[str, dict[str, int]]]:
    """The data check's bar chart for a task with labels: rows per label, one bar group per split."""
    return "label", "rows", prepared.report.label_counts


def split_bars(prepared) -> tuple[str, str, dict[str, dict[str, int]]]:
    """The bar chart for a task without labels: rows per split."""
    return "split", "rows", {"rows": dict(prepared.report.rows)}


@dataclass(frozen=True)
class Task:
    """One task's capabilities, page texts and behaviour (see the module docstring)."""

    # ---------------------------------------------------------------- identity and page texts
    name: str                       # in configs, the CLI and run folders
    title: Text                     # "Text classification"
    data_hint: Text                 # what its files hold, one line for the Data tab
    input_column: Text              # what the first column picker means ("Text column")
    answer_column: Text             # what the second one means ("Label column")
    answer_info: Text               # help under the second picker
    input_noun: str                 # summary lines: "text", "tokens", "prompt", "source"
    answer_noun: str                # "label", "tags", "answer", "target"
    label_noun: str | None          # what its label set is made of ("label", "tag"); None: no label set
    samples: tuple[str, ...]        # bundled files in assets/samples (the first opens the Data tab)
    file_types: tuple[str, ...]     # file suffixes its data can come in

    # ----------------------------------------------------------------------------- capabilities
    peft_task_type: str             # peft's TaskType ("SEQ_CLS", "TOKEN_CLS", "CAUSAL_LM", "SEQ_2_SEQ_LM")
    default_model: str              # the base a config without `model` gets (bundled: runs offline)
    catalog_models: tuple[str, ...]  # catalog entries (studio.models) that suit it
    best_metrics: tuple[str, ...]   # validation metrics a run can be selected on; the first is the default
    test_metrics: tuple[str, ...]   # what its test report's "metrics" hold, in the order tables show them
    plot_metrics: tuple[str, ...]   # validation metrics drawn live, without "eval_"
    playground: str                 # the Playground panel: one of PLAYGROUNDS
    methods: tuple[str, ...] | None = None       # the methods that apply; None: every one in studio.methods
    learning_rates: Mapping[str, float] = field(default_factory=dict)  # its own defaults where a method's differ
    metric_labels: Mapping[str, str] = field(default_factory=dict)     # {"eval_f1": "..."} where a name misleads
    own_settings: tuple[str, ...] = ()  # training settings only this task reads (the Model tab shows them with it)
    sequences_per_row: int = 1      # sequences one training row puts in a batch (the memory estimate)
    logged_metrics: tuple[str, ...] = ()  # validation metrics its trainer logs that are neither best nor test metrics
    head_init: bool = False         # training.head_init (class prototypes) applies
    labels_files: bool = False      # a finished run can label a whole file (Playground, studio.serve.label_file)
    onnx: bool = False              # ONNX export applies (encoder classifiers)
    script_requirements: tuple[str, ...] = ()  # pip packages a reproduce script needs beyond what its code imports
    table_types: tuple[str, ...] = (".csv", ".tsv", ".txt", ".json", ".jsonl", ".parquet")  # files it reads as tables

    # ------------------------------------------------------------------------------ model card
    pipeline_tag: str = ""
    card_kind: str = ""             # "text classifier"
    card_metrics_note: str = ""
    card_usage: Callable[[bool, Sequence[str]], list[str]] | None = None  # (is_adapter, labels) -> Python lines

    # -------------------------------------------------------------------------------- behaviour
    # (cfg: DataConfig, tokenizer=None, max_length=None) -> data.PreparedData; a DataError names what to fix
    prepare_data: Callable[..., Any] | None = None
    # (path, **kw) -> tokenizer
    load_tokenizer: Callable[..., Any] | None = None
    # (path, labels, tokenizer=None, **kw) -> model; labels are [] for tasks without a label set
    load_model: Callable[..., Any] | None = None
    # (splits, tokenizer, labels, training) -> {split: datasets.Dataset}, unpadded
    tokenize: Callable[..., Any] | None = None
    # (tokenizer, model=None) -> the data collator
    collator: Callable[..., Any] | None = None
    # (cfg, tokenizer, labels, splits) -> TrainerParts (what a reproduce script uses too)
    trainer_parts: Callable[..., TrainerParts] | None = None
    # (trainer, test_ds, test_df, labels, tokenizer, cfg) -> (report with "metrics", one row per test example)
    test_report: Callable[..., tuple[dict, list[dict]]] | None = None
    # (model, tokenizer, texts, **settings) -> one dict per text
    predict: Callable[..., list[dict]] | None = None
    # (text, prediction) -> one line of `studio predict`
    format_prediction: Callable[[str, dict], str] | None = None
    # (df, tokenizer) -> tokens per row of a split, as training sees them (the length summary, truncation warnings)
    count_tokens: Callable[..., list[int]] = text_tokens
    # The data check's two charts: what its bars count, and the token lengths drawn (one histogram per series).
    counts_chart: Text = Text("Rows per label", "各标签行数")
    lengths_chart: Text = Text("Tokens per training text", "训练文本的词元数")
    length_noun: str = "text"       # "Tokens per text: median ..." in the data summary
    # (prepared data) -> (x axis title, y axis title, {series: {category: count}}): the bars of counts_chart
    count_bars: Callable[..., tuple[str, str, dict]] = label_bars
    # (df, tokenizer) -> {series: tokens per row}: the histograms of lengths_chart (their sum is count_tokens)
    length_series: Callable[..., dict[str, list[int]]] | None = None
    # (cfg, tokenizer, labels, splits, run_dir) -> TrainerCallbacks that write into the run folder (studio only)
    run_callbacks: Callable[..., list] = no_run_callbacks
    # (model, tokenizer, messages, **settings) -> the growing answer; tasks that chat (the Playground's chat)
    stream_chat: Callable[..., Any] | None = None
    # (table) -> (input column, answer column) or Nones: what the Data tab's pickers show for a file it cannot prepare
    guess_columns: Callable[..., tuple[str | None, str | None]] | None = None
    # (cfg) -> what the untrained starting point is, where scoring it means something (studio.training.base_scores), else None
    base_note: Callable[..., Text | None] | None = None
    # (cfg: DataConfig, unlabelled_ok=False) -> LabelledRows of its training file: one text and one label per row.
    # None: the task has no one label per row, so label review and active learning do not apply.
    labelled_rows: Callable[..., LabelledRows] | None = None
    # (cfg, prepared) -> None: a DataError when the data does not suit the run's settings (checked before a run exists)
    check_run: Callable[..., None] | None = None
    # Data augmentation (studio.augment): the operations that apply (name -> what it does), those a run gets when it
    # names none, what they need once per run (train split, operations, base model path, generator name) -> context,
    # and the operation itself: (rows, operation, strength, seed, context) -> one new row (a dict of the split's
    # columns) or None per row.
    augmentations: Mapping[str, Text] = field(default_factory=dict)
    default_augmentations: tuple[str, ...] = ()
    augment_context: Callable[..., Any] | None = None
    augment: Callable[..., list] | None = None
    # Knowledge distillation (studio.distill), one of two kinds. Soft labels: (logits, true class ids) -> test
    # metrics, where a teacher's class probabilities can teach a student (one label per text). Sequence level:
    # (train split, teacher model, its tokenizer, max_new_tokens) -> the split with the teacher's answers as targets.
    test_report_metrics: Callable[..., dict] | None = None
    teacher_answers: Callable[..., Any] | None = None

    # ------------------------------------------------------------------------------ questions
    @property
    def distills(self) -> bool:
        """A finished run can teach a new run (studio.distill): by its class probabilities or its answers."""
        return self.test_report_metrics is not None or self.teacher_answers is not None

    @property
    def has_labels(self) -> bool:
        """A fixed label set (classes, tags): label_names applies and the data report counts each."""
        return self.label_noun is not None

    @property
    def reviews_labels(self) -> bool:
        """One label per row: label review and active learning apply."""
        return self.labelled_rows is not None

    def method_names(self) -> tuple[str, ...]:
        return self.methods if self.methods is not None else tuple(METHODS)

    def learning_rate(self, method: str) -> float:
        """The default peak learning rate of a method on this task."""
        return self.learning_rates.get(method, METHODS[method].learning_rate)

    def selection_metric(self, chosen: str | None) -> str:
        return chosen or self.best_metrics[0]

    def lengths(self, df, tokenizer) -> dict[str, list[int]]:
        """The token-length histograms of a split: the task's own series, else one of its inputs' lengths."""
        if self.length_series is not None:
            return self.length_series(df, tokenizer)
        return {self.length_noun: self.count_tokens(df, tokenizer)}


# What each behaviour is called with: the contract test checks every task's functions take these.
SIGNATURES: dict[str, tuple[str, ...]] = {
    "prepare_data": ("cfg", "tokenizer", "max_length"),
    "load_tokenizer": ("path",),
    "load_model": ("path", "labels", "tokenizer"),
    "tokenize": ("splits", "tokenizer", "labels", "training"),
    "collator": ("tokenizer", "model"),
    "trainer_parts": ("cfg", "tokenizer", "labels", "splits"),
    "test_report": ("trainer", "test_ds", "test_df", "labels", "tokenizer", "cfg"),
    "predict": ("model", "tokenizer", "texts"),
    "format_prediction": ("text", "pred"),
    "run_callbacks": ("cfg", "tokenizer", "labels", "splits", "run_dir"),
    "count_tokens": ("df", "tokenizer"),
    "count_bars": ("prepared",),
    "card_usage": ("is_adapter", "labels"),
    "stream_chat": ("model", "tokenizer", "messages"),
    "guess_columns": ("df",),
    "base_note": ("cfg",),
    "labelled_rows": ("cfg", "unlabelled_ok"),
    "check_run": ("cfg", "prepared"),
    "augment_context": ("train", "operations", "model_path", "generator"),
    "augment": ("rows", "operation", "strength", "seed", "context"),
    "test_report_metrics": ("logits", "y"),
    "teacher_answers": ("train", "teacher_model", "teacher_tokenizer", "max_new_tokens"),
}
OPTIONAL = ("stream_chat", "guess_columns", "base_note", "length_series", "labelled_rows", "check_run",
            "augment_context", "augment", "test_report_metrics", "teacher_answers")
# The functions a reproduce script copies and calls (studio.export.reproduce_main).
SCRIPT_PARTS = ("load_tokenizer", "load_model", "tokenize", "collator", "trainer_parts", "test_report")


def contract_problems(task: Task) -> list[str]:
    """What a task lacks or gets wrong against the contract (empty when it keeps it)."""
    problems = []
    for f in fields(task):
        value = getattr(task, f.name)
        if f.name in OPTIONAL or f.name in ("label_noun", "methods", "learning_rates", "metric_labels", "head_init",
                                            "labels_files", "onnx", "script_requirements", "table_types",
                                            "logged_metrics", "sequences_per_row", "own_settings",
                                            "augmentations", "default_augmentations"):
            continue
        if value in (None, "", ()):
            problems.append(f"{task.name}: {f.name} is not set")
    for name, params in SIGNATURES.items():
        fn = getattr(task, name)
        if fn is None:
            continue
        got = list(inspect.signature(fn).parameters)
        if got[:len(params)] != list(params):
            problems.append(f"{task.name}: {name} takes {got}, the contract calls it with {list(params)}")
    if task.playground not in PLAYGROUNDS:
        problems.append(f"{task.name}: playground {task.playground!r} is not one of {PLAYGROUNDS}")
    if task.playground == "chat" and task.stream_chat is None:
        problems.append(f"{task.name}: a chat playground needs stream_chat")
    for m in task.plot_metrics:
        if m not in (*task.best_metrics, *task.test_metrics, *task.logged_metrics, "loss"):
            problems.append(f"{task.name}: plot metric {m!r} is neither a best, a test nor a logged metric")
    if bool(task.augmentations) != (task.augment is not None and task.augment_context is not None):
        problems.append(f"{task.name}: augmentations, augment and augment_context come together")
    if any(o not in task.augmentations for o in task.default_augmentations):
        problems.append(f"{task.name}: a default augmentation is not one of its augmentations")
    unknown = [m for m in task.method_names() if m not in METHODS]
    if unknown:
        problems.append(f"{task.name}: unknown methods {unknown}")
    return problems
