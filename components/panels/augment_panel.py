"""Augment the training split, in the Data tab: the run's `augment` settings (studio.augment) and a preview of
new rows beside their originals before anything trains.

The fields join the Data tab's form (DataTab.extra_form), so Start, sweeps and the Label tab's retrain pass them
on like every other data setting; the run makes the rows itself, once, and keeps them in its folder.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from components import forms
from components.context import StudioContext
from components.i18n import Lang, t
from components.session import DataState, TokenizerChoice
from components.ui import bind, message, message_box, shows_user_errors
from studio import augment
from studio.augment import Augmentation
from studio.config import AugmentConfig, RunConfig, field_help
from studio.runs import quotas
from studio.tasks import DEFAULT_TASK, all_tasks, get_task

PREFIX = forms.AUGMENT_PREFIX  # form names: augment_copies, augment_operations, ... (the API's parameter names too)


@dataclass
class AugmentPanel:
    accordion: gr.Accordion
    fields: dict[str, gr.components.Component]
    preview: gr.Button
    message: gr.HTML
    table: gr.Dataframe


def _augmentation(task_name: str):
    """The task's Augmentation, or None: its data cannot be augmented."""
    return get_task(task_name).capability(Augmentation)


def operation_choices(task_name: str, lang: Lang | None = None) -> list[tuple[str, str]]:
    cap = _augmentation(task_name)
    ops = cap.operations if cap else {}
    return [(f"{name}: {lang(h) if lang else t(h)}", name) for name, h in ops.items()]


@shows_user_errors
def on_preview(ctx: StudioContext, state: DataState | None, tokens: TokenizerChoice | None,
               request: gr.Request = None, **values):
    """(message, table): a new row from each of six training rows, beside its original; nothing is saved.

    The preview loads the base (and a paraphrase generator) in this process: each is checked as a run's would be
    (the person's to use, within the server's bounds), and a visitor of a read-only demo gets no preview."""
    lang = Lang.of(request)
    if state is None:
        raise gr.Error(lang("Load a file above first.", "请先在上方加载文件。"))
    ctx.person.check_can_write()
    raw = forms.raw_config(state, values)
    if tokens is not None and tokens.model:
        raw["model"] = tokens.model  # synonyms come from the chosen base's word embeddings
    cfg = RunConfig.from_dict(raw)
    quotas.check_models(ctx.store, cfg.resolved(), ctx.limits)
    train = get_task(cfg.task).prepare_data(cfg.data).splits["train"]
    table = augment.preview(cfg, train, n=6)
    if table.empty:
        return message(lang("These operations changed none of the sampled rows.", "这些操作没有改变抽到的任何一行。"),
                       "warn"), table
    ops = ", ".join(augment.operations(cfg.augment, get_task(cfg.task)))
    note = lang(f"New rows made by {ops} from six training rows (not saved). A run with copies {cfg.augment.copies} "
                f"adds up to {cfg.augment.copies * len(train)} rows to its {len(train)} training rows.",
                f"由 {ops} 从 6 行训练数据生成的新行（未保存）。副本数为 {cfg.augment.copies} 的运行最多为 "
                f"{len(train)} 行训练数据新增 {cfg.augment.copies * len(train)} 行。")
    return message(note, "ok" if cfg.augment.copies else "info"), table


def on_data_changed(state: DataState | None, chosen: list[str] | None, request: gr.Request = None):
    """The task's own operations (the chosen ones kept while they apply: a re-check of the same file, another
    tokenizer); hidden for tasks without any; an old preview goes."""
    task = get_task(state.task if state else DEFAULT_TASK)
    cap = task.capability(Augmentation)
    keep = cap is not None and chosen and all(o in cap.operations for o in chosen)
    return (gr.update(visible=cap is not None),
            gr.update(choices=operation_choices(task.name, Lang.of(request)),
                      value=list(chosen) if keep else list(cap.default_operations if cap else ())),
            "", pd.DataFrame())


def _fields(task0: str) -> dict[str, gr.components.Component]:
    spec = {f["name"]: f for f in field_help(AugmentConfig)}
    # A dropdown that takes any value: an API caller of another task names its own operations, and the engine
    # says in words which do not apply.
    ops = gr.Dropdown(choices=operation_choices(task0),
                      value=list(getattr(_augmentation(task0), "default_operations", ())),
                      multiselect=True, allow_custom_value=True,
                      label=t("Operations (taken in turn)", "操作（轮流使用）"), elem_id="augment-operations")
    return {f"{PREFIX}copies": forms.field_component(spec["copies"],
                                                     t("New rows per training row", "每行训练数据新增行数"),
                                                     elem_id="augment-copies"),
            f"{PREFIX}operations": ops,
            f"{PREFIX}strength": forms.field_component(spec["strength"], t("Strength", "强度"),
                                                       elem_id="augment-strength"),
            f"{PREFIX}max_new_rows": forms.field_component(spec["max_new_rows"],
                                                           t("At most this many new rows", "新增行数上限")),
            f"{PREFIX}generator": forms.field_component(spec["generator"],
                                                        t("Paraphrase generator", "改写用的生成模型"))}


def build(ctx, data) -> AugmentPanel:
    for task in all_tasks():  # texts first made after launch would reach the browser as keys
        operation_choices(task.name)
    task0 = data.task.value or DEFAULT_TASK
    with gr.Accordion(t("Augment the training split", "扩充训练集"), open=False, elem_id="augment-panel",
                      visible=_augmentation(task0) is not None) as accordion:
        gr.Markdown(t("More training rows made from yours: each new row is one of your training rows changed by one "
                      "operation, with the same label. Off while copies is 0. Validation and test rows are never "
                      "augmented; the run keeps its new rows in its folder (augmented_rows.jsonl). Measured on "
                      "Banking77 in bench/RESULTS.md.",
                      "用你的数据生成更多训练行：每个新行由一行训练数据经一种操作改变而来，标签不变。副本数为 0 "
                      "时关闭。验证集和测试集从不扩充；运行会把新行保存在其文件夹中（augmented_rows.jsonl）。"),
                    elem_classes=["studio-muted"])
        fields = _fields(task0)
        preview = gr.Button(t("Preview new rows", "预览新行"), elem_id="augment-preview-btn")
        note = message_box(elem_id="augment-message")
        table = gr.Dataframe(pd.DataFrame(), interactive=False, wrap=True, max_height=420, elem_id="augment-preview",
                             column_widths=["100px", "38%", "38%"],
                             label=t("New rows beside their originals", "新行与原行对照"))
    panel = AugmentPanel(accordion, fields, preview, note, table)
    data.extra_form.update(fields)
    form = data.form
    panel.preview.click(forms.with_keywords(bind(on_preview, ctx), list(form)), inputs=[data.state, data.tokens],
                        inputs_kwargs=form, outputs=[panel.message, panel.table], api_name="preview_augmentation",
                        concurrency_id="augment", concurrency_limit=1)
    data.state.change(on_data_changed, inputs=[data.state, fields[f"{PREFIX}operations"]],
                      outputs=[panel.accordion, fields[f"{PREFIX}operations"], panel.message, panel.table],
                      api_visibility="private")
    return panel
