"""Data tab: pick the task, a sample or an uploaded file; check columns and splits; see the labels and lengths.

Everything task-specific the tab says (column names, hints, what a summary counts) comes from the
task (studio.tasks); the tab asks, it never compares task names.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from components import forms
from components.context import StudioContext
from components.i18n import t
from components.session import DataState, TokenizerChoice
from components.ui import bind, esc, intro, message, message_box
from studio import datacheck, plots, uploads
from studio.config import DataConfig, field_help
from studio.errors import DataError
from studio.tasks import DEFAULT_TASK, all_tasks, get_task


def task_choices() -> list[tuple[Any, str]]:
    return [(t(*task.title), task.name) for task in all_tasks()]


@functools.lru_cache(maxsize=None)
def picker_texts(task_name: str) -> tuple:
    """(input picker label, answer picker label, answer picker help) of a task, as translatable texts.

    Made once per task while the page is built: texts first made after launch would reach the browser as keys."""
    task = get_task(task_name)
    return t(*task.input_column), t(*task.answer_column), t(*task.answer_info)


@dataclass
class DataTab:
    state: gr.State          # a DataState: the data a run will use
    tokens: gr.State         # a TokenizerChoice: whose tokenizer counts lengths (set by the Model tab)
    task: gr.Dropdown
    task_hint: gr.Markdown
    sample: gr.Dropdown
    upload: gr.File
    status: gr.HTML
    text_column: gr.Dropdown
    label_column: gr.Dropdown
    label_names: gr.Textbox
    split_fields: dict[str, gr.components.Component]
    summary: gr.Markdown
    warnings: gr.HTML
    labels_plot: gr.Plot
    tokens_plot: gr.Plot
    preview: gr.Dataframe
    on_check: Any = None     # re-check with the current choices (the Model tab calls it when the tokenizer changes)

    @property
    def form(self) -> dict[str, gr.components.Component]:
        """The data fields of a run config, by name."""
        return {"task": self.task, "text_column": self.text_column, "label_column": self.label_column,
                "label_names": self.label_names, **self.split_fields}

    @property
    def outputs(self) -> list:
        return [self.state, self.status, self.text_column, self.label_column, self.summary, self.warnings,
                self.labels_plot, self.tokens_plot, self.preview]


# ------------------------------------------------------------------------------------------ rendering --
def _summary(state: DataState, check: datacheck.DataCheck) -> str:
    rep, task = check.report, get_task(state.task)
    counted = f"{len(rep.labels)} {task.label_noun}s · " if task.has_labels else ""
    what = f"{counted}{task.input_noun} `{esc(rep.text_column)}` · {task.answer_noun} `{esc(rep.label_column)}`"
    lines = [f"**{esc(state.name)}** · {sum(rep.rows.values())} rows after cleaning · {what}", "",
             "| split | rows | source |", "|---|---:|---|"]
    for row in datacheck.summary_rows(rep):
        lines.append(f"| {row['split']} | {row['rows']} | {esc(row['source'])} |")
    tl = rep.token_lengths
    if tl:
        lines += ["", f"Tokens per {task.input_noun} ({esc(check.tokenizer)}): median {tl['p50']:.0f}, 95th percentile "
                      f"{tl['p95']:.0f}, longest {tl['max']:.0f}."]
    return "\n".join(lines)


def _warnings(check: datacheck.DataCheck) -> str:
    if not check.report:
        return message(None)
    if not check.report.warnings:
        return message("No problems found: no duplicates, no texts shared between splits.", "ok")
    return message("Worth a look before training:", "warn", check.report.warnings)


def preview_update(frame: pd.DataFrame | None) -> dict:
    """The preview table sized to its content: long text columns wide, label-like ones narrow."""
    if frame is None or frame.empty:
        return gr.update(value=pd.DataFrame(), column_widths=None)
    lengths = [min(80.0, max(14.0, frame[c].astype(str).str.len().mean(), len(str(c)))) for c in frame.columns]
    total = sum(lengths)
    return gr.update(value=frame, column_widths=[f"{100 * n / total:.1f}%" for n in lengths])


def empty_outputs(state: DataState | None, note: str, kind: str = "info") -> tuple:
    """Every output of the tab with no checked file: a note, empty pickers, charts and preview."""
    return (state, message(note, kind), gr.update(choices=[], value=None), gr.update(choices=[], value=None), "",
            message(None), plots.label_distribution_figure({}), plots.token_length_figure([]), preview_update(None))


def render(state: DataState, check: datacheck.DataCheck) -> tuple:
    """Every output of the tab for one checked file."""
    explain = uploads.StoredUpload(Path(state.path), state.name).explain
    task = get_task(state.task)
    input_label, answer_label, answer_info = picker_texts(task.name)
    text_dd = gr.update(choices=check.columns, value=check.text_column, label=input_label)
    label_dd = gr.update(choices=check.columns, value=check.label_column, label=answer_label, info=answer_info)
    preview = preview_update(check.preview)
    if not check.ok:
        return (state.but(labels=()), message(explain(check.error), "error"), text_dd, label_dd, "", message(None),
                plots.label_distribution_figure({}), plots.token_length_figure([]), preview)
    rep = check.report
    state = state.but(labels=tuple(rep.labels), columns=tuple(check.columns), text_column=rep.text_column,
                      label_column=rep.label_column)
    labels = f"{len(rep.labels)} {task.label_noun}s and " if task.has_labels else ""
    ok = f"Ready: {state.name} has {labels}{rep.rows.get('train', 0)} training rows. Next: the Model tab."
    return (state, message(ok, "ok"), text_dd, label_dd, explain(_summary(state, check)), _warnings(check),
            plots.label_distribution_figure(rep.label_counts),
            plots.token_length_figure(check.token_lengths, state.max_length), preview)


def run_check(state: DataState | None, tokens: TokenizerChoice | None, values: dict[str, Any]) -> tuple:
    if state is None:
        return empty_outputs(None, "Pick a sample or upload a file to begin.")
    tokens = tokens or TokenizerChoice()
    specs = {f["name"]: f for f in field_help(DataConfig)}
    cfg = DataConfig(train=state.path, **{k: forms.unset_zero(specs[k], v if v != "" else None)
                                          for k, v in values.items() if k in specs})
    check = datacheck.check(cfg, model=tokens.model, max_length=tokens.max_length, task=state.task)
    return render(state.but(max_length=tokens.max_length), check)


def initial_tokens(ctx: StudioContext) -> TokenizerChoice:
    return TokenizerChoice(ctx.default_model, forms.spec_of_training("max_length")["default"])


def initial(ctx: StudioContext) -> tuple:
    """The default sample, checked once when the page is built, so the tab opens ready."""
    if not ctx.default_sample or ctx.default_sample not in ctx.samples:
        return empty_outputs(None, "Pick a sample or upload a file to begin.")
    state = DataState(str(ctx.samples[ctx.default_sample]), ctx.default_sample, "sample",
                      datacheck.sample_task(ctx.default_sample))
    return run_check(state, initial_tokens(ctx), {})


def _hint(task: str) -> str:
    return f"Data: {get_task(task).data_hint.en}."


# ------------------------------------------------------------------------------------------- handlers --
def on_upload(ctx: StudioContext, file, tokens, **values):
    if not file:
        return gr.skip()
    try:
        stored = ctx.store_upload(file, allowed=datacheck.data_suffixes())
    except DataError as e:
        return empty_outputs(None, str(e), "error")
    state = DataState(str(stored.path), stored.display_name, "upload", values.get("task") or DEFAULT_TASK)
    # A new file has new columns: let detection choose them again.
    return run_check(state, tokens, {**values, "text_column": None, "label_column": None})


def on_pick_sample(ctx: StudioContext, name, tokens, **values):
    if not name:
        return gr.skip()
    if name not in ctx.samples:
        raise gr.Error(f"No bundled sample named {name!r}; choose one of {', '.join(ctx.samples)}.")
    state = DataState(str(ctx.samples[name]), name, "sample", datacheck.sample_task(name))
    checked = run_check(state, tokens, {**values, "text_column": None, "label_column": None})
    return checked + (None, state.task, _hint(state.task))


def on_task(ctx: StudioContext, task_name, state: DataState | None, tokens, **values):
    """A new task: an uploaded file is checked as that task; otherwise the task's first bundled sample."""
    names = [name for _, name in task_choices()]
    if task_name not in names:
        raise gr.Error(f"Unknown task {task_name!r}; choose one of {', '.join(names)}.")
    choices = datacheck.samples_for(task_name, ctx.samples)
    values = {**values, "text_column": None, "label_column": None}
    if state is not None and state.kind == "upload":  # keep the user's file: check it as the new task
        return run_check(state.but(task=task_name), tokens, values) + (
            gr.update(choices=choices, value=None), _hint(task_name))
    if not choices:
        return empty_outputs(None, f"No bundled sample for {task_name}; upload a file.") + (
            gr.update(choices=[], value=None), _hint(task_name))
    state = DataState(str(ctx.samples[choices[0]]), choices[0], "sample", task_name)
    return run_check(state, tokens, values) + (gr.update(choices=choices, value=choices[0]), _hint(task_name))


def on_check(state, tokens, **values):
    return run_check(state, tokens, values)


# -------------------------------------------------------------------------------------------- layout --
def _source_column(ctx: StudioContext, first: tuple, task0: str) -> tuple:
    """The left column: task, sample, upload, status, column pickers, split settings."""
    with gr.Group():
        task = gr.Dropdown(choices=task_choices(), value=task0, label=t("Task", "任务"), elem_id="data-task",
                           info=t("What the model learns; the data, metrics and playground follow it.",
                                  "模型要学什么；数据格式、指标和试用页都随之变化。"))
        task_hint = gr.Markdown(_hint(task0), elem_classes=["studio-muted"])
        sample = gr.Dropdown(choices=datacheck.samples_for(task0, ctx.samples),
                             value=first[0].name if first[0] else None, elem_id="data-sample",
                             label=t("Bundled sample", "内置示例数据"),
                             info=t("Small datasets that train in seconds.", "几秒即可训练完的小数据集。"))
        upload = gr.File(label=t("Or upload your own (CSV, TSV, JSON, JSONL, Parquet, CoNLL)",
                                 "或上传自己的文件（CSV、TSV、JSON、JSONL、Parquet、CoNLL）"),
                         file_types=list(datacheck.data_suffixes()), height=130, elem_id="data-upload")
    status = message_box(value=first[1], elem_id="data-status")
    with gr.Group():
        input_label, answer_label, answer_info = picker_texts(task0)
        text_column = gr.Dropdown(choices=first[2]["choices"], value=first[2]["value"], label=input_label,
                                  allow_custom_value=True,
                                  info=t("Detected automatically; correct it if it is wrong.", "自动检测，如有误请更正。"))
        label_column = gr.Dropdown(choices=first[3]["choices"], value=first[3]["value"], label=answer_label,
                                   allow_custom_value=True, info=answer_info)
        label_names = gr.Textbox(label=t("Names of numeric labels (optional)", "数字标签的名称（可选）"),
                                 placeholder="e.g. negative, positive   or   O, B-PER, I-PER, B-LOC, I-LOC",
                                 info=t("Only for files that store class ids (0, 1, 2, ...), as Hugging Face "
                                        "datasets export them: the names in id order, comma-separated. "
                                        "Press Enter to check again.",
                                        "仅用于以类别编号（0、1、2……）存储标签的文件（如 Hugging Face 数据集导出的文件）："
                                        "按编号顺序填写名称，用逗号分隔。按回车重新检查。"),
                                 elem_id="data-label-names")
    with gr.Accordion(t("Split settings", "数据划分设置"), open=False):
        split_labels = {"validation_fraction": t("Validation share", "验证集比例"),
                        "test_fraction": t("Test share", "测试集比例"),
                        "split_seed": t("Split seed", "划分随机种子"),
                        "max_rows": t("Use at most this many training rows", "最多使用的训练行数")}
        split_fields = {s["name"]: forms.field_component(s, split_labels[s["name"]]) for s in forms.data_field_specs()}
    return task, task_hint, sample, upload, status, text_column, label_column, label_names, split_fields


def _findings_column(first: tuple) -> tuple:
    """The right column: summary, warnings, charts, preview."""
    summary = gr.Markdown(first[4], elem_classes=["studio-card"])
    warnings = message_box(value=first[5], elem_id="data-warnings")
    with gr.Row():
        labels_plot = gr.Plot(first[6], label=t("Rows per label", "各标签行数"))
        tokens_plot = gr.Plot(first[7], label=t("Tokens per training text", "训练文本的词元数"))
    preview = gr.Dataframe(first[8]["value"], column_widths=first[8]["column_widths"],
                           label=t("Preview (first rows as read)", "预览（读取到的前几行）"),
                           interactive=False, wrap=True, max_height=360)
    return summary, warnings, labels_plot, tokens_plot, preview


def build(ctx: StudioContext) -> DataTab:
    intro(t("Start with what the model should learn and labelled examples of it: pick the task, then a bundled sample "
            "or your own file. The studio checks it the way training will and shows what it found.",
            "先选择模型要学的任务，再选择内置示例或上传自己的文件。工作室会按训练时的方式检查数据并展示结果。"))
    for task in all_tasks():
        picker_texts(task.name)
    first = initial(ctx)
    task0 = first[0].task if first[0] else DEFAULT_TASK
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=320):
            left = _source_column(ctx, first, task0)
        with gr.Column(scale=2, min_width=480):
            right = _findings_column(first)
    tab = DataTab(gr.State(first[0]), gr.State(initial_tokens(ctx)), *left, *right, on_check=on_check)
    _wire(ctx, tab)
    return tab


def _wire(ctx: StudioContext, tab: DataTab) -> None:
    form, names = tab.form, list(tab.form)
    data = {"concurrency_id": "data", "concurrency_limit": 4}
    tab.upload.upload(forms.with_keywords(bind(on_upload, ctx), names), inputs=[tab.upload, tab.tokens],
                      inputs_kwargs=form, outputs=tab.outputs, api_name="upload_data", **data)
    tab.sample.input(forms.with_keywords(bind(on_pick_sample, ctx), names), inputs=[tab.sample, tab.tokens],
                     inputs_kwargs=form, outputs=tab.outputs + [tab.upload, tab.task, tab.task_hint],
                     api_name="use_sample", **data)
    tab.task.input(forms.with_keywords(bind(on_task, ctx), names), inputs=[tab.task, tab.state, tab.tokens],
                   inputs_kwargs=form, outputs=tab.outputs + [tab.sample, tab.task_hint], api_name="set_task", **data)
    f = tab.split_fields
    gr.on([tab.text_column.input, tab.label_column.input, tab.label_names.submit, tab.label_names.blur,
           f["validation_fraction"].release, f["test_fraction"].release,
           f["split_seed"].submit, f["split_seed"].blur, f["max_rows"].submit, f["max_rows"].blur],
          forms.with_keywords(on_check, names), inputs=[tab.state, tab.tokens], inputs_kwargs=form,
          outputs=tab.outputs, api_name="check_data", trigger_mode="always_last", **data)
