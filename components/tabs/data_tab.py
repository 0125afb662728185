"""Data tab: pick the task, a sample or an uploaded file; check columns and splits; see the labels and lengths.

Everything task-specific the tab says (column names, hints, what a summary counts) comes from the
task (studio.tasks); the tab asks, it never compares task names.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from components import forms
from components.context import StudioContext
from components.i18n import EN, Lang, t
from components.session import DataState, TokenizerChoice
from components.ui import bind, esc, intro, message, message_box, one_turn_per_session
from studio.base.errors import DataError
from studio.base.text import Text
from studio.config import DataConfig, field_help
from studio.data import uploads
from studio.tasks import DEFAULT_TASK, all_tasks, get_task
from studio.views import data_check, plots

# Data checks read and parse whole files: a few at once over every session (DATA_QUEUE), and one at a time within a
# session (data_event), so one person's big upload does not hold everyone else's checks back, while a session's own
# re-check (the Model tab switched the tokenizer) never finishes after an upload sent a moment later and shows the
# previous file again.
DATA_QUEUE = {"concurrency_id": "data", "concurrency_limit": 8}


def data_event(handler):
    """A Data tab event: one at a time per session, each with the session's latest DataState (components.ui)."""
    return one_turn_per_session(handler, state="state", makes=DataState)


def task_choices() -> list[tuple[Any, str]]:
    return [(t(task.texts.title), task.name) for task in all_tasks()]


@functools.lru_cache(maxsize=None)
def picker_texts(task_name: str) -> tuple:
    """(input picker label, answer picker label, answer picker help) of a task, as translatable texts.

    Made once per task while the page is built: texts first made after launch would reach the browser as keys."""
    task = get_task(task_name)
    second = t(task.texts.inputs[1]) if len(task.texts.inputs) > 1 else t("Second input column", "第二个输入列")
    return t(task.texts.inputs[0]), t(task.texts.answer), t(task.texts.answer_info), second


def has_context(task_name: str | None) -> bool:
    """The task's examples have a second input (a question's context): its picker shows."""
    return len(get_task(task_name).inputs.columns) > 1


@dataclass
class DataTab:
    state: gr.State          # a DataState: the data a run will use
    tokens: gr.State         # a TokenizerChoice: whose tokenizer counts lengths (set by the Model tab)
    task: gr.Dropdown
    task_hint: gr.Markdown
    sample: gr.Dropdown
    upload: gr.File
    status: gr.HTML
    header_fix: gr.Button    # "read it without a header row": shown when a file's first line looks like data
    bio_fix: gr.Button       # "repair the BIO tags": shown when a tag file has an I- that starts an entity
    skip_fix: gr.Button      # "go on without the bad records": shown when some records of a file cannot be read
    text_column: gr.Dropdown
    label_column: gr.Dropdown
    context_column: gr.Dropdown  # the second input, for tasks with two (shown only for them)
    label_names: gr.Textbox
    header: gr.Checkbox
    repair_bio: gr.Checkbox
    skip_bad_records: gr.Checkbox
    split_fields: dict[str, gr.components.Component]
    summary: gr.Markdown
    warnings: gr.HTML
    labels_plot: gr.Plot
    tokens_plot: gr.Plot
    preview: gr.Dataframe
    on_check: Any = None     # re-check with the current choices (the Model tab's loaded config)
    on_recount: Any = None   # count again with another tokenizer (the Model tab, when the model changes)
    extra_form: dict[str, gr.components.Component] = field(default_factory=dict)  # panels' fields (augmentation)

    @property
    def form(self) -> dict[str, gr.components.Component]:
        """The data fields of a run config, by name."""
        return {"task": self.task, "text_column": self.text_column, "label_column": self.label_column,
                "context_column": self.context_column, "label_names": self.label_names, "header": self.header,
                "repair_bio": self.repair_bio, "skip_bad_records": self.skip_bad_records, **self.split_fields,
                **self.extra_form}

    @property
    def outputs(self) -> list:
        return [self.state, self.status, self.text_column, self.label_column, self.summary, self.warnings,
                self.labels_plot, self.tokens_plot, self.preview, self.header_fix, self.context_column, self.bio_fix,
                self.skip_fix]


# ------------------------------------------------------------------------------------------ rendering --
def _summary(state: DataState, check: data_check.DataCheck, lang: Lang) -> str:
    rep, task = check.report, get_task(state.task)
    label_noun = task.data.label_noun
    counted = (lang(f"{len(rep.labels)} {label_noun}s · ", f"{len(rep.labels)} 个{label_noun.zh} · ") if label_noun
               else "")
    what = f"{counted}{lang(task.texts.input_noun)} `{esc(rep.text_column)}` · {lang(task.texts.answer_noun)} " \
           f"`{esc(rep.label_column)}`"
    lines = [f"**{esc(state.name)}** · {sum(rep.rows.values())} {lang('rows after cleaning', '行（清理后）')} · {what}",
             "", lang("| split | rows | source |", "| 划分 | 行数 | 来源 |"), "|---|---:|---|"]
    for row in data_check.summary_rows(rep):
        split = lang(plots.SPLITS.get(row["split"], row["split"]))
        lines.append(f"| {split} | {row['rows']} | {esc(lang(row['source']))} |")
    tl = rep.token_lengths
    if tl:
        noun = task.data.length_noun
        lines += ["", lang(f"Tokens per {noun} ({esc(check.tokenizer)}): median {tl['p50']:.0f}, "
                           f"95th percentile {tl['p95']:.0f}, longest {tl['max']:.0f}.",
                           f"每个{noun.zh}的词元数（{esc(check.tokenizer)}）：中位数 {tl['p50']:.0f}，"
                           f"第 95 百分位 {tl['p95']:.0f}，最长 {tl['max']:.0f}。")]
    choice = check.length_choice
    if choice:
        lines += ["", esc(lang(choice["summary"], choice["summary_zh"]))]
    return "\n".join(lines)


def _warnings(check: data_check.DataCheck, lang: Lang, explain=str) -> str:
    """The data check's warnings; `explain` says the user's file name where one names the stored upload."""
    if not check.report:
        return message(None)
    if not check.report.warnings:
        return message(lang("No problems found: no duplicates, no texts shared between splits.",
                            "没有发现问题：没有重复行，各划分之间没有共享的文本。"), "ok")
    return message(lang("Worth a look before training:", "训练前值得留意："), "warn",
                   [explain(lang(w) if isinstance(w, Text) else w) for w in check.report.warnings])


def preview_update(frame: pd.DataFrame | None) -> dict:
    """The preview table sized to its content (long text columns wide, label-like ones narrow); hidden when there
    is nothing to show, rather than an empty table with placeholder headers."""
    if frame is None or frame.empty:
        return gr.update(value=None, column_widths=None, visible=False)
    lengths = [min(80.0, max(14.0, frame[c].astype(str).str.len().mean(), len(str(c)))) for c in frame.columns]
    total = sum(lengths)
    return gr.update(value=frame, column_widths=[f"{100 * n / total:.1f}%" for n in lengths], visible=True)


def _charts(task, check: data_check.DataCheck | None, state: DataState | None, lang: Lang) -> tuple:
    """The tab's two charts as the task draws them (titles, bars, length histograms), in the reader's language."""
    titles, zh = (task.data.counts_chart, task.data.lengths_chart), lang.zh
    if check is None or not check.ok:
        bars = plots.label_distribution_figure({}, title=titles[0], zh=zh)
        lengths = plots.token_length_figure([], title=titles[1], zh=zh)
    else:
        x_title, y_title, counts = check.count_bars
        series = check.length_series
        bars = plots.label_distribution_figure(counts, x_title, y_title, title=titles[0], zh=zh)
        lengths = plots.token_length_figure(series, state.max_length if len(series) == 1 else None,
                                            task.data.length_noun, title=titles[1], zh=zh)
    return bars, lengths


def empty_outputs(state: DataState | None, note: str, kind: str = "info", lang: Lang = EN) -> tuple:
    """Every output of the tab with no checked file: a note, empty pickers, charts and preview."""
    bars, lengths = _charts(get_task(state.task if state else None), None, state, lang)
    return (state, message(note, kind), gr.update(choices=[], value=None), gr.update(choices=[], value=None), "",
            message(None), bars, lengths, preview_update(None), gr.update(visible=False),
            gr.update(choices=[], value=None, visible=has_context(state.task if state else None)),
            gr.update(visible=False), gr.update(visible=False))


def render(state: DataState, check: data_check.DataCheck, lang: Lang = EN, lead: str = "") -> tuple:
    """Every output of the tab for one checked file; `lead` opens the status (what just happened)."""
    explain = uploads.StoredUpload(Path(state.path), state.name).explain
    task = get_task(state.task)
    input_label, answer_label, answer_info, context_label = picker_texts(task.name)
    text_dd = gr.update(choices=check.columns, value=check.text_column, label=input_label)
    label_dd = gr.update(choices=check.columns, value=check.label_column, label=answer_label, info=answer_info)
    context_dd = gr.update(choices=check.columns, value=check.context_column, label=context_label,
                           visible=has_context(task.name))
    bars, lengths = _charts(task, check, state, lang)
    if not check.ok:
        error = explain(check.error)
        return (state.but(labels=(), failed=True),
                message(lead + lang.lead("This data cannot be used yet:", "暂时无法使用这份数据：", error), "error"),
                text_dd, label_dd, "", message(None), bars, lengths, preview_update(check.preview),
                gr.update(visible=check.fix == "header"), context_dd, gr.update(visible=check.fix == "repair_bio"),
                gr.update(visible=check.fix == "skip_bad_records"))
    rep = check.report
    state = state.but(labels=tuple(rep.labels), columns=tuple(check.columns), text_column=rep.text_column,
                      label_column=rep.label_column, context_column=rep.context_column, failed=False,
                      cjk_share=rep.cjk_share)
    train_rows = rep.rows.get("train", 0)
    if task.has_labels:
        ok = lang(f"Ready: {state.name} has {len(rep.labels)} {task.data.label_noun}s and {train_rows} training rows. "
                  "Next: the Model tab.",
                  f"就绪：{state.name} 有 {len(rep.labels)} 个{task.data.label_noun.zh}，"
                  f"{train_rows} 行训练数据。下一步：“模型与方法”标签页。")
    else:
        ok = lang(f"Ready: {state.name} has {train_rows} training rows. Next: the Model tab.",
                  f"就绪：{state.name} 有 {train_rows} 行训练数据。下一步：“模型与方法”标签页。")
    return (state, message(lead + ok, "ok"), text_dd, label_dd, explain(_summary(state, check, lang)),
            _warnings(check, lang, explain), bars, lengths, preview_update(check.preview), gr.update(visible=False),
            context_dd, gr.update(visible=False), gr.update(visible=False))


def data_config(state: DataState, values: dict[str, Any]) -> DataConfig:
    """The DataConfig the Data tab's file and fields stand for."""
    specs = {f["name"]: f for f in field_help(DataConfig)}
    fields = {k: forms.unset_zero(specs[k], v if v != "" else None) for k, v in values.items() if k in specs}
    if fields.get("header") is None:
        fields.pop("header", None)  # an API caller who leaves it out means the default: a header row
    return DataConfig(train=state.path, **fields)


def run_check(state: DataState | None, tokens: TokenizerChoice | None, values: dict[str, Any], lang: Lang = EN,
              lead: str = "") -> tuple:
    if state is None:
        return empty_outputs(None, lang("Pick a sample or upload a file to begin.", "请选择内置示例或上传文件开始。"),
                             lang=lang)
    tokens = tokens or TokenizerChoice()
    check = data_check.check(data_config(state, values), model=tokens.model, max_length=tokens.max_length,
                            task=state.task)
    return render(state.but(max_length=check.max_length or tokens.max_length, read_with=_frozen(values)), check, lang,
                  lead or state.note)


def _frozen(values: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """Fields as a DataState keeps them: Gradio hashes a session's states after each event, so no lists."""
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in values.items())


def _thawed(read_with: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in read_with}


def initial_tokens(ctx: StudioContext) -> TokenizerChoice:
    return TokenizerChoice(ctx.default_model, forms.spec_of_training("max_length")["default"])


def initial(ctx: StudioContext) -> tuple:
    """The default sample, checked once when the page is built, so the tab opens ready."""
    if not ctx.default_sample or ctx.default_sample not in ctx.samples:
        return empty_outputs(None, "Pick a sample or upload a file to begin.")
    state = DataState(str(ctx.samples[ctx.default_sample]), ctx.default_sample, "sample",
                      data_check.sample_task(ctx.default_sample))
    return run_check(state, initial_tokens(ctx), {})


def _hint(task: str, lang: Lang = EN) -> str:
    hint = get_task(task).texts.data_hint
    return lang(f"Data: {hint.en}.", f"数据：{hint.zh}。")


# ------------------------------------------------------------------------------------------- handlers --
def on_upload(ctx: StudioContext, file, tokens, request: gr.Request, **values):
    lang = Lang.of(request)
    if not file:
        return gr.skip()
    try:
        stored = ctx.store_upload(file, allowed=data_check.data_suffixes())
    except DataError as e:
        return empty_outputs(None, lang.lead("This file cannot be used:", "无法使用这个文件：", str(e)), "error", lang)
    state = DataState(str(stored.path), stored.display_name, "upload", values.get("task") or DEFAULT_TASK)
    # A new file has new columns: let detection choose them again.
    return run_check(state, tokens, {**values, "text_column": None, "context_column": None, "label_column": None}, lang)


def on_pick_sample(ctx: StudioContext, name, tokens, request: gr.Request, **values):
    lang = Lang.of(request)
    if not name:
        return gr.skip()
    if name not in ctx.samples:
        raise gr.Error(f"No bundled sample named {name!r}; choose one of {', '.join(ctx.samples)}.")
    state = DataState(str(ctx.samples[name]), name, "sample", data_check.sample_task(name))
    checked = run_check(state, tokens, {**values, "text_column": None, "context_column": None, "label_column": None,
                                        "header": True}, lang)
    return checked + (None, state.task, _hint(state.task, lang), True)


def on_task(ctx: StudioContext, task_name, state: DataState | None, tokens, request: gr.Request, **values):
    """A new task: an uploaded file is checked as that task, saying so; otherwise the task's first bundled sample."""
    lang = Lang.of(request)
    names = [name for _, name in task_choices()]
    if task_name not in names:
        raise gr.Error(f"Unknown task {task_name!r}; choose one of {', '.join(names)}.")
    choices = data_check.samples_for(task_name, ctx.samples)
    values = {**values, "text_column": None, "context_column": None, "label_column": None}
    title = get_task(task_name).texts.title
    if state is not None and state.kind == "upload":  # keep the user's file: check it as the new task
        lead = lang(f"Switched to {title.en}: {state.name} checked again for it. ",
                    f"已切换到{title.zh}：已按此任务重新检查 {state.name}。")
        return run_check(state.but(task=task_name, note=lead), tokens, values, lang) + (
            gr.update(choices=choices, value=None), _hint(task_name, lang))
    if not choices:
        return empty_outputs(None, lang(f"No bundled sample for {title.en}; upload a file.",
                                        f"{title.zh}没有内置示例，请上传文件。"), lang=lang) + (
            gr.update(choices=[], value=None), _hint(task_name, lang))
    state = DataState(str(ctx.samples[choices[0]]), choices[0], "sample", task_name)
    return run_check(state, tokens, {**values, "header": True}, lang) + (
        gr.update(choices=choices, value=choices[0]), _hint(task_name, lang))


def on_check(state, tokens, request: gr.Request = None, **values):
    return run_check(state, tokens, values, Lang.of(request))


def on_recount(state, tokens, request: gr.Request = None, **values):
    """Another tokenizer or max_length (the Model tab): count a checked file again, read as its last check read it. A
    refused file stays as it is: its pickers hold the task's guesses, not choices, and its message says what happened
    (a task switch).

    The fields this event was sent with can be older than that check: the page sends them when the new model is
    picked, and a one-click fix (skip the records that cannot be read) may have run while the model loaded."""
    if state is not None and state.failed:
        return gr.skip()
    return on_check(state, tokens, request, **{**values, **_thawed(state.read_with if state else ())})


def on_page_load(state, tokens, request: gr.Request = None, **values):
    """The tab was checked once, in English, when the page was built: a reader in another language gets it again."""
    lang = Lang.of(request)
    if not lang.zh:
        return (gr.skip(),) * (len(empty_outputs(None, "")) + 1)
    return run_check(state, tokens, values, lang) + (_hint(state.task if state else DEFAULT_TASK, lang),)


def on_repair_bio(state, tokens, request: gr.Request = None, **values):
    """The one-click fix for a tag file with an I-TYPE that starts an entity: read each such tag as B-TYPE (the
    repair_bio box stays ticked, so the run reads the file the same way)."""
    return run_check(state, tokens, {**values, "repair_bio": True}, Lang.of(request)) + (True,)


def on_skip_bad_records(state, tokens, request: gr.Request = None, **values):
    """The one-click fix for a file with records that cannot be read: leave them out and read the rest (the
    skip_bad_records box stays ticked, so the run reads the file the same way; the warnings count them)."""
    return run_check(state, tokens, {**values, "skip_bad_records": True}, Lang.of(request)) + (True,)


def on_read_without_header(state, tokens, request: gr.Request = None, **values):
    """The one-click fix for a headerless CSV/TSV: read every line as data; the columns are found by contents."""
    return run_check(state, tokens,
                     {**values, "header": False, "text_column": None, "context_column": None, "label_column": None},
                     Lang.of(request)) + (False,)


# -------------------------------------------------------------------------------------------- layout --
def _source_column(ctx: StudioContext, first: tuple, task0: str) -> tuple:
    """The left column: task, sample, upload, status, column pickers, split settings."""
    with gr.Group():
        task = gr.Dropdown(choices=task_choices(), value=task0, label=t("Task", "任务"), elem_id="data-task",
                           info=t("What the model learns; the data, metrics and playground follow it.",
                                  "模型要学什么；数据格式、指标和试用页都随之变化。"))
        task_hint = gr.Markdown(_hint(task0), elem_classes=["studio-muted"])
        sample = gr.Dropdown(choices=data_check.samples_for(task0, ctx.samples),
                             value=first[0].name if first[0] else None, elem_id="data-sample",
                             label=t("Bundled sample", "内置示例数据"),
                             info=t("Small datasets that train in seconds.", "几秒即可训练完的小数据集。"))
        # Any file reaches the studio, which says in words why one it cannot read is refused (a browser-side
        # filter would only show a bare "Error").
        upload = gr.File(label=t("Or upload your own (CSV, TSV, TXT, JSON, JSONL, Parquet, CoNLL)",
                                 "或上传自己的文件（CSV、TSV、TXT、JSON、JSONL、Parquet、CoNLL）"),
                         file_types=None, height=130, elem_id="data-upload")
    status = message_box(value=first[1], elem_id="data-status")
    header_fix = gr.Button(t("Read it without a header row", "按无表头读取"), visible=False, size="sm",
                           elem_id="data-header-fix")
    bio_fix = gr.Button(t("Repair the tags: an I- that starts an entity becomes B-",
                          "修复标签：开启实体的 I- 改为 B-"), visible=False, size="sm", elem_id="data-bio-fix")
    skip_fix = gr.Button(t("Go on without the records that cannot be read", "跳过无法读取的记录，继续"),
                         visible=False, size="sm", elem_id="data-skip-fix")
    with gr.Group():
        input_label, answer_label, answer_info, context_label = picker_texts(task0)
        text_column = gr.Dropdown(choices=first[2]["choices"], value=first[2]["value"], label=input_label,
                                  allow_custom_value=True,
                                  info=t("Detected automatically; correct it if it is wrong.",
                                         "自动检测，如有误请更正。"))
        context_column = gr.Dropdown(choices=first[10]["choices"], value=first[10]["value"], label=context_label,
                                     allow_custom_value=True, visible=has_context(task0), elem_id="data-context-column",
                                     info=t("The passage each question is answered from.",
                                            "回答每个问题所依据的段落。"))
        label_column = gr.Dropdown(choices=first[3]["choices"], value=first[3]["value"], label=answer_label,
                                   allow_custom_value=True, info=answer_info)
        label_names = gr.Textbox(label=t("Names of numeric labels (optional)", "数字标签的名称（可选）"),
                                 placeholder=t("e.g. negative, positive   or   O, B-PER, I-PER, B-LOC, I-LOC",
                                               "例如 negative, positive   或   O, B-PER, I-PER, B-LOC, I-LOC"),
                                 info=t("Only for files that store class ids (0, 1, 2, ...), as Hugging Face "
                                        "datasets export them: the names in id order, comma-separated. "
                                        "Press Enter to check again.",
                                        "仅用于以类别编号（0、1、2……）存储标签的文件（如 Hugging Face "
                                        "数据集导出的文件）：按编号顺序填写名称，用逗号分隔。按回车重新检查。"),
                                 elem_id="data-label-names")
        header = gr.Checkbox(value=True, label=t("The first line names the columns", "第一行是列名"),
                             info=t("Untick for a CSV/TSV file without a header row: every line is data and the "
                                    "columns are found by their contents.",
                                    "没有表头的 CSV/TSV 文件请取消勾选：每一行都是数据，按内容识别各列。"),
                             elem_id="data-header")
        repair_bio = gr.Checkbox(value=False, label=t("Repair BIO tags", "修复 BIO 标签"), elem_id="data-repair-bio",
                                 visible=get_task(task0).data.bio_tags,
                                 info=t("An I-TYPE that does not continue an entity of its type starts one (as B-TYPE) "
                                        "instead of refusing the file; the warnings count the tags changed.",
                                        "不接在同类实体之后的 I-类型 视为实体开头（B-类型），而不是拒绝整个文件；"
                                        "提示中会列出改动的标签数。"))
        skip_bad_records = gr.Checkbox(value=False, label=t("Skip records that cannot be read", "跳过无法读取的记录"),
                                       elem_id="data-skip-bad-records",
                                       info=t("Train on the records that can be read instead of refusing the file "
                                              "for a few bad ones; the warnings count those left out and say why.",
                                              "用能读取的记录训练，而不是因为少数坏记录拒绝整个文件；"
                                              "提示中会列出跳过的记录数及原因。"))
    with gr.Accordion(t("Split settings", "数据划分设置"), open=False):
        split_labels = {"validation_fraction": t("Validation share", "验证集比例"),
                        "test_fraction": t("Test share", "测试集比例"),
                        "split_seed": t("Split seed", "划分随机种子"),
                        "max_rows": t("Use at most this many training rows", "最多使用的训练行数")}
        split_fields = {s["name"]: forms.field_component(s, split_labels[s["name"]]) for s in forms.data_field_specs()}
    return (task, task_hint, sample, upload, status, header_fix, bio_fix, skip_fix, text_column, label_column,
            context_column, label_names, header, repair_bio, skip_bad_records, split_fields)


def _findings_column(first: tuple) -> tuple:
    """The right column: summary, warnings, charts, preview."""
    summary = gr.Markdown(first[4], elem_classes=["studio-card"])
    warnings = message_box(value=first[5], elem_id="data-warnings")
    with gr.Row():  # each figure carries its task's own title, in the reader's language
        labels_plot = gr.Plot(first[6], label=t("Counts", "统计"), show_label=False, elem_id="data-counts-plot")
        tokens_plot = gr.Plot(first[7], label=t("Token lengths", "词元长度"), show_label=False,
                              elem_id="data-lengths-plot")
    preview = gr.Dataframe(first[8]["value"], column_widths=first[8]["column_widths"], visible=first[8]["visible"],
                           label=t("Preview (first rows as read)", "预览（读取到的前几行）"),
                           interactive=False, wrap=True, max_height=360, elem_id="data-preview")
    return summary, warnings, labels_plot, tokens_plot, preview


def build(ctx: StudioContext) -> DataTab:
    intro(t("Start with what the model should learn and labelled examples of it: pick the task, then a bundled sample "
            "or your own file. The studio checks it the way training will and shows what it found.",
            "先选择模型要学的任务，再选择内置示例或上传自己的文件。工作室会按训练时的方式检查数据并展示结果。"))
    for task in all_tasks():  # texts first made after launch would reach the browser as keys
        picker_texts(task.name)
    first = initial(ctx)
    task0 = first[0].task if first[0] else DEFAULT_TASK
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=320):
            left = _source_column(ctx, first, task0)
        with gr.Column(scale=2, min_width=480):
            right = _findings_column(first)
    tab = DataTab(gr.State(first[0]), gr.State(initial_tokens(ctx)), *left, *right,
                  on_check=data_event(on_check), on_recount=data_event(on_recount))
    _wire(ctx, tab)
    return tab


def _wire(ctx: StudioContext, tab: DataTab) -> None:
    form, names = tab.form, list(tab.form)
    data = DATA_QUEUE
    tab.upload.upload(data_event(forms.with_keywords(bind(on_upload, ctx), names)), inputs=[tab.upload, tab.tokens],
                      inputs_kwargs=form, outputs=tab.outputs, api_name="upload_data", **data)
    tab.sample.input(data_event(forms.with_keywords(bind(on_pick_sample, ctx), names)), inputs=[tab.sample, tab.tokens],
                     inputs_kwargs=form, outputs=tab.outputs + [tab.upload, tab.task, tab.task_hint, tab.header],
                     api_name="use_sample", **data)
    tab.task.input(data_event(forms.with_keywords(bind(on_task, ctx), names)), inputs=[tab.task, tab.state, tab.tokens],
                   inputs_kwargs=form, outputs=tab.outputs + [tab.sample, tab.task_hint], api_name="set_task", **data)
    tab.header_fix.click(data_event(forms.with_keywords(on_read_without_header, names)), inputs=[tab.state, tab.tokens],
                         inputs_kwargs=form, outputs=tab.outputs + [tab.header], api_name="read_without_header", **data)
    tab.bio_fix.click(data_event(forms.with_keywords(on_repair_bio, names)), inputs=[tab.state, tab.tokens],
                      inputs_kwargs=form,
                      outputs=tab.outputs + [tab.repair_bio], api_name="repair_bio_tags", **data)
    tab.skip_fix.click(data_event(forms.with_keywords(on_skip_bad_records, names)), inputs=[tab.state, tab.tokens],
                       inputs_kwargs=form, outputs=tab.outputs + [tab.skip_bad_records], api_name="skip_bad_records",
                       **data)
    tab.task.change(lambda name: gr.update(visible=get_task(name).data.bio_tags), inputs=tab.task,
                    outputs=tab.repair_bio, api_visibility="private", queue=False)
    f = tab.split_fields
    gr.on([tab.text_column.input, tab.label_column.input, tab.context_column.input, tab.label_names.submit,
           tab.label_names.blur, tab.header.input, tab.repair_bio.input, tab.skip_bad_records.input,
           f["validation_fraction"].release, f["test_fraction"].release,
           f["split_seed"].submit, f["split_seed"].blur, f["max_rows"].submit, f["max_rows"].blur],
          data_event(forms.with_keywords(on_check, names)), inputs=[tab.state, tab.tokens], inputs_kwargs=form,
          outputs=tab.outputs, api_name="check_data", trigger_mode="always_last", **data)
