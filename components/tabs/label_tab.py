"""Label tab: active learning in the browser. A pool of unlabelled texts, the rows worth labelling next, a label
per row (one at a time from the keyboard, or in the table), retraining on the grown set, the learning curve.

Every label is saved as it is given (studio.labels.labelling keeps each round in the project's folder), so a refresh,
a second browser or a restarted server find the work where it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from components import forms
from components.context import StudioContext, pick
from components.i18n import Lang, t
from components.session import DataState
from components.ui import bind, esc, intro, message, message_box, run_picker, shows_user_errors
from studio.base.errors import USER_ERRORS, DataError
from studio.config import RunConfig
from studio.labels import labelling, query_strategies
from studio.views import plots, run_views

COLUMNS = ["pool_row", "text", "suggestion", "confidence", "label"]
LABEL = COLUMNS.index("label")
COLD = ""  # the source picker's value for a cold start
CURVE_COLUMNS = ["labels", "run", "status", "accuracy", "f1"]
# After a label is saved the cursor waits in the picker again, its text selected, so the next label is typed over it.
FOCUS_PICKER = ("() => { setTimeout(() => { const el = document.querySelector('#label-one-pick input'); "
                "if (el) { el.focus(); el.select(); } }, 100); }")


@dataclass
class LabelTab:
    picker: gr.Dropdown
    refresh: gr.Button
    empty: gr.Markdown
    pool: gr.File
    start: gr.File
    test: gr.File
    labels: gr.Textbox
    create: gr.Button
    create_message: gr.HTML
    info: gr.HTML
    source: gr.Dropdown
    strategy: gr.Dropdown
    n: gr.Number
    suggest: gr.Button
    round: gr.Dropdown
    one_text: gr.Markdown
    one_pick: gr.Dropdown
    save_next: gr.Button
    skip: gr.Button
    current: gr.State        # the pool row the one-at-a-time labeller shows
    table: gr.Dataframe
    save: gr.Button
    round_message: gr.HTML
    retrain: gr.Button
    retrain_message: gr.HTML
    curve: gr.Plot
    curve_table: gr.Dataframe
    curve_drawn: gr.State    # the curve rows last drawn: the timer redraws only on a change

    @property
    def project_outputs(self) -> list:
        return [self.info, self.source, self.round, *self.round_outputs, self.curve, self.curve_table]

    @property
    def round_outputs(self) -> list:
        return [self.table, self.one_text, self.one_pick, self.current]


# ------------------------------------------------------------------------------------------- reading --
def project_choices(ctx: StudioContext) -> list[tuple[str, str]]:
    return [(f"{p['name']} · {p['task']} · {p['id']}", p["id"]) for p in labelling.list_projects(ctx.store)]


def info_html(d: dict[str, Any], lang: Lang) -> str:
    spec, rounds = d["spec"], d["rounds"]
    labels = spec["labels"]
    shown = ", ".join(labels[:12]) + (f" … (+{len(labels) - 12})" if len(labels) > 12 else "")
    asked = sum(r["offered"] for r in rounds)
    done = sum(r["labelled"] for r in rounds)
    test = lang("its own test file", "自带测试文件") if "test" in spec["files"] else lang(
        "no test file: each run holds out part of the labels, so scores move with them",
        "没有测试文件：每次运行从标注中留出一部分作测试，分数会随之变化")
    total = d["labelled"]
    counts = lang(f"{total} labelled rows in all; {len(rounds)} round{'s' * (len(rounds) != 1)}, {done} of {asked} "
                  "suggested rows labelled.",
                  f"共 {total} 行已标注；{len(rounds)} 轮，建议的 {asked} 行中已标注 {done} 行。")
    return (f"<div class='studio-card'><b>{esc(spec['name'])}</b> · {esc(spec['task'])} · {esc(test)}<br>"
            f"{esc(lang('Labels', '标签'))}: {esc(shown)}<br>{esc(counts)}</div>")


def round_frame(record: dict[str, Any] | None) -> pd.DataFrame:
    rows = [[r["pool_row"], r["text"], r["suggestion"], r["confidence"], r["label"]]
            for r in (record or {}).get("rows", [])]
    return pd.DataFrame(rows, columns=COLUMNS)


def next_unlabelled(record: dict[str, Any] | None, after: int | None = None) -> dict[str, Any] | None:
    """The first row without a label after pool row `after` (wrapping round), or None when all are labelled."""
    rows = (record or {}).get("rows", [])
    start = next((i + 1 for i, r in enumerate(rows) if r["pool_row"] == after), 0)
    for r in rows[start:] + rows[:start]:
        if not r["label"]:
            return r
    return None


def one_at_a_time(record: dict[str, Any] | None, labels: list[str], row: dict[str, Any] | None, lang: Lang) -> tuple:
    """(text, label picker, current pool row) of the one-at-a-time labeller."""
    if record is None:
        return (lang("Ask for suggestions to start labelling.", "请先获取建议再开始标注。"),
                gr.update(choices=labels, value=None), None)
    if row is None:
        return (lang("Every row of this round is labelled: retrain, or ask for the next rows.",
                     "本轮所有行都已标注：可以重新训练，或获取下一批。"), gr.update(choices=labels, value=None), None)
    guess = f" · {lang('model guesses', '模型猜测')} **{esc(row['suggestion'])}**" if row["suggestion"] else ""
    text = f"**{lang('Pool row', '数据池行')} {row['pool_row']}**{guess}\n\n> {esc(row['text'])}"
    return text, gr.update(choices=labels, value=row["suggestion"] or None), row["pool_row"]


def round_view(ctx: StudioContext, project_id: str, number: int | None, lang: Lang) -> list:
    record = _round(ctx, project_id, number)
    labels = labelling.load(ctx.store, project_id)["labels"]
    return [round_frame(record), *one_at_a_time(record, labels, next_unlabelled(record), lang)]


def _round(ctx: StudioContext, project_id: str, number: int | None) -> dict[str, Any] | None:
    rounds = labelling.rounds(ctx.store, project_id)
    if not rounds:
        return None
    return next((r for r in rounds if r["round"] == number), rounds[-1])


def curve_view(d: dict[str, Any], lang: Lang) -> tuple:
    rows = d["curve"]
    table = pd.DataFrame([[r["labels"], r["run"], r["status"], _rounded(r["metrics"].get("accuracy")),
                           _rounded(r["metrics"].get("f1"))] for r in rows], columns=CURVE_COLUMNS)
    fig = plots.learning_curve_figure({d["spec"]["name"]: labelling.curve_points(rows)}, zh=lang.zh)
    return fig, table


def _rounded(value):
    return round(value, 4) if isinstance(value, float) else value


def source_choices(ctx: StudioContext, spec: dict[str, Any], lang: Lang) -> list[tuple[str, str]]:
    runs = [r for r in ctx.runs() if r.get("task") == spec["task"] and r.get("status") == "completed"]
    return [(lang("Cold start: spread over the pool", "冷启动：覆盖整个数据池"), COLD)] + [
        (run_views.run_label(r), r["id"]) for r in runs]


def project_view(ctx: StudioContext, project_id: str | None, lang: Lang) -> list:
    if not project_id:
        return [""] + [gr.skip()] * 8
    d = labelling.describe(ctx.store, project_id)
    trained = [r["run"] for r in d["curve"] if r["status"] == "completed"]
    choices = source_choices(ctx, d["spec"], lang)
    source = trained[-1] if trained and trained[-1] in [c[1] for c in choices] else COLD
    rounds = [(lang(f"Round {r['round']} · {r['strategy']} · {r['labelled']}/{r['offered']} labelled",
                    f"第 {r['round']} 轮 · {r['strategy']} · 已标注 {r['labelled']}/{r['offered']}"), r["round"])
              for r in d["rounds"]]
    latest = rounds[-1][1] if rounds else None
    return [info_html(d, lang), gr.update(choices=choices, value=source), gr.update(choices=rounds, value=latest),
            *round_view(ctx, project_id, latest, lang), *curve_view(d, lang)]


# ------------------------------------------------------------------------------------------- handlers --
def _need_project(ctx: StudioContext, project_id: str | None, lang: Lang) -> str:
    """The picked project, checked first (before anything else the event names) to be one the person may see."""
    if not project_id:
        raise gr.Error(lang("Pick or create a labelling project first.", "请先选择或创建一个标注项目。"))
    labelling.project_dir(ctx.store, project_id)
    return project_id


@shows_user_errors
def on_create(ctx: StudioContext, data_state: DataState | None, pool, start, test, labels_text,
              request: gr.Request = None, **values):
    """A new project from uploaded files; retraining will use the Model tab's settings as they are now."""
    lang = Lang.of(request)
    if not pool:
        raise DataError("Upload the pool first: a file of texts whose labels are missing or partly empty.")
    stored = {k: ctx.store_upload(f) if f else None for k, f in (("pool", pool), ("start", start), ("test", test))}
    raw = forms.raw_config(data_state, values)
    raw["data"] = {"train": str(stored["pool"].path)}  # the pool's columns are its own, found by name or shape
    cfg = RunConfig.from_dict(raw)
    labels = [x.strip() for x in (labels_text or "").split(",") if x.strip()] or None
    project_id = labelling.create(ctx.store, str(stored["pool"].path),
                                  str(stored["start"].path) if stored["start"] else None,
                                  str(stored["test"].path) if stored["test"] else None, labels, cfg,
                                  name=Path(stored["pool"].display_name).stem)
    choices = project_choices(ctx)
    return (message(lang(f"Project {project_id} created. Ask for the first rows to label below.",
                         f"项目 {project_id} 已创建。请在下方获取第一批待标注的行。"), "ok"),
            gr.update(choices=choices, value=project_id), gr.update(visible=False))


def blank_figures(lang: Lang) -> list:
    """The learning curve before a project is shown, in the reader's language (the page is built in English)."""
    return [plots.learning_curve_figure({}, zh=lang.zh)]


def on_refresh(ctx: StudioContext, current):
    choices = project_choices(ctx)
    return gr.update(choices=choices, value=pick(choices, current)), gr.update(visible=not choices)


@shows_user_errors
def on_show(ctx: StudioContext, project_id, request: gr.Request = None):
    return project_view(ctx, project_id, Lang.of(request))


@shows_user_errors
def on_suggest(ctx: StudioContext, project_id, source, strategy, n, progress=gr.Progress(), request: gr.Request = None):
    lang = Lang.of(request)
    project_id = _need_project(ctx, project_id, lang)
    record = labelling.next_round(ctx.store, project_id, int(n or 0), strategy or query_strategies.DEFAULT_STRATEGY,
                                  run_id=source or None, progress=lambda share, what: progress(share, desc=what))
    view = project_view(ctx, project_id, lang)
    how = lang(query_strategies.STRATEGY_HELP.get(record["strategy"], record["how"]))  # the record keeps the English
    note = lang(f"Round {record['round']}: {len(record['rows'])} rows to label ({record['strategy']}). {how}",
                f"第 {record['round']} 轮：{len(record['rows'])} 行待标注（{record['strategy']}）。{how}")
    return [*view, message(note, "ok", record["notes"])]


@shows_user_errors
def on_round(ctx: StudioContext, project_id, number, request: gr.Request = None):
    if not project_id or number is None:
        return [gr.skip()] * 4
    _need_project(ctx, project_id, Lang.of(request))
    return round_view(ctx, project_id, int(number), Lang.of(request))


@shows_user_errors
def on_save_table(ctx: StudioContext, project_id, number, table: pd.DataFrame, request: gr.Request = None):
    """Save every label in the table (empty cells stay unlabelled); a label outside the set saves nothing."""
    lang = Lang.of(request)
    project_id = _need_project(ctx, project_id, lang)
    if number is None or table is None or table.empty:
        raise DataError("There is no round to save; ask for suggestions first.")
    labels = {int(r): lab for r, lab in zip(table["pool_row"], table["label"])}
    record = labelling.save_labels(ctx.store, project_id, int(number), labels)
    done = sum(1 for r in record["rows"] if r["label"])
    return (message(lang(f"Saved: {done} of {len(record['rows'])} rows of round {number} labelled.",
                         f"已保存：第 {number} 轮 {len(record['rows'])} 行中已标注 {done} 行。"), "ok"),
            *round_view(ctx, project_id, int(number), lang))


@shows_user_errors
def on_label_one(ctx: StudioContext, project_id, number, current, label, request: gr.Request = None):
    """Save the shown row's label and move to the next unlabelled row."""
    lang = Lang.of(request)
    project_id = _need_project(ctx, project_id, lang)
    if current is None or number is None:
        raise DataError("No row is selected; ask for suggestions, or every row of this round is labelled.")
    if not label:
        raise DataError("Pick a label for the row first (or Skip it).")
    labels = labelling.load(ctx.store, project_id)["labels"]
    record = labelling.save_labels(ctx.store, project_id, int(number), {int(current): by_prefix(label, labels)})
    return (round_frame(record), *one_at_a_time(record, labels, next_unlabelled(record, int(current)), lang), "")


def by_prefix(typed: str, labels: list[str]) -> str:
    """The one label that starts with what was typed ("ship" -> shipping), else what was typed (checked later)."""
    typed = str(typed).strip()
    starting = [lab for lab in labels if lab.casefold().startswith(typed.casefold())]
    return starting[0] if len(starting) == 1 and typed not in labels else typed


def on_skip(ctx: StudioContext, project_id, number, current, request: gr.Request = None):
    if not project_id or number is None:
        return [gr.skip()] * 3
    _need_project(ctx, project_id, Lang.of(request))
    record = _round(ctx, project_id, int(number))
    labels = labelling.load(ctx.store, project_id)["labels"]
    return one_at_a_time(record, labels, next_unlabelled(record, current), Lang.of(request))


@shows_user_errors
def on_retrain(ctx: StudioContext, project_id, request: gr.Request = None):
    lang = Lang.of(request)
    project_id = _need_project(ctx, project_id, lang)
    run_id = labelling.retrain(ctx.store, project_id)
    return message(lang(f"Run {run_id} is training on every label so far; follow it in the Train tab. The learning "
                        "curve below adds its test score when it finishes.",
                        f"运行 {run_id} 正在用目前所有标注训练；可在“训练”标签页查看。完成后，"
                        "下方学习曲线会加入它的测试分数。"),
                   "ok")


def on_curve(ctx: StudioContext, project_id, drawn, request: gr.Request = None):
    """Redraw the learning curve when a retrain starts or finishes."""
    try:
        d = labelling.describe(ctx.store, project_id) if project_id else None
    except USER_ERRORS:
        d = None
    if d is None:
        return gr.skip(), gr.skip(), gr.skip()
    now = [project_id, [[r["run"], r["status"]] for r in d["curve"]]]
    if now == drawn:
        return gr.skip(), gr.skip(), gr.skip()
    return (*curve_view(d, Lang.of(request)), now)


# -------------------------------------------------------------------------------------------- layout --
def _project_section() -> tuple:
    picker = run_picker(t("Labelling project", "标注项目"), t("No labelling project yet: upload a pool below.",
                                                          "还没有标注项目：请在下方上传数据池。"), "label-project")
    info = gr.HTML("", elem_id="label-info")
    with gr.Accordion(t("New project", "新建项目"), open=False, elem_id="label-new"):
        with gr.Row():
            pool = gr.File(label=t("Pool: texts to label (label column missing or partly empty)",
                                   "数据池：待标注文本（无标签列或部分为空）"), file_types=None, height=110,
                           elem_id="label-pool")
            start = gr.File(label=t("Labelled start set (optional)", "已标注的起始集（可选）"), file_types=None,
                            height=110, elem_id="label-start")
            test = gr.File(label=t("Test file (optional: a fixed yardstick for the curve)",
                                   "测试文件（可选：学习曲线的固定标尺）"),
                           file_types=None, height=110, elem_id="label-test")
        labels = gr.Textbox(label=t("Labels (comma-separated; needed without a start set)",
                                    "标签（逗号分隔；没有起始集时必填）"),
                            placeholder="billing, technical, shipping, account", elem_id="label-labels")
        create = gr.Button(t("Create project", "创建项目"), variant="primary", elem_id="label-create")
        create_message = message_box(elem_id="label-create-message")
    return picker, info, pool, start, test, labels, create, create_message


def _round_section() -> tuple:
    with gr.Row(equal_height=False):
        source = gr.Dropdown(choices=[], value=None, label=t("Suggestions from", "建议来源"), scale=3,
                             allow_custom_value=True,
                             info=t("A finished run scores the pool; a cold start spreads the first picks over it.",
                                    "已完成的运行为数据池打分；冷启动则让第一批样本覆盖整个数据池。"),
                             elem_id="label-source")
        strategy = gr.Dropdown(choices=list(query_strategies.STRATEGIES), value=query_strategies.DEFAULT_STRATEGY,
                               label=t("Strategy", "策略"), scale=3, elem_id="label-strategy",
                               info=t(*(" ".join(f"{k}: {v.pick(zh)}" for k, v in query_strategies.STRATEGY_HELP.items()
                                                  if k in query_strategies.STRATEGIES) for zh in (False, True))))
        n = gr.Number(value=20, minimum=1, maximum=labelling.MAX_ROUND, precision=0, label=t("Rows", "行数"), scale=1,
                      elem_id="label-n")
        suggest = gr.Button(t("Suggest rows to label", "获取待标注的行"), variant="primary", scale=2,
                            elem_id="label-suggest")
    round_message = message_box(elem_id="label-round-message")
    round_pick = gr.Dropdown(choices=[], value=None, label=t("Round", "轮次"), elem_id="label-round",
                             allow_custom_value=True)
    with gr.Row(equal_height=False, elem_id="label-one"):
        one_text = gr.Markdown("", elem_id="label-one-text", elem_classes=["studio-card"])
        with gr.Column(scale=1, min_width=300):
            one_pick = gr.Dropdown(choices=[], value=None,
                                   label=t("Label: type its first letters, Enter saves and moves on",
                                           "标签：输入开头几个字母，回车保存并进入下一行"),
                                   filterable=True, allow_custom_value=True, elem_id="label-one-pick")
            with gr.Row():
                save_next = gr.Button(t("Save and next", "保存并下一条"), variant="primary", elem_id="label-save-next")
                skip = gr.Button(t("Skip", "跳过"), elem_id="label-skip")
    table = gr.Dataframe(round_frame(None), interactive=True, wrap=True, max_height=380,
                         static_columns=list(range(LABEL)), column_widths=["80px", "55%", "15%", "90px", "15%"],
                         label=t("This round (edit the label column; edits save as you go)",
                                 "本轮（编辑 label 列，随时保存）"),
                         elem_id="label-table")
    save = gr.Button(t("Save labels", "保存标注"), elem_id="label-save")
    return source, strategy, n, suggest, round_message, round_pick, one_text, one_pick, save_next, skip, table, save


def _train_section() -> tuple:
    with gr.Row():
        retrain = gr.Button(t("Retrain on every label so far", "用目前所有标注重新训练"), variant="primary",
                            elem_id="label-retrain")
    retrain_message = message_box(elem_id="label-retrain-message")
    curve = gr.Plot(plots.learning_curve_figure({}),
                    label=t("Learning curve: test score vs labels used", "学习曲线：测试分数与标注数量"),
                    elem_id="label-curve")
    curve_table = gr.Dataframe(pd.DataFrame(columns=CURVE_COLUMNS), interactive=False, elem_id="label-curve-table")
    return retrain, retrain_message, curve, curve_table


def build(ctx: StudioContext, data, model) -> LabelTab:
    intro(t("Label less, learn more: the studio picks the pool rows whose labels would teach the model most; you "
            "label them here, retrain with one click and watch the test score grow with the labels.",
            "少标注、多学习：工作室挑出最能帮助模型的数据池行；你在这里标注，一键重新训练，并看着测试分数随标注增长。"))
    picker, info, pool, start, test, labels, create, create_message = _project_section()
    (source, strategy, n, suggest, round_message, round_pick, one_text, one_pick, save_next, skip, table,
     save) = _round_section()
    retrain, retrain_message, curve, curve_table = _train_section()
    tab = LabelTab(picker.dropdown, picker.refresh, picker.empty, pool, start, test, labels, create, create_message,
                   info, source, strategy, n, suggest, round_pick, one_text, one_pick, save_next, skip, gr.State(None),
                   table, save, round_message, retrain, retrain_message, curve, curve_table, gr.State(None))
    _wire(ctx, tab, {**data.form, **model.form}, data)
    return tab


def _wire(ctx: StudioContext, tab: LabelTab, form: dict, data) -> None:
    names = list(form)
    tab.create.click(forms.with_keywords(bind(on_create, ctx), names),
                     inputs=[data.state, tab.pool, tab.start, tab.test, tab.labels], inputs_kwargs=form,
                     outputs=[tab.create_message, tab.picker, tab.empty], api_name="create_labelling_project")
    tab.refresh.click(bind(on_refresh, ctx), inputs=tab.picker, outputs=[tab.picker, tab.empty],
                      api_name="list_labelling_projects")
    tab.picker.change(bind(on_show, ctx), inputs=tab.picker, outputs=tab.project_outputs,
                      api_name="show_labelling_project")
    tab.suggest.click(bind(on_suggest, ctx), inputs=[tab.picker, tab.source, tab.strategy, tab.n],
                      outputs=tab.project_outputs + [tab.round_message], api_name="suggest_rows",
                      concurrency_id="suggest", concurrency_limit=1).then(None, js=FOCUS_PICKER)
    tab.round.input(bind(on_round, ctx), inputs=[tab.picker, tab.round], outputs=tab.round_outputs,
                    api_name="show_round")
    save_table = dict(inputs=[tab.picker, tab.round, tab.table], outputs=[tab.round_message, *tab.round_outputs])
    tab.save.click(bind(on_save_table, ctx), **save_table, api_name="save_labels")
    tab.table.input(bind(on_save_table, ctx), **save_table, api_visibility="private", trigger_mode="always_last")
    one = dict(inputs=[tab.picker, tab.round, tab.current, tab.one_pick],
               outputs=[*tab.round_outputs, tab.round_message])
    tab.save_next.click(bind(on_label_one, ctx), **one, api_name="label_row").then(None, js=FOCUS_PICKER)
    # Enter on typed letters commits the first matching label as an input event; a click fires input too (twice:
    # both carry the row shown when it fired, so the second saves the same label again, harmlessly).
    tab.one_pick.input(bind(on_label_one, ctx), **one, api_visibility="private", trigger_mode="once").then(
        None, js=FOCUS_PICKER)
    tab.skip.click(bind(on_skip, ctx), inputs=[tab.picker, tab.round, tab.current],
                   outputs=[tab.one_text, tab.one_pick, tab.current], api_name="skip_row").then(None, js=FOCUS_PICKER)
    tab.retrain.click(bind(on_retrain, ctx), inputs=tab.picker, outputs=tab.retrain_message,
                      api_name="retrain_labelled", concurrency_id="start", concurrency_limit=4)
    gr.Timer(5.0).tick(bind(on_curve, ctx), inputs=[tab.picker, tab.curve_drawn],
                       outputs=[tab.curve, tab.curve_table, tab.curve_drawn],
                       api_visibility="private", show_progress="hidden", concurrency_limit=None)
