"""RunConfig: one run's settings, its sections documented once, checked on every read.

The help text in each `setting(...)` is the single source for `studio train --help`, the docs and the UI's
tooltips; bounds in min/max/choices drive validation and the UI's sliders and dropdowns.

Reading a config checks it without looking at the machine (`validate`, on every load, also of a saved run's
config.json); what the machine must offer (GPUs for FSDP, a W&B login) is checked once where a run is created or
resumed (`check_machine`).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from studio import methods
from studio.augment.config import AugmentConfig
from studio.base import files, plain_yaml
from studio.base.cluster_address import ray_address
from studio.base.devices import resolve_device
from studio.base.errors import ConfigError, RunError
from studio.base.runfolder import RunFolder
from studio.base.settings import build, check_bounds, setting
from studio.base.text import Text
from studio.config.machine import (
    check_gpu_extras,
    check_launch,
    check_processes,
    check_rendezvous,
    check_sharding,
    check_tracking,
)
from studio.config.training import MOVED_TO_TASK_ARGS, TrainingConfig
from studio.data.config import DataConfig
from studio.distill.config import DistillConfig
from studio.tasks import DEFAULT_TASK, get_task, task_names

TASKS = task_names()
MAX_NAME_CHARS = 500  # a run's name and its model's: what lists and reports show
AUTO_MODEL = "auto"  # the task's default base for the run's data (Task.model.base_for), picked when a run is created
SECTIONS = {"data": DataConfig, "training": TrainingConfig, "augment": AugmentConfig, "distill": DistillConfig}


@dataclass
class RunConfig:
    task: str = setting(DEFAULT_TASK, "What the model learns.", zh="模型要学什么。", choices=TASKS)
    model: str = setting(AUTO_MODEL, "Base model: a catalog name, a Hugging Face hub id or a local folder; auto (or "
                         "left out) takes the task's default for the data: MiniLM for English classification, NER and "
                         "QA, multilingual-e5-small when most of the texts are Chinese, Japanese or Korean, SmolLM2 "
                         "for SFT, preference tuning and reinforcement learning.",
                         zh="基础模型：模型目录中的名称、Hugging Face Hub ID 或本地文件夹；auto（或不填）"
                            "按数据选用任务的默认模型：英文分类、NER 和问答用 MiniLM，文本大多为中文、"
                            "日文或韩文时用 multilingual-e5-small，SFT、偏好微调和强化学习用 SmolLM2。")
    method: str = setting("lora", "How the model is adapted: full, freeze, lora, dora, adalora, ia3, prefix or prompt.",
                          zh="模型的适配方式：full、freeze、lora、dora、adalora、ia3、prefix 或 prompt。")
    method_args: dict = setting({}, "Settings of the chosen method (see `studio methods`); empty takes its defaults.",
                                zh="所选方法的设置（见 `studio methods`）；留空则使用其默认值。")
    task_args: Any = setting(None, "Settings of the chosen task (see `studio tasks`); empty takes its defaults.",
                             zh="所选任务的设置（见 `studio tasks`）；留空则使用其默认值。")
    name: str | None = setting(None, "A label for the run in lists; defaults to model and method.",
                               zh="运行在列表中显示的名称；默认为模型和方法。")
    data: DataConfig = field(default_factory=DataConfig,
                             metadata={"help": Text("Where the data comes from and how it is split.",
                                                    "数据从哪里来，以及如何划分。")})
    training: TrainingConfig = field(default_factory=TrainingConfig,
                                     metadata={"help": Text("Optimisation settings.", "优化设置。")})
    augment: AugmentConfig = field(default_factory=AugmentConfig,
                                   metadata={"help": Text("New training rows made from the training split (off "
                                                          "by default).", "从训练集生成新的训练行（默认关闭）。")})
    distill: DistillConfig = field(default_factory=DistillConfig,
                                   metadata={"help": Text("A finished run that teaches this one (off by default).",
                                                          "由一个已完成的运行来教本运行（默认关闭）。")})

    def __post_init__(self):
        """task_args is always the task's own settings dataclass: defaults, a mapping, or another task's settings
        (after dataclasses.replace(cfg, task=...)) carried over by name."""
        if self.task not in TASKS:
            return  # validate() names the field
        own = get_task(self.task).settings
        if isinstance(self.task_args, own):
            return
        given = self.task_args if isinstance(self.task_args, dict) else (
            dataclasses.asdict(self.task_args) if dataclasses.is_dataclass(self.task_args) else {})
        names = {f.name for f in dataclasses.fields(own)}
        self.task_args = build(own, {k: v for k, v in given.items() if k in names}, "task_args.")

    # -- conversion -------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, raw: Any, base_dir: Path | None = None) -> "RunConfig":
        raw = _moved_settings(dict(raw) if isinstance(raw, dict) else raw)
        task_args = raw.pop("task_args", None) if isinstance(raw, dict) else None
        cfg = build(cls, raw, "")
        if cfg.task in TASKS:
            cfg.task_args = build(get_task(cfg.task).settings, task_args, "task_args.")
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
        is_yaml = path.suffix.lower() in (".yaml", ".yml")
        try:
            raw = plain_yaml.load(text, f"Config file {path}") if is_yaml else json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"Config file {path} is not valid JSON: {e}") from None
        return cls.from_dict(raw, base_dir=path.parent)

    # -- checks -----------------------------------------------------------
    def validate(self) -> None:
        """Check every field and how they go together; pure: no file, model or machine is looked at."""
        if self.task not in TASKS:
            raise ConfigError(f"task: unknown task {self.task!r}; choose one of {', '.join(TASKS)}.")
        task = get_task(self.task)
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigError("model: give a catalog name, a hub id or a local folder.")
        if len(self.model) > MAX_NAME_CHARS or (self.name and len(self.name) > MAX_NAME_CHARS):
            raise ConfigError(f"{'name' if self.name and len(self.name) > MAX_NAME_CHARS else 'model'}: at most "
                              f"{MAX_NAME_CHARS} characters.")
        if self.method not in methods.METHODS:
            raise ConfigError(f"method: unknown method {self.method!r}; choose one of {', '.join(methods.METHODS)}.")
        methods.resolve_args(self.method, self.method_args)
        if not self.data.train:
            raise ConfigError("data.train: give the path of the training file.")
        for prefix in SECTIONS:
            check_bounds(getattr(self, prefix), prefix)
        check_bounds(self.task_args, "task_args")
        d, t = self.data, self.training
        if d.names_of_ids() is not None and not task.has_labels:
            raise ConfigError(f"data.label_names: names class ids of labels or tags; {self.task} data has neither, "
                              "so leave it empty.")
        if d.validation is None and d.test is None and d.validation_fraction + d.test_fraction >= 0.9:
            raise ConfigError("data.validation_fraction + data.test_fraction must leave at least 10% for training.")
        if t.best_metric is not None and t.best_metric not in task.metrics.best:
            raise ConfigError(f"training.best_metric: {t.best_metric!r} is not a metric of {self.task}; "
                              f"choose one of {', '.join(task.metrics.best)}.")
        if self.method not in task.model.method_names():
            raise ConfigError(f"method: {self.method!r} does not apply to {self.task}; "
                              f"choose one of {', '.join(task.model.method_names())}.")
        if t.eval_strategy == "steps" and not t.eval_steps:
            raise ConfigError("training.eval_steps: set it when training.eval_strategy is 'steps'.")
        check_launch(t)
        self.augment.check(task)
        self.distill.check(task)

    def check_machine(self) -> None:
        """What this server must offer the run (GPUs for sharding, deepspeed, a W&B login), checked before a run
        exists rather than minutes into its launch. On a Ray cluster this machine may not be where the run trains:
        the node Ray places it on checks what it offers there (studio.runs.cluster.node, check_this_machine)."""
        check_rendezvous(self.training)
        if ray_address() is None:
            self.check_this_machine()

    def check_this_machine(self) -> None:
        """What the machine this runs on must offer the run."""
        check_sharding(self.training)
        check_gpu_extras(self.training)
        device = resolve_device(self.training.device)
        check_processes(self.training, device)
        method = methods.METHODS[self.method]
        if method.machine_check is not None:
            method.machine_check(device)
        check_tracking(self.training)

    def resolved(self) -> "RunConfig":
        """A copy with every method setting filled in and an `auto` model made the task's default (what a run
        folder records; Store.create picks the base for the data first, with_base)."""
        return dataclasses.replace(self.with_base(), method_args=methods.resolve_args(self.method, self.method_args))

    def with_base(self, cjk_share: float = 0.0) -> "RunConfig":
        """The config with an `auto` model made the task's base for data with this share of CJK letters."""
        if self.model.strip().lower() != AUTO_MODEL:
            return self
        return dataclasses.replace(self, model=get_task(self.task).model.base_for(cjk_share))

    def selection_metric(self) -> str:
        """The validation metric that picks the best checkpoint (the task's default when unset)."""
        return get_task(self.task).metrics.selection(self.training.best_metric)

    def learning_rate(self) -> float:
        """The peak learning rate: the one set, else the method's default on this task."""
        return self.training.learning_rate or get_task(self.task).model.learning_rate(self.method)

    def display_name(self) -> str:
        return self.name or f"{Path(self.model).name or self.model} · {self.method}"


def load_run_config(run_dir: Path) -> RunConfig:
    """The config a run folder was created with (checked, as every config is read)."""
    raw = files.read_json(RunFolder(run_dir).config)
    if raw is None:
        raise RunError(f"{run_dir}: config.json is missing or unreadable.")
    try:
        return RunConfig.from_dict(raw)
    except ConfigError as e:
        raise RunError(f"{run_dir}: {e}") from None


def _moved_settings(raw: Any) -> Any:
    """A config written before each task had its own settings: those training fields become task_args (the ones
    its task reads; the rest never applied to it)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("training"), dict):
        return raw
    moved = {k: raw["training"][k] for k in MOVED_TO_TASK_ARGS if k in raw["training"]}
    if not moved:
        return raw
    raw = {**raw, "training": {k: v for k, v in raw["training"].items() if k not in moved}}
    task = raw.get("task") or DEFAULT_TASK
    if task in TASKS and (raw.get("task_args") is None or isinstance(raw.get("task_args"), dict)):
        names = {f.name for f in dataclasses.fields(get_task(task).settings)}
        raw["task_args"] = {**{k: v for k, v in moved.items() if k in names}, **(raw.get("task_args") or {})}
    return raw


def _resolve_paths(data: DataConfig, base_dir: Path) -> DataConfig:
    for name in ("train", "validation", "test"):
        p = getattr(data, name)
        if p and not Path(p).is_absolute():
            cand = (base_dir / p)
            if cand.exists() or not Path(p).exists():
                setattr(data, name, str(cand.resolve()))
    return data
