"""Sweep tab: let Optuna find the settings over the Data and Model tabs' config; watch the trials live.

Every trial is an ordinary run (Runs, Playground and Export list it, named after its sweep); the sweep
itself lives in its folder under the runs folder, so a refreshed page or a restarted server shows it
where it is. Optuna's own figures (optimisation history, parallel coordinates, parameter importances)
redraw while it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd
import yaml

from components import forms
from components.context import StudioContext, pick
from components.i18n import EN, Lang, t
from components.session import DataState
from components.ui import bind, esc, intro, message, message_box, run_picker, shows_user_errors
from studio import sweeps
from studio.base import plain_yaml
from studio.base.errors import USER_ERRORS, ConfigError
from studio.base.text import Text
from studio.config import RunConfig
from studio.views import plots

POLL_SECONDS = 3.0
PRESET_LABELS = {"training.learning_rate": t("Learning rate", "学习率"), "training.epochs": t("Epochs", "训练轮数"),
                 "method": t("Method", "微调方法"), "method_args.r": t("LoRA rank r", "LoRA 秩 r"),
                 "training.batch_size": t("Batch size", "批大小"),
                 "training.warmup_ratio": t("Warm-up share", "预热比例"),
                 "training.max_length": t("Max length", "最大长度")}
TRIAL_COLUMNS = ["trial", "state", "value", "settings", "run", "test"]


@dataclass
class SweepTab:
    fields: gr.CheckboxGroup
    space: gr.Code
    trials: gr.Number
    budget: gr.Number
    sampler: gr.Dropdown
    prune: gr.Checkbox
    start: gr.Button
    start_message: gr.HTML
    picker: gr.Dropdown
    refresh: gr.Button
    empty: gr.Markdown
    status: gr.HTML
    stop: gr.Button
    kill: gr.Button
    resume: gr.Button
    trials_table: gr.Dataframe
    history: gr.Plot
    parallel: gr.Plot
    importance: gr.Plot
    open_runs: gr.Button
    open_playground: gr.Button
    open_export: gr.Button
    timer: gr.Timer
    drawn: gr.State      # the sweep and status last drawn: a tick redraws on a change, and while it runs
    drafted: gr.State    # the space as the studio last drafted it: one that differs was edited by the person

    @property
    def view_outputs(self) -> list:
        return [self.status, self.trials_table, self.history, self.parallel, self.importance]


# ------------------------------------------------------------------------------------------- handlers --
def base_config(data_state: DataState | None, values: dict[str, Any]) -> RunConfig:
    if data_state is None:
        raise ConfigError("Load data in the Data tab first: a sweep trains on it.")
    return RunConfig.from_dict(forms.raw_config(data_state, values))


def drafted_space(data_state, fields, **values) -> str | None:
    """The search space for the ticked fields, each with a range around the form's own value (None: no data yet)."""
    try:
        cfg = base_config(data_state, values)
    except USER_ERRORS:
        return None
    space, notes = {}, []
    for name in fields or []:
        try:
            space[name] = sweeps.preset(name, cfg)
        except USER_ERRORS as e:  # said in the space itself, where the person will type the range
            notes.append(f"# {e}")
    text = yaml.safe_dump(space or sweeps.default_space(cfg), sort_keys=False)
    return text + "".join(f"{note}\n" for note in notes)


def on_fields(data_state, fields, **values):
    """Fields ticked or unticked: the space is drafted anew for them (the person asked for it)."""
    space = drafted_space(data_state, fields, **values)
    return (gr.skip(), gr.skip()) if space is None else (space, space)


def on_follow(data_state, fields, space_text, drafted, **values):
    """The tab opened or the data changed: the drafted space follows the Model and Data tabs (ranges around their
    values), unless the person has edited it since; an edited space is theirs and stays."""
    if (space_text or "").strip() and space_text != drafted:
        return gr.skip(), gr.skip()
    return on_fields(data_state, fields, **values)


@shows_user_errors
def on_start(ctx: StudioContext, data_state, space_text, trials, budget, sampler, prune, request: gr.Request = None,
             **values):
    lang = Lang.of(request)
    cfg = base_config(data_state, values)
    space = plain_yaml.load(space_text or "", "space") or None  # no aliases: a few bytes cannot become billions
    settings = sweeps.settings_from({"trials": trials, "sampler": sampler, "prune": bool(prune),
                                     "timeout_minutes": budget or None})
    sweep_id = sweeps.create(ctx.store, cfg, space, settings)
    return message(lang(f"Sweep {sweep_id} started: up to {settings.trials} trials.",
                        f"搜索 {sweep_id} 已开始：最多 {settings.trials} 次试验。"), "ok"), sweep_id


def sweep_choices(ctx: StudioContext) -> list[tuple[str, str]]:
    """(label, id) of every sweep; the label names what does not change (a status in it would go stale)."""
    return [(f"{r['id']} · {r['trials']} trials · {r['metric']} · {r['model']}", r["id"])
            for r in sweeps.list_sweeps(ctx.store)]


def params_text(params: dict[str, Any]) -> str:
    """learning_rate=0.00057, epochs=3: a trial's settings, short."""
    return ", ".join(f"{k.split('.')[-1]}={v:.3g}" if isinstance(v, float) else f"{k.split('.')[-1]}={v}"
                     for k, v in params.items())


def on_refresh(ctx: StudioContext, current):
    choices = sweep_choices(ctx)
    return gr.update(choices=choices, value=pick(choices, current)), gr.update(visible=not choices)


STATE_ZH = {"queued": "排队中", "running": "运行中", "stopping": "正在停止", "completed": "已完成", "stopped": "已停止",
            "failed": "失败"}


def status_html(d: dict[str, Any], lang: Lang) -> str:
    st, best = d["status"], d["best"]
    state = st.get("status") or "unknown"
    done, asked = st.get("trials_done", 0), d["settings"]["trials"]
    parts = [f"<div class='studio-run' data-status='{esc(state)}'><div class='studio-run-head'>"
             f"<span class='studio-chip studio-chip-{esc(state)}'>{esc(lang(state, STATE_ZH.get(state, state)))}</span>"
             f"<b>{esc(d['id'])}</b></div>",
             f"<div class='studio-run-meta'>{esc(lang(f'{done} of {asked} trials', f'已完成 {done}/{asked} 次试验'))}"
             + (f" · {esc(lang('running', '正在运行'))} {esc(st['current_run'])}" if st.get("current_run") else "")
             + "</div>"]
    if best:
        shown = f"{d['metric']} {best['value']:.4f} · {params_text(best['params'])}"
        parts.append(f"<div class='studio-run-result'>{esc(lang('Best: ', '最佳：') + shown)} "
                     f"<code>{esc(best['run'])}</code></div>")
    planned, ran = d["trial_steps"]["planned"], d["trial_steps"]["ran"]
    if planned > ran:
        saved = lang(f"Pruning saved {planned - ran} of {planned} training steps.",
                     f"剪枝节省了 {planned} 个训练步中的 {planned - ran} 步。")
        parts.append(f"<div class='studio-run-base'>{esc(saved)}</div>")
    if st.get("reason") and state in ("stopped", "failed", "completed"):
        parts.append(f"<div class='studio-run-base'>{esc(st['reason'])}</div>")
    return "".join(parts) + "</div>"


def trials_frame(d: dict[str, Any]) -> pd.DataFrame:
    rows = [[r["trial"], r["state"], None if r["value"] is None else round(r["value"], 4), params_text(r["params"]),
             r["run"] or "",
             ", ".join(f"{k} {v:.3f}" for k, v in (r["test"] or {}).items() if isinstance(v, (int, float)))]
            for r in d["trials"]]
    return pd.DataFrame(rows, columns=TRIAL_COLUMNS)


NOTES = {"history": Text("The optimisation history appears after the first finished trial.",
                         "第一次试验完成后，这里会显示优化历史。"),
         "parallel": Text("Parallel coordinates appear after the first finished trial.",
                          "第一次试验完成后，这里会显示平行坐标图。"),
         "importance": Text("Parameter importances appear once two finished trials differ, in settings and in "
                            "score.",
                            "有两次设置和得分都不同的试验完成后，这里会显示参数重要性。")}


def blank_figures(lang: Lang) -> list:
    """The three charts before a sweep is shown, in the reader's language (the page is built in English)."""
    return [plots.empty_figure(NOTES[k], zh=lang.zh) for k in ("history", "parallel", "importance")]


def draw(ctx: StudioContext, sweep_id: str | None, lang: Lang = EN) -> list:
    if not sweep_id:
        return [gr.skip()] * 5
    d = sweeps.describe(ctx.store, sweep_id)
    figs = sweeps.figures(ctx.store, sweep_id)
    shown = [f.update_layout(template="plotly_white", height=plots.HEIGHT + 60) if f is not None
             else plots.empty_figure(NOTES[k], zh=lang.zh) for k, f in figs.items()]
    return [status_html(d, lang), trials_frame(d), *shown]


@shows_user_errors
def on_show(ctx: StudioContext, sweep_id, request: gr.Request = None):
    return draw(ctx, sweep_id, Lang.of(request))


def on_tick(ctx: StudioContext, sweep_id, drawn, request: gr.Request = None):
    """Redraw while the shown sweep is active, and once more when it ends (then it stays as drawn)."""
    if not sweep_id or not sweeps.is_sweep_id(sweep_id):
        return [gr.skip()] * 6
    try:
        status = sweeps.status(ctx.store, sweep_id).get("status")
    except USER_ERRORS:
        return [gr.skip()] * 6
    if status not in sweeps.ACTIVE and drawn == [sweep_id, status]:
        return [gr.skip()] * 6
    return [*draw(ctx, sweep_id, Lang.of(request)), [sweep_id, status]]


def control(action: str):
    @shows_user_errors
    def handler(ctx: StudioContext, sweep_id, request: gr.Request = None):
        lang = Lang.of(request)
        if not sweep_id:
            raise gr.Error(lang("Pick a sweep first.", "请先选择一个搜索。"))
        st = getattr(sweeps, action)(ctx.store, sweep_id)
        return message(f"{sweep_id}: {lang(st.get('status'), STATE_ZH.get(st.get('status'), st.get('status')))}",
                       "ok" if action == "resume" else "info")
    handler.__name__ = f"on_{action}"
    return handler


def best_run(ctx: StudioContext, sweep_id: str | None) -> str:
    if not sweep_id:
        raise gr.Error("Pick a sweep first.")
    best = sweeps.describe(ctx.store, sweep_id)["best"]
    if not best:
        raise gr.Error(f"Sweep {sweep_id} has no finished trial yet.")
    return best["run"]


# -------------------------------------------------------------------------------------------- layout --
def _setup_section() -> tuple:
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            fields = gr.CheckboxGroup(choices=[(label, name) for name, label in PRESET_LABELS.items()],
                                      value=["training.learning_rate", "training.epochs"],
                                      label=t("Fields to vary", "要搜索的设置"), elem_id="sweep-fields",
                                      info=t("Each comes with a range around the Model tab's value; edit the space "
                                             "below as you like.",
                                             "每项都带有围绕“模型与方法”标签页当前值的范围；可在下方修改。"))
            space = gr.Code(value="", language="yaml", label=t("Search space", "搜索空间"), lines=8,
                            interactive=True, elem_id="sweep-space")
        with gr.Column(scale=2):
            settings = {f["name"]: f for f in sweeps.field_help_settings()}
            trials = gr.Number(value=8, minimum=1, maximum=500, precision=0, label=t("Trials", "试验次数"),
                               info=t(settings["trials"]["help"]), elem_id="sweep-trials")
            budget = gr.Number(value=0, minimum=0, precision=None,
                               label=t("Time budget (minutes, 0: none)", "时间预算（分钟，0 表示不限）"),
                               info=t(settings["timeout_minutes"]["help"]), elem_id="sweep-budget")
            sampler = gr.Dropdown(choices=list(sweeps.SAMPLERS), value="tpe", label=t("Sampler", "采样器"),
                                  info=t(settings["sampler"]["help"]))
            prune = gr.Checkbox(value=False, label=t("Prune weak trials early", "提前剪掉表现差的试验"),
                                info=t(settings["prune"]["help"]))
            start = gr.Button(t("Start sweep", "开始搜索"), variant="primary", elem_id="sweep-start")
    return fields, space, trials, budget, sampler, prune, start, message_box(elem_id="sweep-message")


def _view_section() -> tuple:
    picker = run_picker(t("Sweep shown", "显示的搜索"), t("No sweep yet: set the space above and press Start sweep.",
                                                          "还没有搜索：设置上方的搜索空间，然后点击“开始搜索”。"),
                        "sweep-picker")
    status = gr.HTML("", elem_id="sweep-status")
    with gr.Row():
        stop = gr.Button(t("Stop", "停止"), scale=0, min_width=110)
        kill = gr.Button(t("Kill", "强制终止"), variant="stop", scale=0, min_width=110)
        resume = gr.Button(t("Resume", "继续"), scale=0, min_width=110)
        open_runs = gr.Button(t("Best trial in Runs", "在“运行记录”中查看最佳试验"), scale=0, min_width=200,
                              elem_id="sweep-open-runs")
        open_playground = gr.Button(t("Try it in the Playground", "在“试用”中试用"), scale=0, min_width=200)
        open_export = gr.Button(t("Export it", "导出"), scale=0, min_width=120)
    trials_table = gr.Dataframe(pd.DataFrame(columns=TRIAL_COLUMNS), label=t("Trials", "试验"), interactive=False,
                                wrap=True, elem_id="sweep-trials-table")
    with gr.Row():
        history = gr.Plot(plots.empty_figure(NOTES["history"]),
                          label=t("Optimisation history", "优化历史"), elem_id="sweep-history")
        parallel = gr.Plot(plots.empty_figure(NOTES["parallel"]),
                           label=t("Parallel coordinates", "平行坐标"), elem_id="sweep-parallel")
    importance = gr.Plot(plots.empty_figure(NOTES["importance"]),
                         label=t("Parameter importances", "参数重要性"), elem_id="sweep-importance")
    return (picker, status, stop, kill, resume, trials_table, history, parallel, importance, open_runs,
            open_playground, open_export)


def build(ctx: StudioContext, data, model, opened) -> SweepTab:
    """The tab's parts and events; `opened` is the event of the tab being opened (the space is drafted then, from
    the Model tab's values as they are by then)."""
    intro(t("Let Optuna find the settings: it varies the fields you pick around the Data and Model tabs' config; "
            "every trial is a run you can open, compare and export. Weak trials stop early.",
            "让 Optuna 寻找最佳设置：它在“数据”和“模型与方法”标签页配置的基础上改变你选择的设置；每次试验都是一个运行，"
            "可打开、比较和导出。表现差的试验会提前停止。"))
    fields, space, trials, budget, sampler, prune, start, start_message = _setup_section()
    (picker, status, stop, kill, resume, trials_table, history, parallel, importance, open_runs, open_playground,
     open_export) = _view_section()
    tab = SweepTab(fields, space, trials, budget, sampler, prune, start, start_message, picker.dropdown,
                   picker.refresh, picker.empty, status, stop, kill, resume, trials_table, history, parallel,
                   importance, open_runs, open_playground, open_export, gr.Timer(POLL_SECONDS), gr.State(None),
                   gr.State(""))
    _wire(ctx, tab, {**data.form, **model.form}, data, opened)
    return tab


def _wire(ctx: StudioContext, tab: SweepTab, form: dict, data, opened) -> None:
    names = list(form)
    tab.fields.change(forms.with_keywords(on_fields, names), inputs=[data.state, tab.fields], inputs_kwargs=form,
                      outputs=[tab.space, tab.drafted], api_visibility="private", trigger_mode="always_last")
    gr.on([opened, data.state.change], forms.with_keywords(on_follow, names),
          inputs=[data.state, tab.fields, tab.space, tab.drafted], inputs_kwargs=form,
          outputs=[tab.space, tab.drafted], api_visibility="private", trigger_mode="always_last")
    tab.start.click(forms.with_keywords(bind(on_start, ctx), names),
                    inputs=[data.state, tab.space, tab.trials, tab.budget, tab.sampler, tab.prune], inputs_kwargs=form,
                    outputs=[tab.start_message, tab.picker], api_name="start_sweep", concurrency_id="start",
                    concurrency_limit=4).then(bind(on_refresh, ctx), inputs=tab.picker,
                                              outputs=[tab.picker, tab.empty], api_visibility="private")
    tab.refresh.click(bind(on_refresh, ctx), inputs=tab.picker, outputs=[tab.picker, tab.empty], api_name="list_sweeps")
    tab.picker.change(bind(on_show, ctx), inputs=tab.picker, outputs=tab.view_outputs, api_name="show_sweep",
                      concurrency_limit=4)
    tab.timer.tick(bind(on_tick, ctx), inputs=[tab.picker, tab.drawn], outputs=tab.view_outputs + [tab.drawn],
                   api_visibility="private", concurrency_limit=None, show_progress="hidden")
    for button, action in ((tab.stop, "stop"), (tab.kill, "kill"), (tab.resume, "resume")):
        button.click(bind(control(action), ctx), inputs=tab.picker, outputs=tab.start_message,
                     api_name=f"{action}_sweep")
