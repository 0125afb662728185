"""Form fields built from the engine's config dataclasses, and forms turned back into configs.

Bounds, choices, defaults, labels and help come from the `setting()` fields of the
engine's settings dataclasses (config sections, each method's and each task's
settings: studio.base.settings), so the page never restates them.
Form values are passed to handlers by name (gradio's `inputs_kwargs`), and
those names are the API parameter names too: `epochs`, `lora_r`, ...
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from typing import Any, Callable

import gradio as gr

from components.i18n import t
from components.session import DataState
from studio import methods
from studio.base.settings import base_type
from studio.base.text import pick
from studio.config import AugmentConfig, DataConfig, DistillConfig, RunConfig, TrainingConfig, field_help
from studio.tasks import DEFAULT_TASK, get_task, task_names

DATA_FIELDS = ("text_column", "label_column", "context_column", "label_names", "header", "repair_bio",
               "skip_bad_records", "validation_fraction", "test_fraction", "split_seed", "max_rows")
AUGMENT_PREFIX = "augment_"  # the augment section's form names: augment_copies, augment_operations, ...
DISTILL_PREFIX = "distill_"  # the distill section's: distill_teacher, distill_temperature, ...
SPLIT_FIELDS = ("validation_fraction", "test_fraction", "split_seed", "max_rows")  # under "Split settings"


def spec_of(cls, name: str) -> dict[str, Any]:
    return next(f for f in field_help(cls) if f["name"] == name)


def spec_of_training(name: str) -> dict[str, Any]:
    return spec_of(TrainingConfig, name)


def field_component(spec: dict[str, Any], label, step: float | None = None, **kw) -> gr.components.Component:
    """The widget a config field calls for: dropdown for choices, checkbox for flags,
    slider for a bounded fraction, number box with bounds otherwise."""
    tp, optional = base_type(spec["type"])
    default = spec["default"]
    help_text = spec.get("help")
    info = t(help_text) if help_text else None
    lo, hi = spec.get("min"), spec.get("max")
    if "choices" in spec:
        return gr.Dropdown(choices=list(spec["choices"]), value=default, label=label, info=info, **kw)
    if tp is bool:
        return gr.Checkbox(value=bool(default), label=label, info=info, **kw)
    if tp in (int, float):
        if tp is float and not optional and lo is not None and hi is not None and hi - lo <= 1:
            return gr.Slider(lo, hi, value=default, step=step or 0.01, label=label, info=info, **kw)
        if "value" in kw:
            value = kw.pop("value")
        elif optional and default is None:
            # A number box cannot stay empty (the browser sends 0), so 0 stands for "not set".
            value, lo = 0, 0
            info = t(f"{help_text} 0 leaves it unset.", f"{pick(help_text, True)}填 0 表示不设置。")
        else:
            value = default
        return gr.Number(value=value, label=label, info=info, minimum=lo, maximum=hi,
                         precision=0 if tp is int else None, step=step or (1 if tp is int else 0.1), **kw)
    return gr.Textbox(value="" if default is None else str(default), label=label, info=info, **kw)


def method_key(method: str, setting: str) -> str:
    return f"{method}_{setting}"


def task_field_specs(task_name: str) -> list[dict[str, Any]]:
    """A task's own settings (its Settings dataclass's fields), with their help, bounds and labels."""
    return field_help(get_task(task_name).settings)


def task_setting_specs() -> dict[str, dict[str, Any]]:
    """Every task's own settings by name, the first task's spec for a name two tasks share (max_new_tokens): each is
    one form field, shown while the picked task has it. Its name is its API parameter (beta, head_init, ...)."""
    out: dict[str, dict[str, Any]] = {}
    for name in task_names():
        for spec in task_field_specs(name):
            out.setdefault(spec["name"], spec)
    return out


def raw_config(state: DataState | None, values: dict[str, Any]) -> dict[str, Any]:
    """Form values (by name) and the session's data -> the raw dict RunConfig.from_dict checks."""
    method = values.get("method") or "lora"
    model = (values.get("model_custom") or "").strip() or values.get("model") or ""
    args = filled_in(methods.METHODS[method].fields(), values, method) if method in methods.METHODS else {}
    training = {f["name"]: unset_zero(f, values[f["name"]]) for f in field_help(TrainingConfig) if f["name"] in values}
    data: dict[str, Any] = {"train": state.path if state else ""}
    data_specs = {f["name"]: f for f in field_help(DataConfig)}
    for name in DATA_FIELDS:
        if name in values:
            v = values[name]
            if v is None and not base_type(data_specs[name]["type"])[1]:
                continue  # left out (an API caller's default): the config's own default
            data[name] = unset_zero(data_specs[name], v) if v != "" else None
    for name in ("text_column", "context_column", "label_column"):
        # A column the file does not have (an API caller's default, a stale form) yields to the detected one.
        if state and state.columns and data.get(name) not in state.columns:
            data[name] = getattr(state, name)
    name = (values.get("run_name") or "").strip() or None
    task = values.get("task") or (state.task if state else DEFAULT_TASK)
    task_args = filled_in(task_field_specs(task), values) if task in task_names() else {}
    return {"task": task, "model": model, "method": method, "method_args": args, "task_args": task_args,
            "name": name, "data": data, "training": training,
            "augment": section_values(AugmentConfig, AUGMENT_PREFIX, values),
            "distill": section_values(DistillConfig, DISTILL_PREFIX, values)}


def filled_in(specs: list[dict[str, Any]], values: dict[str, Any], method: str | None = None) -> dict[str, Any]:
    """The settings (method or task: field_help specs) the form filled in; a blank one keeps its default. A method's
    fields are named method_key(method, name) on the form, a task's by their own names."""
    out = {}
    for f in specs:
        v = values.get(method_key(method, f["name"]) if method else f["name"])
        if v is not None and v != "":
            out[f["name"]] = unset_zero(f, v)
    return out


def section_values(cls, prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    """A config section from the form's prefixed fields (the Data tab's augmentation and distillation panels)."""
    out = {}
    for f in field_help(cls):
        v = values.get(prefix + f["name"])
        if v is None:
            continue
        if isinstance(v, (list, tuple)):  # the operations' picker
            v = ", ".join(map(str, v))
        if v == "" and base_type(f["type"])[1]:
            v = None  # an empty teacher or transfer file: none
        out[f["name"]] = unset_zero(f, v)
    return out


def zero_means_unset(spec: dict[str, Any]) -> bool:
    tp, optional = base_type(spec["type"])
    return optional and spec["default"] is None and tp in (int, float)


def unset_zero(spec: dict[str, Any], value: Any) -> Any:
    """The form's 0 for an optional number back to None (see field_component)."""
    return None if zero_means_unset(spec) and value in (0, 0.0) else value


def form_values(cfg: RunConfig, catalog_ids: list[str]) -> dict[str, Any]:
    """A config -> the value of every form field (the inverse of raw_config)."""
    vals: dict[str, Any] = {}
    cfg = cfg.with_base()  # a config without a model: its task's default (the Data tab's file may change it)
    if cfg.model in catalog_ids:
        vals.update(model=cfg.model, model_custom="")
    else:
        vals.update(model=catalog_ids[0] if catalog_ids else None, model_custom=cfg.model)
    vals["method"] = cfg.method
    vals["task"] = cfg.task
    for m in methods.METHODS.values():
        for f in m.fields():
            vals[method_key(m.name, f["name"])] = (cfg.method_args.get(f["name"], f["default"]) if m.name == cfg.method
                                                   else f["default"])
    for f in field_help(TrainingConfig):
        v = getattr(cfg.training, f["name"])
        vals[f["name"]] = 0 if v is None and zero_means_unset(f) else v
    own = {f.name for f in dataclasses.fields(cfg.task_args)}
    for name, f in task_setting_specs().items():
        v = getattr(cfg.task_args, name) if name in own else f["default"]
        vals[name] = 0 if v is None and zero_means_unset(f) else v
    if cfg.training.learning_rate is None:
        vals["learning_rate"] = cfg.learning_rate()
    for f in field_help(DataConfig):
        if f["name"] in DATA_FIELDS:
            v = getattr(cfg.data, f["name"])
            vals[f["name"]] = 0 if v is None and zero_means_unset(f) else v
    for f in field_help(AugmentConfig):
        v = getattr(cfg.augment, f["name"])
        if f["name"] == "operations":
            v = [o.strip() for o in v.split(",") if o.strip()]
        vals[AUGMENT_PREFIX + f["name"]] = 0 if v is None and zero_means_unset(f) else v
    for f in field_help(DistillConfig):
        if f["name"] == "transfer":
            vals[DISTILL_PREFIX + f["name"]] = None  # a file of the session's own upload, never one a config names
            continue
        vals[DISTILL_PREFIX + f["name"]] = getattr(cfg.distill, f["name"])
    vals["run_name"] = cfg.name or ""
    return vals


def with_keywords(fn: Callable, names: list[str]) -> Callable:
    """A `**values` handler with an explicit keyword-only signature (fn itself is left as it is).

    Gradio reads the signature to name API parameters and to learn that an empty
    (None) field is optional, so API callers pass only what they change.
    """
    sig = inspect.signature(fn)
    params = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    params += [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=None) for n in names]

    @functools.wraps(fn)
    def handler(*args, **kwargs):
        return fn(*args, **kwargs)

    handler.__signature__ = sig.replace(parameters=params)
    return handler


def data_field_specs() -> list[dict[str, Any]]:
    return [f for f in field_help(DataConfig) if f["name"] in SPLIT_FIELDS]
