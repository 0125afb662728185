"""The task contract: what the engine, the CLI, the UI, exports and reproduce scripts need from a task.

A task is one folder under studio/tasks/ whose `__init__.py` ends with `TASK = Task(...)`, and one line in the
registry (studio/tasks/__init__.py). Code outside studio/tasks/ asks the task for what it needs
(`get_task(cfg.task).metrics.best`, `.predict(...)`, `.capability(Augmentation)`); it never compares task names.

The contract has three parts, and "optional" means one thing in it: a capability.
- facts, in small records: what one example's input is (`inputs`, an InputKind: one text, or a question and
  its context), the page texts (`texts`), its data files (`data`), its models (`model`), its metrics
  (`metrics`), how its test predictions read (`predictions`), its own settings (`settings`, a dataclass that
  becomes `cfg.task_args`);
- behaviour every task has, functions with the signatures of the Protocols below: read and check data, load a
  tokenizer and a model, tokenise, collate, the Trainer's parts, the test report, predict, and the objects its
  playground and model card read (`playground`, `card`: every run can be tried and exported). A field with a
  default is still behaviour every task has: the default is the function most tasks use (no run check, no
  column guess, the length of the input text), never None;
- capabilities, objects a feature looks for with `task.capability(TheFeaturesProtocol)`: what applies to some
  tasks only. Each Protocol belongs to the feature that uses it (studio.augment.Augmentation,
  studio.distill.SoftLabels / SequenceLevel, studio.serve.Chat, studio.training.head_init.PrototypeHead,
  studio.training.base_scores.UntrainedBase; data.OneLabelPerRow, which label review and distillation share,
  lives below both); a task implements the ones that apply with objects of its own, without importing the
  feature, and a feature a task gives nothing for does not apply to it.

Adding a task
-------------
1. Write the package studio/tasks/<name>/ in the rooms every task has (ARCHITECTURE.md, "Rooms of a task"):
   data.py, model.py, tokens.py, training.py, report.py and predict.py hold the functions below; __init__.py
   holds its Settings, capability classes and, last, `TASK = Task(name=..., ...)`. Read and check data with
   studio.data's helpers (read_table, the split policy `split_rows`, the generic warnings); every split is a
   DataFrame with the InputKind's columns plus the task's own, and `prepare_data` returns a data.PreparedData.
   A chat task takes what chat tasks share from studio.tasks.chat; no task imports another.
2. Add one line to TASK_MODULES in studio/tasks/__init__.py.
3. Put a small sample of your own in assets/samples/ (listed in `data.samples`) and a config in examples/.
tests/studio/tasks/test_task_contract.py checks every registered task against this contract: facts filled,
functions with these parameters, capabilities that keep their feature's Protocol, its sample prepared, its
reproduce script compiled and checked; test_report_and_predict.py calls its test_report and predict on tiny inputs
and checks what they return; tests/test_layers.py checks its rooms.

Reproduce scripts copy a task's training functions (SCRIPT_PARTS) and whatever they call into a standalone
file (studio.export.script_source). So these functions, and the studio code they reach, name other studio
code directly (module-level `from studio.x import name`), never through a module (`data.read_table`) or an
import inside a function; the generator refuses what it cannot copy, and the contract test says where.
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, TypeVar

from studio.base.settings import NoSettings
from studio.base.text import Text
from studio.data.report import OneLabelPerRow, PreparedData
from studio.methods import METHODS

T = TypeVar("T")


# ------------------------------------------------------------------------------------------------ inputs --
@dataclass(frozen=True)
class InputKind:
    """What one example's input is made of: the split columns holding it, in order.

    One column (a text, a sentence, a prompt, a source) reaches `predict` as a string; several (a question and
    its context) as a dict of them. The Data tab shows one column picker per input column (`TaskTexts.inputs`),
    and data.DataConfig names them: text_column for the first, context_column for the second."""

    name: str
    columns: tuple[str, ...]

    def of(self, row: Mapping[str, Any]) -> Any:
        """One example's input from a split row."""
        if len(self.columns) == 1:
            return row[self.columns[0]]
        return {c: row[c] for c in self.columns}

    def from_frame(self, df) -> list:
        """Every example's input of a split, in order."""
        if len(self.columns) == 1:
            return df[self.columns[0]].tolist()
        return [dict(zip(self.columns, values)) for values in zip(*(df[c].tolist() for c in self.columns))]

    def shown(self, value: Any, limit: int = 300) -> str:
        """The input as a person reads it in a table or a summary line."""
        if isinstance(value, Mapping):
            return "  ·  ".join(str(value[c])[:limit] for c in self.columns if c in value)
        return str(value)


TEXT = InputKind("text", ("text",))                           # classification, NER, SFT, preference, seq2seq
QUESTION_CONTEXT = InputKind("question-context", ("question", "context"))  # extractive question answering


# ------------------------------------------------------------------------------------------------ facts --
@dataclass(frozen=True)
class TaskTexts:
    """What pages say of the task, each in English and Chinese."""

    title: Text                     # "Text classification"
    data_hint: Text                 # what its files hold, one line for the Data tab
    inputs: tuple[Text, ...]        # the column picker of each input column ("Text column")
    answer: Text                    # the answer column's picker ("Label column")
    answer_info: Text               # help under that picker
    input_noun: Text                # summary lines: "text", "tokens", "prompt", "source"
    answer_noun: Text               # "label", "tags", "answer", "target"


@dataclass(frozen=True)
class DataFacts:
    """The files the task reads and what its data check shows."""

    samples: tuple[str, ...]                   # bundled files in assets/samples (the first opens the Data tab)
    file_types: tuple[str, ...]                # file suffixes its data can come in
    table_types: tuple[str, ...] = (".csv", ".tsv", ".txt", ".json", ".jsonl", ".parquet")  # read as tables
    label_noun: Text | None = None             # what its label set is made of ("label", "tag"); None: no label set
    counts_chart: Text = Text("Rows per label", "各标签行数")
    lengths_chart: Text = Text("Tokens per training text", "训练文本的词元数")
    length_noun: Text = Text("text", "文本")   # "Tokens per text: median ..." in the data summary
    bio_tags: bool = False                     # its answers are BIO tags (data.repair_bio applies)


CJK_MAJORITY = 0.5  # a data set is "mostly CJK" from this share of its words


@dataclass(frozen=True)
class ModelFacts:
    """The models a task trains: their head, where a config without `model` starts, what applies."""

    peft_task_type: str              # peft's TaskType ("SEQ_CLS", "TOKEN_CLS", "CAUSAL_LM", "SEQ_2_SEQ_LM", ...)
    auto_class: str                  # the transformers Auto class that builds the model from its config
    default_model: str               # the base a config without `model` gets (bundled: runs offline)
    catalog_models: tuple[str, ...]  # catalog entries (studio.models) that suit it
    methods: tuple[str, ...] | None = None                              # None: every method
    learning_rates: Mapping[str, float] = field(default_factory=dict)   # its own defaults where a method's differ
    sequences_per_row: int = 1       # sequences one training row puts in a batch (a preference pair: two)
    script_requirements: tuple[str, ...] = ()  # pip packages a reproduce script needs beyond its imports
    multilingual_model: str | None = None  # the base for data that is mostly Chinese, Japanese or Korean

    def method_names(self) -> tuple[str, ...]:
        return self.methods if self.methods is not None else tuple(METHODS)

    def learning_rate(self, method: str) -> float:
        """The default peak learning rate of a method on this task."""
        return self.learning_rates.get(method, METHODS[method].learning_rate)

    def base_for(self, cjk_share: float = 0.0) -> str:
        """The base a run without a chosen model gets: the multilingual one when most words of its data are
        Chinese, Japanese or Korean (an English vocabulary reads them as unknown tokens), else the default."""
        if self.multilingual_model and cjk_share >= CJK_MAJORITY:
            return self.multilingual_model
        return self.default_model


LOWER_IS_BETTER = ("loss", "perplexity")


@dataclass(frozen=True)
class MetricFacts:
    """Its scores: which can pick the best checkpoint, which the test report holds, which are drawn live."""

    best: tuple[str, ...]            # validation metrics a run can be selected on; the first is the default
    test: tuple[str, ...]            # what its test report's "metrics" hold, in the order tables show them
    plot: tuple[str, ...]            # validation metrics drawn live, without "eval_"
    logged: tuple[str, ...] = ()     # validation metrics its trainer logs that are neither best nor test metrics
    steps: tuple[str, ...] = ()      # metrics its trainer also logs at training steps, drawn live beside `plot`
    labels: Mapping[str, Text] = field(default_factory=dict)  # {"eval_f1": Text(...)} where a name misleads

    def selection(self, chosen: str | None) -> str:
        return chosen or self.best[0]

    @staticmethod
    def greater_is_better(metric: str) -> bool:
        return metric not in LOWER_IS_BETTER


@dataclass(frozen=True)
class PredictionRows:
    """How its test predictions (test_predictions.jsonl, one dict per test example) read in the Runs tab."""

    columns: tuple[str, ...]         # the keys a table shows, in order
    correct: str | None = None       # a bool key saying the row was right; None: outputs beside references
    confidence: str | None = None    # a float key ordering the mistakes, most confident first
    label: str | None = None         # the key of the true label (the Runs tab filters by it)


# ------------------------------------------------------------------------------- behaviour (signatures) --
class PrepareData(Protocol):
    def __call__(self, cfg, tokenizer=None, max_length: int | None = None) -> PreparedData:
        """cfg: a data.DataConfig. Read, check, clean and split; a DataError names what to fix."""


class LoadTokenizer(Protocol):
    def __call__(self, path, **kw) -> Any: ...


class LoadModel(Protocol):
    def __call__(self, path, labels: list[str], tokenizer=None, **kw) -> Any:
        """labels are [] for tasks without a label set."""


class Tokenize(Protocol):
    def __call__(self, splits: dict, tokenizer, labels: list[str], cfg) -> dict:
        """{split: datasets.Dataset}, unpadded; cfg is the run config (training and task_args)."""


class MakeCollator(Protocol):
    def __call__(self, tokenizer, model=None) -> Any: ...


class MakeTrainerParts(Protocol):
    def __call__(self, cfg, tokenizer, labels: list[str], splits: dict) -> "TrainerParts":
        """What a reproduce script uses too."""


class TestReport(Protocol):
    def __call__(self, trainer, test_ds, test_df, labels: list[str], tokenizer, cfg) -> tuple[dict, list[dict]]:
        """(report with "metrics", one PredictionRows row per test example)."""


class Predict(Protocol):
    def __call__(self, model, tokenizer, inputs: list, **settings) -> list[dict]:
        """One dict per input (an InputKind value)."""


class CountTokens(Protocol):
    def __call__(self, df, tokenizer) -> list[int]:
        """Tokens per row of a split as training sees them (the length summary, truncation warnings)."""


class CheckRun(Protocol):
    def __call__(self, cfg, prepared: PreparedData) -> None:
        """A DataError when the data does not suit the run's settings (checked before a run exists)."""


class RunCallbacks(Protocol):
    def __call__(self, cfg, tokenizer, labels: list[str], splits: dict, run_dir) -> list:
        """TrainerCallbacks that write into the run folder (runs only, not reproduce scripts)."""


class GuessColumns(Protocol):
    def __call__(self, df) -> tuple[str | None, str | None]:
        """(input column, answer column) or Nones: what the pickers show for a file it cannot prepare."""


class CountBars(Protocol):
    def __call__(self, prepared: PreparedData) -> tuple[str, str, dict]:
        """(x axis title, y axis title, {series: {category: count}}): the data check's bars."""


class LengthSeries(Protocol):
    def __call__(self, df, tokenizer) -> dict[str, list[int]]:
        """{series: tokens per row}: the length histograms (their sum is count_tokens)."""


@dataclass
class TrainerParts:
    """What a task adds to the recipe's Trainer: metrics, and a Trainer/arguments class when the
    default one does not fit (seq2seq generates during evaluation)."""

    compute_metrics: Callable | None = None
    preprocess_logits_for_metrics: Callable | None = None
    trainer_cls: Any = None        # None: transformers.Trainer
    args_cls: Any = None           # None: transformers.TrainingArguments
    args: dict[str, Any] = field(default_factory=dict)
    collator: Any = None           # None: the task's collator (Task.collator); else this one, for a setting's sake
    # The collator to use instead where the attention kernel is not flash-attention 2: `collator` flattens each
    # batch into one row (padding-free), which pays only where the kernel keeps each sequence to itself.
    flat_fallback: Any = None
    # Training examples each dataset row becomes: GRPO writes num_generations replies to every prompt, and the
    # batch counts replies, so a run's steps are rows x this / batch.
    examples_per_row: int = 1


def no_run_callbacks(cfg, tokenizer, labels, splits, run_dir) -> list:
    return []


def no_run_check(cfg, prepared) -> None:
    """Every setting suits every data set the task prepares."""


def no_column_guess(df) -> tuple[str | None, str | None]:
    """No pickers filled for a file the task cannot prepare."""
    return None, None


def text_tokens(df, tokenizer, sample: int = 5000) -> list[int]:
    """Tokens of each input text (the split's "text" column), special tokens included, over the first `sample`."""
    texts = [str(t) for t in df["text"].head(sample)]
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]]


def input_lengths(df, tokenizer, sample: int = 5000) -> dict[str, list[int]]:
    """One histogram: tokens per input text (text_tokens)."""
    return {Text("text", "文本"): text_tokens(df, tokenizer, sample)}


def label_bars(prepared) -> tuple[str, str, dict[str, dict[str, int]]]:
    """The data check's bar chart for a task with labels: rows per label, one bar group per split."""
    return Text("label", "标签"), Text("rows", "行数"), prepared.report.label_counts


def split_bars(prepared) -> tuple[str, str, dict[str, dict[str, int]]]:
    """The bar chart for a task without labels: rows per split."""
    return Text("split", "划分"), Text("rows", "行数"), {"rows": dict(prepared.report.rows)}


# ------------------------------------------------------------------------------------------------ the task --
@dataclass(frozen=True, kw_only=True)
class Task:
    """One task's facts, behaviour and capabilities (see the module docstring)."""

    name: str                       # in configs, the CLI and run folders
    inputs: InputKind
    texts: TaskTexts
    data: DataFacts
    model: ModelFacts
    metrics: MetricFacts
    predictions: PredictionRows
    settings: type = NoSettings     # its own settings dataclass (setting() fields): a run's cfg.task_args

    prepare_data: PrepareData
    load_tokenizer: LoadTokenizer
    load_model: LoadModel
    tokenize: Tokenize
    collator: MakeCollator
    trainer_parts: MakeTrainerParts
    test_report: TestReport
    predict: Predict
    playground: Any                 # what the Playground tab reads (its Protocol: studio.serve.Playground)
    card: Any                       # what the exported model's card says (studio.export.ModelCard)
    count_tokens: CountTokens = text_tokens
    check_run: CheckRun = no_run_check
    run_callbacks: RunCallbacks = no_run_callbacks
    guess_columns: GuessColumns = no_column_guess
    count_bars: CountBars = label_bars
    length_series: LengthSeries = input_lengths

    capabilities: tuple[object, ...] = ()
    # Modules its runs import on first use (metrics, trainer classes): a spare worker (studio.runs.prewarm) imports
    # them ahead, so a run forked from it does not spend its first seconds on them. Missing ones are skipped.
    warm_imports: tuple[str, ...] = ()

    # ------------------------------------------------------------------------------ questions
    def capability(self, kind: type[T]) -> T | None:
        """The task's object for a feature's Protocol (isinstance-checkable), or None: the feature does not apply."""
        return next((c for c in self.capabilities if isinstance(c, kind)), None)

    @property
    def has_labels(self) -> bool:
        """A fixed label set (classes, tags): label_names applies and the data report counts each."""
        return self.data.label_noun is not None

    def rows_with_labels(self) -> OneLabelPerRow | None:
        """Its OneLabelPerRow capability: None where label review, active learning and transfer texts do not
        apply."""
        return self.capability(OneLabelPerRow)

    @property
    def reviews_labels(self) -> bool:
        """One label per row: label review, active learning and labelling projects apply."""
        return self.rows_with_labels() is not None


BEHAVIOUR: dict[str, type] = {
    "prepare_data": PrepareData, "load_tokenizer": LoadTokenizer, "load_model": LoadModel, "tokenize": Tokenize,
    "collator": MakeCollator, "trainer_parts": MakeTrainerParts, "test_report": TestReport, "predict": Predict,
    "count_tokens": CountTokens, "check_run": CheckRun, "run_callbacks": RunCallbacks, "guess_columns": GuessColumns,
    "count_bars": CountBars, "length_series": LengthSeries,
}
# The functions a reproduce script copies and calls (studio.export.reproduce_main).
SCRIPT_PARTS = ("load_tokenizer", "load_model", "tokenize", "collator", "trainer_parts", "test_report")


def parameters(fn) -> list[str]:
    """The named parameters a callable takes, without self, *args and **kwargs."""
    return [name for name, p in inspect.signature(fn).parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def signature_problems(owner: str, name: str, fn, protocol: type) -> list[str]:
    """What is wrong with `fn` against the parameters `protocol.__call__` names (the first ones must match)."""
    want, got = parameters(protocol.__call__), parameters(fn)
    return [] if got[:len(want)] == want else [f"{owner}: {name} takes {got}, the contract calls it with {want}"]


def contract_problems(task: Task) -> list[str]:
    """What a task lacks or gets wrong against the contract (empty when it keeps it). Capabilities are checked
    against their features' Protocols by the contract test, which may import the features."""
    problems = []
    for f in (task.texts, task.data, task.model, task.metrics):
        for k in dataclasses.fields(f):
            if getattr(f, k.name) in ("", ()) and k.name not in ("methods", "script_requirements", "logged",
                                                                        "steps"):
                problems.append(f"{task.name}: {type(f).__name__}.{k.name} is not set")
    if len(task.texts.inputs) != len(task.inputs.columns):
        problems.append(f"{task.name}: {len(task.inputs.columns)} input columns but {len(task.texts.inputs)} pickers")
    for name, protocol in BEHAVIOUR.items():
        fn = getattr(task, name)
        if not callable(fn):
            problems.append(f"{task.name}: {name} is not a function")
        else:
            problems += signature_problems(task.name, name, fn, protocol)
    for name in ("playground", "card"):
        if getattr(task, name) is None:
            problems.append(f"{task.name}: {name} is not set")
    for m in task.metrics.plot:
        if m not in (*task.metrics.best, *task.metrics.test, *task.metrics.logged, "loss"):
            problems.append(f"{task.name}: plot metric {m!r} is neither a best, a test nor a logged metric")
    unknown = [m for m in task.model.method_names() if m not in METHODS]
    if unknown:
        problems.append(f"{task.name}: unknown methods {unknown}")
    if not dataclasses.is_dataclass(task.settings):
        problems.append(f"{task.name}: settings must be a dataclass")
    else:
        problems += [f"{task.name}: setting {f.name} has no help" for f in dataclasses.fields(task.settings)
                     if not f.metadata.get("help")]
    return problems


def capability_problems(task: Task, protocol: type, cap: object) -> list[str]:
    """What a capability object gets wrong against its feature's Protocol: every method the Protocol names,
    taking the Protocol's parameters."""
    problems = []
    for name, member in vars(protocol).items():
        if name.startswith("_") or not callable(member):
            continue
        fn = getattr(cap, name, None)
        if fn is None:
            problems.append(f"{task.name}: {type(cap).__name__} lacks {protocol.__name__}.{name}")
            continue
        want, got = parameters(member), parameters(fn)
        if got[:len(want)] != want:
            problems.append(f"{task.name}: {type(cap).__name__}.{name} takes {got}, {protocol.__name__} calls it "
                            f"with {want}")
    return problems

