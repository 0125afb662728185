"""Data tab: pick a sample or upload a file, check columns and splits, see the labels and lengths."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from components import forms
from components.context import StudioContext
from components.i18n import t
from components.ui import esc, intro, message, message_box
from studio import datacheck, plots, uploads
from studio.config import DataConfig, field_help
from studio.data import DataError

FILE_TYPES = sorted(set(datacheck.DATA_SUFFIXES) - {".txt"})
TASK_CHOICES = [
    (t("Text classification", "文本分类"), "text-classification"),
    (t("Token classification (NER)", "词元分类（命名实体识别）"), "token-classification"),
    (t("Instruction tuning of a chat model (SFT)", "对话模型指令微调（SFT）"), "sft"),
    (t("Sequence to sequence (translation, summaries)", "序列到序列（翻译、摘要）"), "seq2seq"),
]
TASK_INTRO = {
    "text-classification": "a text column and a label column (CSV, TSV, JSON, JSONL, Parquet)",
    "token-classification": "CoNLL columns (token ... BIO tag, a blank line between sentences) or JSON/JSONL with tokens and tags",
    "sft": "JSON/JSONL with instruction, optional input and output, or chat messages (role/content lists)",
    "seq2seq": "a source column and a target column (CSV, TSV, JSON, JSONL, Parquet)",
}
# What the two column pickers mean for each task.
COLUMN_LABELS = {
    "text-classification": (t("Text column", "文本列"), t("Label column", "标签列")),
    "token-classification": (t("Tokens column", "词元列"), t("Tags column", "标签序列列")),
    "sft": (t("Prompt field", "提示字段"), t("Answer field", "回答字段")),
    "seq2seq": (t("Source column", "源文本列"), t("Target column", "目标文本列")),
}
LABEL_INFO = {
    "text-classification": t("The class each text belongs to.", "每条文本所属的类别。"),
    "token-classification": t("The BIO tags of each sentence, one per token.", "每个句子的 BIO 标签，每个词元一个。"),
    "sft": t("The answer the model learns to give.", "模型要学会给出的回答。"),
    "seq2seq": t("The text the model learns to generate.", "模型要学会生成的文本。"),
}


@dataclass
class DataTab:
    state: gr.State          # the data a run will use: task, path, name, kind, labels, columns, detected columns
    tokens: gr.State         # {"model", "max_length"}: whose tokenizer counts lengths (set by the Model tab)
    task: gr.Dropdown
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
    on_check: Any            # re-check with the current choices (the Model tab calls it when the tokenizer changes)

    @property
    def form(self) -> dict[str, gr.components.Component]:
        """The data fields of a run config, by name."""
        return {"task": self.task, "text_column": self.text_column, "label_column": self.label_column,
                "label_names": self.label_names, **self.split_fields}

    @property
    def outputs(self) -> list:
        return [self.state, self.status, self.text_column, self.label_column, self.summary, self.warnings,
                self.labels_plot, self.tokens_plot, self.preview]


def _summary(state: dict, check: datacheck.DataCheck) -> str:
    rep = check.report
    task = state.get("task") or "text-classification"
    what = {"text-classification": f"{len(rep.labels)} labels · text `{esc(rep.text_column)}` · label `{esc(rep.label_column)}`",
            "token-classification": f"{len(rep.labels)} tags · tokens `{esc(rep.text_column)}` · tags `{esc(rep.label_column)}`",
            "sft": f"prompt `{esc(rep.text_column)}` · answer `{esc(rep.label_column)}`",
            "seq2seq": f"source `{esc(rep.text_column)}` · target `{esc(rep.label_column)}`"}[task]
    lines = [f"**{esc(state.get('name'))}** · {sum(rep.rows.values())} rows after cleaning · {what}", "",
             "| split | rows | source |", "|---|---:|---|"]
    for row in datacheck.summary_rows(rep):
        lines.append(f"| {row['split']} | {row['rows']} | {esc(row['source'])} |")
    tl = rep.token_lengths
    if tl:
        lines += ["", f"Tokens per text ({esc(check.tokenizer)}): median {tl['p50']:.0f}, 95th percentile "
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


def render(state: dict | None, check: datacheck.DataCheck | None, error: str | None = None) -> tuple:
    """Every output of the tab for one checked file (or an error)."""
    if check is None:
        return (state, message(error or "Pick a sample or upload a file to begin.", "error" if error else "info"),
                gr.update(choices=[], value=None), gr.update(choices=[], value=None), "", message(None),
                plots.label_distribution_figure({}), plots.token_length_figure([]), preview_update(None))
    name = (state or {}).get("name", "")
    explain = uploads.StoredUpload(Path(state["path"]), name).explain if state else (lambda m: m)
    cols = check.columns
    task = (state or {}).get("task") or "text-classification"
    text_label, label_label = COLUMN_LABELS[task]
    text_dd = gr.update(choices=cols, value=check.text_column, label=text_label)
    label_dd = gr.update(choices=cols, value=check.label_column, label=label_label, info=LABEL_INFO[task])
    preview = preview_update(check.preview)
    if not check.ok:
        state = {**state, "labels": []}
        return (state, message(explain(check.error), "error"), text_dd, label_dd, "", message(None),
                plots.label_distribution_figure({}), plots.token_length_figure([]), preview)
    rep = check.report
    state = {**state, "labels": list(rep.labels), "columns": cols, "text_column": rep.text_column,
             "label_column": rep.label_column}
    labels = f"{len(rep.labels)} labels and " if rep.labels else ""
    ok = f"Ready: {name} has {labels}{rep.rows.get('train', 0)} training rows. Next: the Model tab."
    return (state, message(ok, "ok"), text_dd, label_dd, explain(_summary(state, check)), _warnings(check),
            plots.label_distribution_figure(rep.label_counts),
            plots.token_length_figure(check.token_lengths, state.get("max_length")), preview)


def run_check(state: dict | None, tokens: dict | None, values: dict[str, Any]) -> tuple:
    if not state or not state.get("path"):
        return render(None, None)
    tokens = tokens or {}
    specs = {f["name"]: f for f in field_help(DataConfig)}
    cfg = DataConfig(train=state["path"], **{k: forms.unset_zero(specs[k], v if v != "" else None)
                                             for k, v in values.items() if k in specs})
    task = state.get("task") or "text-classification"
    check = datacheck.check(cfg, model=tokens.get("model"), max_length=tokens.get("max_length"), task=task)
    state = {**state, "task": task, "max_length": tokens.get("max_length")}
    return render(state, check)


def _hint(task: str) -> str:
    return f"Data: {TASK_INTRO.get(task, '')}."


def initial(ctx: StudioContext) -> tuple[dict | None, tuple | None]:
    """The default sample, checked once when the page is built, so the tab opens ready."""
    if not ctx.default_sample or ctx.default_sample not in ctx.samples:
        return None, None
    state = {"path": str(ctx.samples[ctx.default_sample]), "name": ctx.default_sample, "kind": "sample",
             "task": datacheck.sample_task(ctx.default_sample)}
    tokens = {"model": ctx.default_model, "max_length": forms.spec_of_training("max_length")["default"]}
    return state, run_check(state, tokens, {})


def build(ctx: StudioContext) -> DataTab:
    intro(t("Start with what the model should learn and labelled examples of it: pick the task, then a bundled sample "
            "or your own file. The studio checks it the way training will and shows what it found.",
            "先选择模型要学的任务，再选择内置示例或上传自己的文件。工作室会按训练时的方式检查数据并展示结果。"))
    _, first = initial(ctx)
    tokens0 = {"model": ctx.default_model, "max_length": forms.spec_of_training("max_length")["default"]}
    first = first or render(None, None)
    state0 = first[0]  # the checked state: it knows the labels and columns
    task0 = (state0 or {}).get("task") or "text-classification"
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=320):
            with gr.Group():
                task = gr.Dropdown(choices=TASK_CHOICES, value=task0, label=t("Task", "任务"), elem_id="data-task",
                                   info=t("What the model learns; the data, metrics and playground follow it.",
                                          "模型要学什么；数据格式、指标和试用页都随之变化。"))
                task_hint = gr.Markdown(_hint(task0), elem_classes=["studio-muted"])
                sample = gr.Dropdown(choices=datacheck.samples_for(task0, ctx.samples),
                                     value=state0["name"] if state0 else None, elem_id="data-sample",
                                     label=t("Bundled sample", "内置示例数据"),
                                     info=t("Small datasets that train in seconds.", "几秒即可训练完的小数据集。"))
                upload = gr.File(label=t("Or upload your own (CSV, TSV, JSON, JSONL, Parquet, CoNLL)",
                                         "或上传自己的文件（CSV、TSV、JSON、JSONL、Parquet、CoNLL）"),
                                 file_types=FILE_TYPES, height=130, elem_id="data-upload")
            status = message_box(value=first[1], elem_id="data-status")
            with gr.Group():
                text_column = gr.Dropdown(choices=first[2]["choices"], value=first[2]["value"],
                                          label=t("Text column", "文本列"), allow_custom_value=True,
                                          info=t("Detected automatically; correct it if it is wrong.", "自动检测，如有误请更正。"))
                label_column = gr.Dropdown(choices=first[3]["choices"], value=first[3]["value"],
                                           label=t("Label column", "标签列"), allow_custom_value=True,
                                           info=LABEL_INFO["text-classification"])
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
                split_fields = {s["name"]: forms.field_component(s, split_labels[s["name"]])
                                for s in forms.data_field_specs()}
        with gr.Column(scale=2, min_width=480):
            summary = gr.Markdown(first[4], elem_classes=["studio-card"])
            warnings = message_box(value=first[5], elem_id="data-warnings")
            with gr.Row():
                labels_plot = gr.Plot(first[6], label=t("Rows per label", "各标签行数"))
                tokens_plot = gr.Plot(first[7], label=t("Tokens per training text", "训练文本的词元数"))
            preview = gr.Dataframe(first[8]["value"], column_widths=first[8]["column_widths"],
                                   label=t("Preview (first rows as read)", "预览（读取到的前几行）"),
                                   interactive=False, wrap=True, max_height=360)
    state = gr.State(state0)
    tokens = gr.State(tokens0)

    def on_check(data_state, token_state, **values):
        return run_check(data_state, token_state, values)

    handles = DataTab(state, tokens, task, sample, upload, status, text_column, label_column, label_names, split_fields,
                      summary, warnings, labels_plot, tokens_plot, preview, on_check)
    form = handles.form

    def on_upload(file, token_state, **values):
        if not file:
            return gr.skip()
        try:
            stored = ctx.store_upload(file, allowed=datacheck.DATA_SUFFIXES)
        except DataError as e:
            return render(None, None, str(e))
        state = {"path": str(stored.path), "name": stored.display_name, "kind": "upload",
                 "task": values.get("task") or "text-classification"}
        # A new file has new columns: let detection choose them again.
        values.update(text_column=None, label_column=None)
        return run_check(state, token_state, values)

    def on_pick_sample(name, token_state, **values):
        if not name:
            return gr.skip()
        if name not in ctx.samples:
            raise gr.Error(f"No bundled sample named {name!r}; choose one of {', '.join(ctx.samples)}.")
        state = {"path": str(ctx.samples[name]), "name": name, "kind": "sample", "task": datacheck.sample_task(name)}
        values.update(text_column=None, label_column=None)
        return run_check(state, token_state, values) + (None, state["task"], _hint(state["task"]))

    def on_task(task_name, data_state, token_state, **values):
        """A new task: its first bundled sample (a file of another task would not fit it)."""
        if task_name not in dict((v, k) for k, v in TASK_CHOICES):
            raise gr.Error(f"Unknown task {task_name!r}; choose one of {', '.join(v for _, v in TASK_CHOICES)}.")
        choices = datacheck.samples_for(task_name, ctx.samples)
        values.update(text_column=None, label_column=None)
        if data_state and data_state.get("kind") == "upload":  # keep the user's file: check it as the new task
            state = {**data_state, "task": task_name}
            return run_check(state, token_state, values) + (gr.update(choices=choices, value=None), _hint(task_name))
        if not choices:
            return render(None, None, f"No bundled sample for {task_name}; upload a file.") + (
                gr.update(choices=[], value=None), _hint(task_name))
        state = {"path": str(ctx.samples[choices[0]]), "name": choices[0], "kind": "sample", "task": task_name}
        return run_check(state, token_state, values) + (gr.update(choices=choices, value=choices[0]), _hint(task_name))

    names = list(form)
    upload.upload(forms.with_keywords(on_upload, names), inputs=[upload, tokens], inputs_kwargs=form,
                  outputs=handles.outputs, api_name="upload_data", concurrency_id="data", concurrency_limit=4)
    sample.input(forms.with_keywords(on_pick_sample, names), inputs=[sample, tokens], inputs_kwargs=form,
                 outputs=handles.outputs + [upload, task, task_hint], api_name="use_sample", concurrency_id="data",
                 concurrency_limit=4)
    task.input(forms.with_keywords(on_task, names), inputs=[task, state, tokens], inputs_kwargs=form,
               outputs=handles.outputs + [sample, task_hint], api_name="set_task", concurrency_id="data",
               concurrency_limit=4)
    f = split_fields
    gr.on([text_column.input, label_column.input, label_names.submit, label_names.blur,
           f["validation_fraction"].release, f["test_fraction"].release,
           f["split_seed"].submit, f["split_seed"].blur, f["max_rows"].submit, f["max_rows"].blur],
          forms.with_keywords(on_check, names), inputs=[state, tokens], inputs_kwargs=form, outputs=handles.outputs,
          api_name="check_data", trigger_mode="always_last", concurrency_id="data", concurrency_limit=4)
    return handles
