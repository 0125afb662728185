"""Runs tab: every run, side-by-side comparison, one run's test report and mistakes, resume and delete, and
benchmarks of a chat run beside its base (components.panels.benchmark_panel), and the Ray cluster runs go to
(components.panels.cluster_panel)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from components.context import StudioContext, pick
from components.i18n import EN, Lang, t
from components.panels import benchmark_panel, cluster_panel
from components.ui import bind, esc, intro, message, message_box, shows_user_errors
from studio import augment, distill
from studio.base import files, runfolder
from studio.base.access import parse_readers
from studio.base.runfolder import RunFolder
from studio.base.text import Text
from studio.labels import labelling
from studio.tasks import all_tasks
from studio.training.base_scores import side_by_side
from studio.views import plots, run_views


def compare_metrics() -> list[tuple[str, str]]:
    """The curves runs can be compared on: validation loss, every task's plotted scores, training loss, learning rate."""  # noqa: E501
    out = [("validation loss", "eval_loss")]
    for task in all_tasks():
        for m in task.metrics.plot:
            key = f"eval_{m}"
            if key not in [k for _, k in out]:
                out.append((str(task.metrics.labels.get(key) or plots.METRIC_NAMES.get(key, key)), key))
    return out + [("training loss", "loss"), ("learning rate", "learning_rate")]
HEADERS = {"label": "true label"}  # a prediction row's key -> its column header, where the key alone misleads
ERROR_COLUMNS = ["text", "true label", "predicted", "confidence"]
PER_CLASS_COLUMNS = ["label", "precision", "recall", "F1", "support"]
METRIC_COLUMNS = ["run", "status", "best validation", "trainable params", "duration"]
RUN_WIDTHS = ["13%", "12%", "8%", "12%", "17%", "7%", "10%", "7%", "9%", "5%"]
ERROR_WIDTHS = ["61%", "13%", "13%", "13%"]
COMPARE_NOTE = Text("Pick two or more runs and press Compare.", "选择两个或更多运行，然后点击“比较”。")


@dataclass
class RunsTab:
    refresh: gr.Button
    table: gr.Dataframe
    empty: gr.Markdown
    compare_runs: gr.Dropdown
    compare_metric: gr.Dropdown
    compare: gr.Button
    compare_plot: gr.Plot
    compare_metrics: gr.Dataframe
    compare_configs: gr.Dataframe
    run: gr.Dropdown
    open: gr.Button
    resume: gr.Button
    resume_batch: gr.Number  # the batch size to resume with (0: the run's own)
    delete: gr.Button
    share_with: gr.Textbox   # who else may look at the run: names, or everyone; empty makes it private
    share: gr.Button
    confirm_row: gr.Row
    confirm_text: gr.Markdown
    confirm_delete: gr.Button
    cancel_delete: gr.Button
    action_message: gr.HTML
    summary: gr.Markdown
    per_class: gr.Dataframe
    confusion: gr.Plot
    error_filter: gr.Dropdown
    error_note: gr.Markdown
    errors: gr.Dataframe
    learning_curve: gr.Plot  # shown for a run a labelling project trained: its test score vs labels used
    on_refresh: Any = None   # (selected, current) -> list_outputs; other tabs refresh this one with it
    benchmarks: Any = None   # components.panels.benchmark_panel.BenchmarkPanel, under the run details
    cluster: Any = None      # components.panels.cluster_panel.ClusterPanel, last

    @property
    def list_outputs(self) -> list:
        return [self.table, self.empty, self.compare_runs, self.run]


def run_summary(info: dict, lang: Lang = EN) -> str:
    st = info.get("status_detail") or {}
    cfg = info.get("config") or {}
    lines = [f"### {esc(info.get('name') or info['id'])}",
             f"`{esc(info['id'])}` · **{esc(info.get('status'))}** · {esc(cfg.get('model'))} · "
             f"{esc(cfg.get('method'))} · {run_views.fmt_duration(run_views.run_duration(info))}"]
    if st.get("reason"):
        lines.append(f"\n> {esc(st['reason'])}")
    access = info.get("access") or {}
    if access.get("owner"):
        readers = ", ".join(lang("everyone", "所有人") if r == "*" else r for r in access.get("readers") or [])
        lines.append("\n" + lang(f"Owner: {esc(access['owner'])}", f"所有者：{esc(access['owner'])}") + (
            lang(f" · shared read-only with {esc(readers)}", f" · 只读共享给 {esc(readers)}") if readers else ""))
    launch = st.get("launch") or {}
    if launch.get("launcher") not in (None, "none"):
        lines.append(f"\n{launch.get('num_processes')} processes · {esc(launch.get('distributed'))} over "
                     f"{esc(launch.get('backend'))} · `{esc(launch.get('command'))}`")
    aug = augment.describe(info.get("data_report") or {})
    if aug:
        n = (info["data_report"]["augmentation"]["train_rows_after"]
             - info["data_report"]["augmentation"]["train_rows"])
        lines.append("\n" + lang(f"Trained with {esc(aug)} besides the file's own; validation and test rows are "
                                  "never augmented.",
                                  f"数据增强新增 {n} 行训练数据；验证集和测试集保持原样。"))
    rep = info.get("test_report")
    if rep:
        lines.append(f"\n{esc(run_views.task_of(info).name)} · {lang('test split', '测试集')}, {rep.get('n')} "
                     f"{lang('test rows', '个测试样本')}\n\n" + report_table(rep, lang))
        if rep.get("distillation"):
            lines.append("\n" + distillation_table(rep, Path(info["dir"]).parent, lang))
        if rep.get("wins_losses"):
            lines.append("\n" + wins_losses_table(rep["wins_losses"], lang))
    elif info.get("status") == "completed":
        lines.append("\n" + lang("This run has no test report.", "这个运行没有测试报告。"))
    else:
        lines.append("\n" + lang("The test report appears when the run completes.", "运行完成后会显示测试报告。"))
    return "\n".join(lines)


def distillation_table(rep: dict, runs_root: Path, lang: Lang = EN) -> str:
    """Teacher, distilled student and the student on labels alone: test scores, size and measured speed."""
    d = rep["distillation"]
    alone = files.read_json(runs_root / d["alone"] / RunFolder.report.name) if d.get("alone") else None
    if d.get("kind") == "sequence":
        return (lang("**Distillation** (sequence level): ", "**知识蒸馏**（序列级）：")
                + esc(distill.sequence_line(rep, alone)))
    who = {"teacher": lang("teacher", "教师模型"),
           "student (distilled)": lang("student, distilled", "学生模型（蒸馏）"),
           "student (labels only)": lang("student, labels only", "学生模型（仅标签）")}
    lines = [lang(f"**Distillation** (temperature {d['temperature']}, teacher weight {d['alpha']}"
                  + (f", {d['transfer_rows']} transfer texts" if d.get("transfer_rows") else "") + ")",
                  f"**知识蒸馏**（温度 {d['temperature']}，教师权重 {d['alpha']}"
                  + (f"，{d['transfer_rows']} 条迁移文本" if d.get("transfer_rows") else "") + "）"), "",
             lang("| | run | model | accuracy | macro F1 | parameters | ms per text | texts per second |",
                  "| | 运行 | 模型 | 准确率 | 宏平均 F1 | 参数量 | 每条毫秒 | 每秒条数 |"),
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in distill.side_by_side(rep, alone):
        m = r["metrics"]
        score = (f"{m['accuracy']:.4f} | {m['f1']:.4f}" if m else lang("queued or running | ", "排队或运行中 | "))
        lines.append(f"| {who[r['who']]} | `{esc(r['run'])}` | {esc(Path(str(r['model'])).name)} · {esc(r['method'])} "
                     f"| {score} | {run_views.fmt_count(r['parameters'])} | {r['latency_ms']:.1f} | "
                     f"{r['texts_per_second']:.0f} |")
    return "\n".join(lines)


def _short(text, most: int = 90) -> str:
    text = " ".join(str(text or "").split())
    return esc(text if len(text) <= most else text[:most - 1] + "…").replace("|", "\\|")


def wins_losses_table(wl: dict, lang: Lang = EN) -> str:
    """The held-out prompts whose reward rose and fell most from the base's reply to the tuned model's."""
    lines = [lang(f"**Biggest wins and losses against the base** ({wl.get('same', 0)} prompts scored the same)",
                  f"**相对基础模型提升和下降最多的提示**（{wl.get('same', 0)} 个提示得分相同）"), "",
             lang("| | prompt | base reply | reward | tuned reply | reward |",
                  "| | 提示 | 基础模型回复 | 奖励 | 微调后回复 | 奖励 |"), "|---|---|---|---:|---|---:|"]
    for kind, rows in ((lang("win", "提升"), wl.get("wins") or []), (lang("loss", "下降"), wl.get("losses") or [])):
        lines += [f"| {kind} | {_short(r['text'])} | {_short(r['base_output'])} | {r['base_reward']:.2f} | "
                  f"{_short(r['output'])} | {r['reward']:.2f} |" for r in rows]
    return "\n".join(lines)


def report_table(rep: dict, lang: Lang = EN) -> str:
    """The test metrics as a Markdown table: the fine-tuned model's row, and the untrained base's beneath it."""
    rows = side_by_side(rep)
    lines = ["| | " + " | ".join(esc(k) for k, _, _ in rows) + " |", "|---|" + "---:|" * len(rows),
             f"| {lang('fine-tuned', '微调后')} | " + " | ".join(f"{v:.4f}" for _, v, _ in rows) + " |"]
    base = rep.get("base")
    if base:
        lines.append(f"| {lang('base (untrained)', '基础模型（未训练）')} | "
                     + " | ".join("-" if b is None else f"{b:.4f}" for _, _, b in rows) + " |")
        what = lang(str(base.get("what")), str(base.get("what_zh") or base.get("what")))
        lines += ["", f"<span class='studio-muted'>{esc(lang('Base: ', '基础模型：') + what)}</span>"]
    return "\n".join(lines)


def _predictions(run_dir: Path):
    """How the run's task's test predictions read (Task.predictions)."""
    return run_views.task_of({"config": files.read_json(RunFolder(run_dir).config)}).predictions


def _cell(v):
    if isinstance(v, float):
        return round(v, 4)
    return v if isinstance(v, (str, int, bool)) or v is None else json.dumps(v, ensure_ascii=False)


def errors_frame(run_dir: Path, true_label: str | None) -> pd.DataFrame:
    """The test predictions worth a look (mistakes first, where rows can be wrong), in the task's columns."""
    cols = list(_predictions(run_dir).columns)
    rows = run_views.misclassified(run_dir, true_label or None)
    return pd.DataFrame([[_cell(r.get(c)) for c in cols] for r in rows], columns=[HEADERS.get(c, c) for c in cols])


def errors_note(run_dir: Path, true_label: str | None, lang: Lang = EN) -> str:
    spec = _predictions(run_dir)
    total = run_views.test_predictions(run_dir)
    if true_label and spec.label:
        total = [r for r in total if r.get(spec.label) == true_label]
    if not total:
        return lang("No test predictions yet: they are written when the run completes.",
                    "还没有测试预测：运行完成后写入。")
    if spec.correct is None:
        return lang(f"{len(total)} test examples with the model's output beside the reference.",
                    f"{len(total)} 个测试样本，模型输出与参考答案并列显示。")
    wrong = sum(1 for r in total if not r.get(spec.correct))
    scope = lang(f" with true label {true_label}", f"（真实标签 {true_label}）") if true_label else ""
    if not wrong:
        return lang(f"All {len(total)} test examples{scope} were right.",
                    f"全部 {len(total)} 个测试样本{scope}都正确。")
    if spec.confidence is None:  # generated answers (exact match), preference pairs (ranked right)
        return lang(f"{wrong} of {len(total)} test examples were not right; they are listed below.",
                    f"{len(total)} 个测试样本中有 {wrong} 个不正确，列在下面。")
    if spec.label is None:  # spans, tagged sentences: wrong, not misclassified
        return lang(f"{wrong} of {len(total)} test examples were not right; the most confident mistakes come first.",
                    f"{len(total)} 个测试样本中有 {wrong} 个不正确；置信度最高的错误排在前面。")
    return lang(f"{wrong} of {len(total)} test examples{scope} were misclassified; the most confident "
                "mistakes come first.",
                f"{len(total)} 个测试样本{scope}中有 {wrong} 个分类错误；置信度最高的错误排在前面。")


def blank_figures(lang: Lang) -> list:
    """The comparison and confusion charts before anything is shown, in the reader's language (the page is built
    in English)."""
    return [plots.empty_figure(COMPARE_NOTE, zh=lang.zh), plots.confusion_figure([], [], zh=lang.zh)]


def on_refresh(ctx: StudioContext, selected=None, current=None):
    rows = ctx.runs()
    choices = [(run_views.run_label(r), r["id"]) for r in rows]
    ids = {c[1] for c in choices}
    frame = pd.DataFrame(run_views.runs_table(rows), columns=run_views.RUN_COLUMNS)
    return (frame, gr.update(visible=not rows),
            gr.update(choices=choices, value=[s for s in (selected or []) if s in ids]),
            gr.update(choices=choices, value=pick(choices, current)))


@shows_user_errors
def on_compare(ctx: StudioContext, run_ids, metric, request: gr.Request = None):
    lang = Lang.of(request)
    run_ids = [r for r in (run_ids or []) if r]
    if not run_ids:
        raise gr.Error(lang("Pick at least one run to compare.", "请至少选择一个运行进行比较。"))
    infos = [ctx.store.get(rid) for rid in run_ids]
    curves = {f"{i.get('name') or i['id']} ({i['id'][-6:]})": runfolder.read_metrics(Path(i["dir"])) for i in infos}
    names = run_views.test_metric_names(infos)
    with_base = any((i.get("test_report") or {}).get("base") for i in infos)
    metrics = pd.DataFrame([run_views.metrics_row(i, names, with_base) for i in infos])
    header, rows = run_views.config_diff({f"{i.get('name') or i['id']} ({i['id'][-6:]})": i.get("config") or {}
                                          for i in infos})
    if not rows:
        rows = [[lang("(all settings are the same)", "（所有设置都相同）"), *[""] * (len(header) - 1)]]
    figure = plots.compare_figure(curves, metric or "eval_loss", zh=lang.zh)
    return figure, metrics, pd.DataFrame(rows, columns=header)


@shows_user_errors
def on_open(ctx: StudioContext, run_id, request: gr.Request = None):
    lang = Lang.of(request)
    rd = ctx.run_dir(run_id)
    info = ctx.store.get(rd.name)
    rep = info.get("test_report") or {}
    labels = rep.get("labels") or []
    per = pd.DataFrame(run_views.per_class_rows(rep), columns=PER_CLASS_COLUMNS)
    # A confusion matrix and per-label filters where the report has a matrix (a classifier's).
    matrix = rep.get("confusion_matrix")
    title = run_views.task_of(info).texts.title
    confusion = (plots.confusion_figure(labels, matrix, zh=lang.zh) if matrix else
                 plots.empty_figure(lang(f"{title.en} runs have no confusion matrix.",
                                         f"{title.zh}运行没有混淆矩阵。")))
    filters = labels if matrix else []
    return (run_summary(info, lang), per, confusion,
            gr.update(choices=[(lang("all labels", "全部标签"), "")] + [(l, l) for l in filters], value=""),
            errors_note(rd, None, lang), errors_frame(rd, None))


def on_learning_curve(ctx: StudioContext, run_id, request: gr.Request = None):
    """The learning curve (test score vs labels used) of the labelling project that trained this run, if any."""
    project = labelling.project_of_run(ctx.store, ctx.run_dir(run_id).name) if run_id else None
    if project is None:
        return gr.update(visible=False)
    spec = labelling.load(ctx.store, project)
    points = labelling.curve_points(labelling.curve(ctx.store, project))
    fig = plots.learning_curve_figure({spec["name"]: points}, title=f"{spec['name']} ({project})",
                                      zh=Lang.of(request).zh)
    return gr.update(value=fig, visible=True)


def on_filter_errors(ctx: StudioContext, run_id, true_label, request: gr.Request = None):
    rd = ctx.run_dir(run_id)
    return errors_note(rd, true_label, Lang.of(request)), errors_frame(rd, true_label)


def on_pick_row(evt: gr.SelectData):
    row = evt.row_value or []
    return gr.update(value=row[0]) if row else gr.skip()


@shows_user_errors
def on_resume(ctx: StudioContext, run_id, batch_size=0, request: gr.Request = None):
    """Resume; with a batch size (one that ran out of memory: half its own), gradient accumulation grows to keep
    the effective batch."""
    lang = Lang.of(request)
    changes = {"batch_size": int(batch_size)} if batch_size else None
    ctx.store.resume(ctx.run_dir(run_id).name, changes)
    smaller = lang(f" with batch size {int(batch_size)}", f"，批大小改为 {int(batch_size)}") if changes else ""
    return message(lang(f"Run {run_id} queued again{smaller}; it continues from its last checkpoint. Follow it in the "
                        "Train tab.",
                        f"运行 {run_id} 已重新排队{smaller}，会从上次的检查点继续。可在“训练”标签页查看进度。"),
                   "ok")


def on_ask_delete(ctx: StudioContext, run_id, request: gr.Request = None):
    lang = Lang.of(request)
    ctx.run_dir(run_id)
    return gr.update(visible=True), lang(f"Delete run **{esc(run_id)}** and its folder (model, checkpoints, reports)? "
                                         "This cannot be undone.",
                                         f"删除运行 **{esc(run_id)}** 及其文件夹（模型、检查点、报告）？"
                                         "此操作无法撤销。")


@shows_user_errors
def on_share(ctx: StudioContext, run_id, readers, request: gr.Request = None):
    """Let others look at the run (read-only): names, comma-separated, or everyone; empty makes it private again."""
    lang = Lang.of(request)
    access = ctx.store.share(ctx.run_dir(run_id).name, parse_readers(readers))
    shown = ", ".join(lang("everyone", "所有人") if r == "*" else r for r in access.readers)
    return message(lang(f"Run {run_id} is shared read-only with {shown}." if shown else f"Run {run_id} is private.",
                        f"运行 {run_id} 已只读共享给 {shown}。" if shown else f"运行 {run_id} 现为私有。"), "ok")


@shows_user_errors
def on_delete(ctx: StudioContext, run_id, request: gr.Request = None):
    lang = Lang.of(request)
    ctx.store.delete(ctx.run_dir(run_id).name)
    return message(lang(f"Deleted run {run_id}.", f"已删除运行 {run_id}。"), "ok"), gr.update(visible=False)


# -------------------------------------------------------------------------------------------- layout --
def _runs_list() -> tuple:
    with gr.Row():
        refresh = gr.Button(t("Refresh", "刷新"), scale=0, min_width=120)
    empty = gr.Markdown(t("No runs yet: start one in the Train tab.", "还没有运行：请在“训练”标签页开始一个。"),
                        elem_classes=["studio-empty"])
    table = gr.Dataframe(pd.DataFrame(columns=run_views.RUN_COLUMNS), label=t("Runs", "运行列表"), interactive=False,
                         wrap=True, max_height=320, column_widths=RUN_WIDTHS, elem_id="runs-table")
    return refresh, table, empty


def _compare_section() -> tuple:
    with gr.Accordion(t("Compare runs", "比较运行"), open=True):
        with gr.Row(equal_height=False, elem_classes=["studio-toolbar"]):
            compare_runs = gr.Dropdown(choices=[], value=[], multiselect=True, scale=4, allow_custom_value=True,
                                       label=t("Runs to compare", "要比较的运行"))
            compare_metric = gr.Dropdown(choices=compare_metrics(), value="eval_loss", scale=2,
                                         label=t("Curve", "曲线"))
            compare = gr.Button(t("Compare", "比较"), scale=0, min_width=120, variant="primary")
        compare_plot = gr.Plot(plots.empty_figure(COMPARE_NOTE),
                               label=t("Curves", "曲线对比"))
        compare_metrics_table = gr.Dataframe(pd.DataFrame(columns=METRIC_COLUMNS), label=t("Metrics", "指标"),
                                             interactive=False, wrap=True)
        compare_configs = gr.Dataframe(pd.DataFrame(columns=["setting"]), label=t("Settings that differ", "不同的设置"),
                                       interactive=False, wrap=True)
    return compare_runs, compare_metric, compare, compare_plot, compare_metrics_table, compare_configs


def _details_section() -> tuple:
    with gr.Accordion(t("Run details", "运行详情"), open=True):
        with gr.Row(equal_height=False, elem_classes=["studio-toolbar"]):
            run = gr.Dropdown(choices=[], value=None, label=t("Run", "运行"), scale=4, elem_id="runs-run",
                              allow_custom_value=True)
            open_btn = gr.Button(t("Open", "打开"), scale=0, min_width=110, variant="primary")
            resume = gr.Button(t("Resume", "继续训练"), scale=0, min_width=110)
            resume_batch = gr.Number(value=0, precision=0, minimum=0, maximum=4096, scale=1, min_width=150,
                                     label=t("Resume with batch size", "继续时的批大小"), elem_id="runs-resume-batch",
                                     info=t("0 keeps it; a run that ran out of memory: half. Accumulation grows to "
                                            "keep the effective batch.", "0 表示不变；显存不足的运行：减半。"
                                            "梯度累积会相应增加，有效批大小不变。"))
            delete = gr.Button(t("Delete…", "删除…"), variant="stop", scale=0, min_width=110)
        with gr.Row(equal_height=False, elem_classes=["studio-toolbar"]):
            share_with = gr.Textbox(label=t("Share read-only with", "只读共享给"), scale=4, elem_id="runs-share-with",
                                    placeholder=t("bob, carol   or   everyone", "bob, carol   或   everyone"),
                                    info=t("Account names, comma-separated, or everyone; empty makes it private. "
                                           "They can look at it and try it, not change it.",
                                           "账号名（逗号分隔）或 everyone；留空则设为私有。"
                                           "对方可以查看和试用，但不能修改。"))
            share = gr.Button(t("Share", "共享"), scale=0, min_width=110, elem_id="runs-share")
        with gr.Row(visible=False, elem_classes=["studio-confirm"]) as confirm_row:
            confirm_text = gr.Markdown("")
            confirm_delete = gr.Button(t("Yes, delete it", "确认删除"), variant="stop", scale=0, min_width=140)
            cancel_delete = gr.Button(t("Cancel", "取消"), scale=0, min_width=100)
        action_message = message_box()
        summary = gr.Markdown(t("Pick a run and press Open to see its test report.",
                                "选择一个运行并点击“打开”查看测试报告。"),
                              elem_classes=["studio-card"], elem_id="run-summary")
        with gr.Row():
            per_class = gr.Dataframe(pd.DataFrame(columns=PER_CLASS_COLUMNS),
                                     label=t("Per class (test split)", "各类别指标（测试集）"), interactive=False)
            confusion = gr.Plot(plots.confusion_figure([], []), label=t("Confusion matrix", "混淆矩阵"))
        error_filter = gr.Dropdown(choices=[("all labels", "")], value="", allow_custom_value=True,
                                   label=t("Misclassified test examples with the true label",
                                           "错误分类的测试样本（按真实标签筛选）"))
        error_note = gr.Markdown("", elem_id="errors-note")
        errors = gr.Dataframe(pd.DataFrame(columns=ERROR_COLUMNS),
                              label=t("Misclassified test examples, most confident first",
                                      "错误分类的测试样本（置信度高的在前）"),
                              interactive=False, wrap=True, max_height=420, column_widths=ERROR_WIDTHS)
        learning_curve = gr.Plot(visible=False, elem_id="runs-learning-curve",
                                 label=t("Learning curve of its labelling project", "所属标注项目的学习曲线"))
    return (run, open_btn, resume, resume_batch, delete, share_with, share, confirm_row, confirm_text, confirm_delete,
            cancel_delete, action_message, summary, per_class, confusion, error_filter, error_note, errors,
            learning_curve)


def build(ctx: StudioContext) -> RunsTab:
    intro(t("Every run you can see on this server: yours, and those shared with you. Compare several side by side, "
            "open one for its test report and mistakes, resume a stopped run, share or delete one.",
            "你在本服务器上能看到的所有运行：你自己的，以及共享给你的。可并排比较多个运行，打开某个运行查看测试报告和"
            "错误样本，继续已停止的运行，共享或删除运行。"))
    refresh, table, empty = _runs_list()
    tab = RunsTab(refresh, table, empty, *_compare_section(), *_details_section())
    tab.benchmarks = benchmark_panel.build(ctx, tab.run)
    tab.cluster = cluster_panel.build(ctx)
    tab.on_refresh = bind(on_refresh, ctx)
    _wire(ctx, tab)
    return tab


def _wire(ctx: StudioContext, tab: RunsTab) -> None:
    list_inputs = [tab.compare_runs, tab.run]
    report = [tab.summary, tab.per_class, tab.confusion, tab.error_filter, tab.error_note, tab.errors]
    tab.refresh.click(tab.on_refresh, inputs=list_inputs, outputs=tab.list_outputs, api_name="list_runs")
    tab.compare.click(bind(on_compare, ctx), inputs=[tab.compare_runs, tab.compare_metric],
                      outputs=[tab.compare_plot, tab.compare_metrics, tab.compare_configs], api_name="compare_runs",
                      concurrency_limit=4)
    gr.on([tab.open.click, tab.run.input], bind(on_open, ctx), inputs=tab.run, outputs=report, api_name="run_report",
          concurrency_limit=4)
    tab.run.change(bind(on_learning_curve, ctx), inputs=tab.run, outputs=tab.learning_curve,
                   api_name="run_learning_curve", concurrency_limit=4)
    tab.error_filter.input(bind(on_filter_errors, ctx), inputs=[tab.run, tab.error_filter],
                           outputs=[tab.error_note, tab.errors], api_name="misclassified")
    tab.table.select(on_pick_row, inputs=None, outputs=tab.run, api_visibility="private").then(
        bind(on_open, ctx), inputs=tab.run, outputs=report, api_visibility="private")
    tab.resume.click(bind(on_resume, ctx), inputs=[tab.run, tab.resume_batch], outputs=tab.action_message,
                     api_name="resume_run").then(
        tab.on_refresh, inputs=list_inputs, outputs=tab.list_outputs, api_visibility="private")
    tab.delete.click(bind(on_ask_delete, ctx), inputs=tab.run, outputs=[tab.confirm_row, tab.confirm_text],
                     api_visibility="private")
    report = [tab.summary, tab.per_class, tab.confusion, tab.error_filter, tab.error_note, tab.errors]
    tab.share.click(bind(on_share, ctx), inputs=[tab.run, tab.share_with], outputs=tab.action_message,
                    api_name="share_run").success(bind(on_open, ctx), inputs=tab.run, outputs=report,
                                                  api_visibility="private")
    tab.confirm_delete.click(bind(on_delete, ctx), inputs=tab.run, outputs=[tab.action_message, tab.confirm_row],
                             api_name="delete_run").then(tab.on_refresh, inputs=list_inputs, outputs=tab.list_outputs,
                                                         api_visibility="private")
    tab.cancel_delete.click(lambda: gr.update(visible=False), outputs=tab.confirm_row, api_visibility="private",
                            queue=False)
