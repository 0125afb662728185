"""Run configuration: one dataclass per section, each field documented once.

The help text in ``field(metadata={"help": ...})`` is the single source for
``studio train --help``, the docs and the UI's tooltips; bounds in ``min``/
``max``/``choices`` drive validation and the UI's sliders and dropdowns.

Reading a config checks it without looking at the machine (`validate`, on every load, also of a
saved run's config.json); what the machine must offer (GPUs for FSDP, a W&B login) is checked
once where a run is created or resumed (`check_machine`).
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from studio import augment, methods
from studio.base.errors import ConfigError, RunError
from studio.tasks import DEFAULT_TASK, all_tasks, get_task, task_names
from studio.base.runfolder import RunFolder

TASKS = task_names()
SCHEDULERS = ("linear", "cosine", "constant")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
EVAL_STRATEGIES = ("epoch", "steps")
# Validation metrics a run can be selected on; each task accepts its own subset (Task.best_metrics).
BEST_METRICS = tuple(dict.fromkeys(m for t in all_tasks() for m in t.best_metrics))
PREFERENCE_LOSSES = ("dpo", "orpo", "kto")
DPO_LOSS_TYPES = ("sigmoid", "ipo", "hinge", "robust")
HEAD_INITS = ("prototype", "random")
DISTRIBUTED = ("ddp", "fsdp", "deepspeed")


def _f(default, help: str, **meta):
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **meta})
    return field(default=default, metadata={"help": help, **meta})


@dataclass
class DataConfig:
    train: str = _f("", "Training file. Text classification: CSV, TSV, JSON, JSONL or Parquet with a text and a label column. "
                    "Token classification: CoNLL columns (token ... tag) or JSON/JSONL with tokens and BIO tags. "
                    "SFT: JSON/JSONL with instruction/input/output or chat messages. Seq2seq: source and target columns.")
    validation: str | None = _f(None, "Optional validation file; without it a stratified share of train is held out.")
    test: str | None = _f(None, "Optional test file; without it a stratified share of train is held out.")
    text_column: str | None = _f(None, "Column holding the input: the text (classification), the token list (NER), "
                                 "the source (seq2seq), the instruction or messages (SFT); detected when left empty.")
    label_column: str | None = _f(None, "Column holding the answer: the label (classification), the tag list (NER), "
                                  "the target (seq2seq), the output (SFT); detected when left empty.")
    header: bool = _f(True, "The first line of a CSV/TSV file names its columns. Off: every line is data (public sets "
                      "often come without a header), the columns are called column_1, column_2, ... and the text and "
                      "answer columns are found by their contents.")
    label_names: str | None = _f(None, "For files that store labels or BIO tags as numbers (class ids, as Hugging Face "
                                 "datasets export them): the names in id order, comma-separated, e.g. "
                                 "O, B-PER, I-PER, B-LOC, I-LOC. Empty when the file holds the names.")
    validation_fraction: float = _f(0.1, "Share of train held out for validation when no validation file is given; "
                                    "0 spends no rows on it: evaluation then reads the test rows.", min=0.0, max=0.5)
    test_fraction: float = _f(0.1, "Share of train held out for the test report when no test file is given.", min=0.0, max=0.5)
    split_seed: int = _f(42, "Seed of the stratified split, so the same file always splits the same way.", min=0)
    max_rows: int | None = _f(None, "Use at most this many training rows (stratified sample); empty for all.", min=1)

    def names_of_ids(self) -> list[str] | None:
        """label_names as a list (id 0 first), or None when unset."""
        if not self.label_names or not self.label_names.strip():
            return None
        names = [n.strip() for n in self.label_names.split(",")]
        if not all(names) or len(set(names)) != len(names):
            raise ConfigError("data.label_names: give each id's name once, comma-separated in id order "
                              "(e.g. O, B-PER, I-PER); empty names and repeats are not allowed.")
        return names


@dataclass
class TrainingConfig:
    epochs: float = _f(3.0, "Passes over the training data.", min=0.01, max=1000)
    learning_rate: float | None = _f(None, "Peak learning rate; empty takes the method's default (higher for adapters than for full fine-tuning).", min=1e-8, max=1.0)
    batch_size: int = _f(16, "Examples per device per step.", min=1, max=4096)
    gradient_accumulation_steps: int = _f(1, "Steps whose gradients add up before one optimizer update (effective batch = batch_size x this).", min=1, max=1024)
    max_length: int = _f(128, "Longest input in tokens; longer texts are truncated. Batches pad only to their own longest text.", min=8, max=32768)
    warmup_ratio: float = _f(0.06, "Share of the steps spent warming the learning rate up from zero.", min=0.0, max=0.5)
    scheduler: str = _f("linear", "How the learning rate decays after warm-up.", choices=SCHEDULERS)
    weight_decay: float = _f(0.01, "AdamW weight decay.", min=0.0, max=1.0)
    seed: int = _f(42, "Seed for initialisation, shuffling and dropout.", min=0)
    precision: str = _f("auto", "Number format: auto picks bf16 or fp16 on a GPU that supports it and fp32 on CPU.", choices=PRECISIONS)
    eval_strategy: str = _f("epoch", "Evaluate after every epoch, or every eval_steps steps.", choices=EVAL_STRATEGIES)
    eval_steps: int | None = _f(None, "Steps between evaluations when eval_strategy is 'steps'.", min=1)
    logging_steps: int = _f(10, "Steps between training-loss log lines (and live plot points).", min=1)
    early_stopping_patience: int | None = _f(None, "Stop after this many evaluations without improvement of best_metric; empty disables.", min=1)
    best_metric: str | None = _f(None, "Validation metric that picks the best checkpoint; empty takes the task's default "
                                 "(macro F1 for classification, entity F1 for NER, loss for SFT and preference, chrF for seq2seq).", choices=BEST_METRICS)
    save_total_limit: int = _f(2, "Checkpoints kept on disk (the best one is always kept).", min=1, max=100)
    head_init: str = _f("prototype", "Classification only: start the classification head from class prototypes (mean of a few examples per class) or from random weights. Prototypes reach good accuracy in far fewer steps.", choices=HEAD_INITS)
    group_by_length: bool = _f(True, "Batch texts of similar length together so less padding is computed.")
    gradient_checkpointing: bool = _f(False, "Keep only each layer's input during the forward pass and recompute the rest "
                                      "in the backward pass: far less activation memory for about a third more time "
                                      "per step. Turn on when a run does not fit.")
    max_new_tokens: int = _f(64, "SFT and seq2seq: most tokens generated per prompt when evaluating (and by default in the playground).", min=1, max=4096)
    max_target_length: int = _f(128, "Seq2seq: longest target in tokens; longer targets are truncated.", min=4, max=32768)
    sample_prompts: int = _f(3, "SFT: fixed validation prompts generated at each evaluation so progress shows as text.", min=0, max=20)
    preference_loss: str = _f("dpo", "Preference only: dpo (Direct Preference Optimization: pairs, against the base as "
                              "reference, which with adapters is the base with the adapter off), orpo (pairs, no reference "
                              "model: also learns the chosen answers, so it can start from a base that was never "
                              "instruction-tuned) or kto (also learns from unpaired good or bad answers).",
                              choices=PREFERENCE_LOSSES)
    beta: float = _f(0.1, "Preference only: how far the tuned model may move from the reference (DPO, KTO: higher stays "
                     "closer) or the weight of the preference term against the answers' likelihood (ORPO's lambda).",
                     min=0.001, max=10.0)
    dpo_loss_type: str = _f("sigmoid", "Preference, DPO only: sigmoid (the DPO paper), ipo (a squared loss that resists "
                            "overfitting small sets), hinge (SLiC) or robust (tolerates some flipped pairs).",
                            choices=DPO_LOSS_TYPES)
    score_base: bool = _f(True, "Also score the untrained base on the test split (cached per base model and split), so the "
                          "report shows whether fine-tuning helped; turn off for large bases, where generating on the "
                          "test split takes long.")
    device: str = _f("auto", "Where to train: auto (GPU when present), cpu, cuda or cuda:N. Runs on one device train one at a time.")
    num_processes: int = _f(1, "Processes training together, one per GPU (or CPU process); more than 1 launches the run with "
                            "accelerate (data-parallel). Across several machines this is the total over all of them.", min=1, max=1024)
    distributed: str = _f("ddp", "How several processes share the work: ddp copies the model to each; fsdp and deepspeed shard it "
                          "(GPU only, deepspeed must be installed). Used only when num_processes or num_machines is above 1.",
                          choices=DISTRIBUTED)
    num_machines: int = _f(1, "Machines training this run together; above 1, start the other machines' share with "
                           "`python -m studio.runs.distributed join RUN_DIR --machine-rank K` (the runs folder must be shared).", min=1, max=1024)
    main_process_ip: str | None = _f(None, "Several machines: the address of machine 0 (the one running the studio), which the others dial.")
    main_process_port: int | None = _f(None, "Port of the processes' rendezvous on machine 0; empty picks a free one (several machines need it set).",
                                       min=1, max=65535)
    tensorboard: bool = _f(True, "Write TensorBoard event files into the run's tensorboard folder (open with `tensorboard --logdir`).")
    wandb: bool = _f(False, "Also log to Weights & Biases (needs the wandb package and a `wandb login`).")
    wandb_project: str | None = _f(None, "Weights & Biases project; empty uses wandb's default (WANDB_PROJECT or 'huggingface').")


@dataclass
class AugmentConfig:
    copies: int = _f(0, "New training rows made from each training row, each by one of the operations in turn; 0 turns "
                     "augmentation off. Only the training split grows: validation and test rows are never augmented.",
                     min=0, max=20)
    operations: str = _f("", "Comma-separated operations; empty takes the task's defaults. Text classification: swap, "
                         "delete, insert, synonym (words of the text; synonyms are the base model's nearest word "
                         "embeddings) and paraphrase (the generator rewrites the text: slow on CPU). Token "
                         "classification: mention (an entity swapped for another of its type from the training "
                         "set), token (a token swapped for another with the same tag), shuffle (tokens shuffled "
                         "within each same-tag segment).")
    strength: float = _f(0.1, "Share of a row's words (or entities) each operation changes; at least one.", min=0.01, max=0.5)
    max_new_rows: int | None = _f(None, "At most this many new rows in all (a seeded choice); paraphrases take about a "
                                  "second each on CPU, so cap them here. Empty: copies x training rows.", min=1)
    generator: str = _f("smollm2", "Paraphrase only: the causal language model that writes them (catalog name, hub id "
                        "or local folder).")


@dataclass
class DistillConfig:
    teacher: str | None = _f(None, "Knowledge distillation: the id of a completed run of the same task and labels whose "
                             "model teaches this one (typically a bigger base, fully fine-tuned). Empty: no teacher.")
    temperature: float = _f(2.0, "Classification: softens the teacher's probabilities so the student also learns which "
                            "wrong classes it found close; 1 leaves them as they are. (SFT students learn the teacher's "
                            "answers instead: sequence-level distillation.)", min=1.0, max=20.0)
    alpha: float = _f(0.5, "Classification: weight of the teacher's softened probabilities in the loss; the rest goes "
                      "to the true labels. 1 learns from the teacher alone.", min=0.0, max=1.0)
    transfer: str | None = _f(None, "Optional file of unlabelled texts (a text column; labels, if any, are ignored) that "
                              "the teacher labels for the student: more to learn from than the labelled rows.")
    compare_alone: bool = _f(True, "Also queue the same student without the teacher (labels only, same data, epochs and "
                             "seed), so the report shows what the teacher added.")


@dataclass
class RunConfig:
    task: str = _f(DEFAULT_TASK, "What the model learns.", choices=TASKS)
    model: str = _f("sentence-transformers/all-MiniLM-L6-v2", "Base model: a catalog name, a Hugging Face hub id or a local folder; "
                    "left out of a config file, the task's default (MiniLM for classification and NER, SmolLM2 for SFT).")
    method: str = _f("lora", "How the model is adapted: full, freeze, lora, dora, adalora, ia3, prefix or prompt.")
    method_args: dict = _f({}, "Settings of the chosen method (see `studio methods`); empty takes its defaults.")
    name: str | None = _f(None, "A label for the run in lists; defaults to model and method.")
    data: DataConfig = field(default_factory=DataConfig, metadata={"help": "Where the data comes from and how it is split."})
    training: TrainingConfig = field(default_factory=TrainingConfig, metadata={"help": "Optimisation settings."})
    augment: AugmentConfig = field(default_factory=AugmentConfig,
                                   metadata={"help": "New training rows made from the training split (off by default)."})
    distill: DistillConfig = field(default_factory=DistillConfig,
                                   metadata={"help": "A finished run that teaches this one (off by default)."})

    # -- conversion -------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, raw: Any, base_dir: Path | None = None) -> "RunConfig":
        cfg = _build(cls, raw, "")
        if isinstance(raw, dict) and "model" not in raw and cfg.task in TASKS:
            cfg.model = get_task(cfg.task).default_model
        if base_dir is not None:
            cfg.data = _resolve_paths(cfg.data, base_dir)
        cfg.validate()
        return cfg

    @classmethod
    def load(cls, path: str | Path) -> "RunConfig":
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"Config file {path} does not exist.")
        text = path.read_text(encoding="utf-8")
        try:
            raw = yaml.safe_load(text) if path.suffix.lower() in (".yaml", ".yml") else json.loads(text)
        except (yaml.YAMLError, json.JSONDecodeError) as e:
            raise ConfigError(f"Config file {path} is not valid {'YAML' if path.suffix.lower() in ('.yaml', '.yml') else 'JSON'}: {e}") from None
        return cls.from_dict(raw, base_dir=path.parent)

    # -- checks -----------------------------------------------------------
    def validate(self) -> None:
        """Check every field and how they go together; pure: no file, model or machine is looked at."""
        if self.task not in TASKS:
            raise ConfigError(f"task: unknown task {self.task!r}; choose one of {', '.join(TASKS)}.")
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigError("model: give a catalog name, a hub id or a local folder.")
        if self.method not in methods.METHODS:
            raise ConfigError(f"method: unknown method {self.method!r}; choose one of {', '.join(methods.METHODS)}.")
        methods.resolve_args(self.method, self.method_args)
        if not self.data.train:
            raise ConfigError("data.train: give the path of the training file.")
        for section in (self.data, self.training, self.augment, self.distill):
            _check_bounds(section, type(section).__name__)
        d, t, task = self.data, self.training, get_task(self.task)
        if d.names_of_ids() is not None and not task.has_labels:
            raise ConfigError(f"data.label_names: names class ids of labels or tags; {self.task} data has neither, "
                              "so leave it empty.")
        if d.validation is None and d.test is None and d.validation_fraction + d.test_fraction >= 0.9:
            raise ConfigError("data.validation_fraction + data.test_fraction must leave at least 10% for training.")
        if t.best_metric is not None and t.best_metric not in task.best_metrics:
            raise ConfigError(f"training.best_metric: {t.best_metric!r} is not a metric of {self.task}; "
                              f"choose one of {', '.join(task.best_metrics)}.")
        if self.method not in task.method_names():
            raise ConfigError(f"method: {self.method!r} does not apply to {self.task}; "
                              f"choose one of {', '.join(task.method_names())}.")
        if t.eval_strategy == "steps" and not t.eval_steps:
            raise ConfigError("training.eval_steps: set it when training.eval_strategy is 'steps'.")
        _check_launch(t)
        augment.check(self.augment, task, self.task)
        _check_distill(self.distill, task, self.task)

    def check_machine(self) -> None:
        """What this server must offer the run (GPUs for sharding, deepspeed, a W&B login), checked before a run
        exists rather than minutes into its launch."""
        _check_sharding(self.training)
        _check_tracking(self.training)

    def resolved(self) -> "RunConfig":
        """A copy with every method setting filled in (what a run folder records)."""
        out = dataclasses.replace(self, method_args=methods.resolve_args(self.method, self.method_args))
        return out

    def selection_metric(self) -> str:
        """The validation metric that picks the best checkpoint (the task's default when unset)."""
        return get_task(self.task).selection_metric(self.training.best_metric)

    def learning_rate(self) -> float:
        """The peak learning rate: the one set, else the method's default on this task."""
        return self.training.learning_rate or get_task(self.task).learning_rate(self.method)

    def display_name(self) -> str:
        return self.name or f"{Path(self.model).name or self.model} · {self.method}"


def load_run_config(run_dir: Path) -> RunConfig:
    """The config a run folder was created with (checked, as every config is read)."""
    try:
        raw = json.loads((RunFolder(Path(run_dir)).config).read_text())
    except (FileNotFoundError, json.JSONDecodeError) as e:
        raise RunError(f"{run_dir}: config.json is missing or unreadable ({e}).") from None
    try:
        return RunConfig.from_dict(raw)
    except ConfigError as e:
        raise RunError(f"{run_dir}: {e}") from None


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _check_launch(t: TrainingConfig) -> None:
    """How several processes and machines must be set, before a run exists rather than minutes into its launch."""
    if t.num_machines > 1 and not t.main_process_ip:
        raise ConfigError("training.main_process_ip: set it to machine 0's address when training.num_machines is above 1.")
    if t.num_machines > 1 and not t.main_process_port:
        raise ConfigError("training.main_process_port: set a port open on machine 0 when training.num_machines is above 1.")
    if t.num_processes < t.num_machines:
        raise ConfigError("training.num_processes: give at least one process per machine (num_processes counts all machines).")
    if t.num_processes % t.num_machines:
        raise ConfigError(f"training.num_processes: {t.num_processes} does not split evenly over {t.num_machines} machines.")
    if t.num_processes > 1 and t.device.startswith("cuda:"):
        raise ConfigError("training.device: several processes take one GPU each from CUDA_VISIBLE_DEVICES; "
                          "set device to auto or cuda instead of one GPU.")
    if t.distributed != "ddp" and (t.num_processes > 1 or t.num_machines > 1) and t.device == "cpu":
        raise ConfigError(f"training.distributed: {t.distributed} shards the model over GPUs; use ddp to train on CPU.")


def _check_distill(d: DistillConfig, task, task_name: str) -> None:
    if d.transfer and not d.teacher:
        raise ConfigError("distill.transfer: a transfer file is labelled by a teacher; name one in distill.teacher.")
    if d.teacher and not task.distills:
        raise ConfigError(f"distill.teacher: {task_name} runs cannot be distilled yet (text classification and SFT can).")
    if d.transfer and task.test_report_metrics is None:
        raise ConfigError(f"distill.transfer: {task_name} students learn the teacher's answers to their own prompts; "
                          "a transfer file applies to text classification.")


def _check_sharding(t: TrainingConfig) -> None:
    if t.distributed == "ddp" or (t.num_processes == 1 and t.num_machines == 1):
        return
    if t.distributed == "deepspeed" and not _installed("deepspeed"):
        raise ConfigError("training.distributed: deepspeed is not installed; `pip install deepspeed` or choose ddp or fsdp.")
    import torch

    if not torch.cuda.is_available():
        raise ConfigError(f"training.distributed: {t.distributed} needs GPUs and this machine has none; use ddp.")


def _check_tracking(t: TrainingConfig) -> None:
    if t.wandb and not _installed("wandb"):
        raise ConfigError("training.wandb: the wandb package is not installed; install wandb or turn training.wandb off.")
    if t.wandb and wandb_login_missing():
        raise ConfigError("training.wandb: no Weights & Biases login on this server; run `wandb login` or set "
                          "WANDB_API_KEY where the studio runs, or set WANDB_MODE=offline to log into the run folder "
                          "(`wandb sync` uploads it later).")


def wandb_login_missing() -> bool:
    """True when wandb would have to ask for an API key: a background worker cannot answer, so the run would fail
    after it started. Offline and disabled modes need none. When it cannot tell, wandb decides in the worker."""
    import os

    if os.environ.get("WANDB_MODE", "").strip().lower() in ("offline", "dryrun", "disabled"):
        return False
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return False
    try:
        import wandb
        from wandb.sdk.lib.wbauth import authenticate  # no public call checks for a key without prompting

        return authenticate.authenticate_session(host=wandb.Settings().base_url, source="studio", prompt=False,
                                                 update_session=False) is None
    except Exception:  # noqa: BLE001 - another wandb version: let the worker's wandb.init say what is wrong
        return False


def _check_bounds(obj, section: str) -> None:
    prefix = {"DataConfig": "data", "TrainingConfig": "training", "AugmentConfig": "augment", "DistillConfig": "distill"}.get(section, section)
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if v is None:
            continue
        meta = f.metadata
        if "choices" in meta and v not in meta["choices"]:
            raise ConfigError(f"{prefix}.{f.name}: {v!r} is not one of {', '.join(map(str, meta['choices']))}.")
        if "min" in meta and isinstance(v, (int, float)) and v < meta["min"]:
            raise ConfigError(f"{prefix}.{f.name}: {v} is below the minimum {meta['min']}.")
        if "max" in meta and isinstance(v, (int, float)) and v > meta["max"]:
            raise ConfigError(f"{prefix}.{f.name}: {v} is above the maximum {meta['max']}.")


def _resolve_paths(data: DataConfig, base_dir: Path) -> DataConfig:
    for name in ("train", "validation", "test"):
        p = getattr(data, name)
        if p and not Path(p).is_absolute():
            cand = (base_dir / p)
            if cand.exists() or not Path(p).exists():
                setattr(data, name, str(cand.resolve()))
    return data


def _coerce(tp, value, where: str):
    """Convert a JSON/YAML scalar to the field's declared type, or say which field is wrong."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, where)
    if value is None:
        raise ConfigError(f"{where}: a value is required.")
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
            return value.lower() in ("true", "yes")
        raise ConfigError(f"{where}: expected true or false, got {value!r}.")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}.")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a whole number, got {value!r}.")
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}.")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}.")
    if tp is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{where}: expected text, got {type(value).__name__}.")
        return str(value)
    if tp is dict or origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping of settings, got {type(value).__name__}.")
        return dict(value)
    return value


def _known(name: str, names: set[str], limit: int = 240) -> str:
    """Every known name, or, where they would not fit in one line, the closest ones first."""
    listed = ", ".join(sorted(names))
    if len(listed) <= limit:
        return listed
    import difflib

    close = difflib.get_close_matches(name, names, n=5, cutoff=0.4)
    return f"{', '.join(close)} and {len(names) - len(close)} more (`studio train --help` lists them)"


def _build(cls, raw: Any, prefix: str):
    where = prefix.rstrip(".") or "config"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of settings, got {type(raw).__name__}.")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown setting; known ones are {_known(unknown[0], names)}.")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            continue
        tp = hints[f.name]
        if f.name == "label_names" and isinstance(raw[f.name], (list, tuple)):  # a YAML list reads as written
            raw = {**raw, f.name: ", ".join(str(n) for n in raw[f.name])}
        if dataclasses.is_dataclass(tp):
            kwargs[f.name] = _build(tp, raw[f.name], f"{prefix}{f.name}.")
        else:
            kwargs[f.name] = _coerce(tp, raw[f.name], f"{prefix}{f.name}")
    return cls(**kwargs)


def field_help(cls) -> list[dict[str, Any]]:
    """Describe every field of a config section (for --help, docs and UI forms)."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        out.append({"name": f.name, "type": tp, "default": default, **dict(f.metadata)})
    return out
