"""Train tab: start a run, watch it live (loss, scores, learning rate, progress, log), stop or kill it.

Everything shown is read from the run folder on each tick, so a refreshed page,
a second browser or a restarted server sees the same run with its whole history.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from components import forms
from components.context import StudioContext
from components.i18n import EN, Lang, t
from components.session import DataState
from components.tabs.data_tab import DataTab
from components.tabs.model_tab import ModelTab
from components.ui import bind, esc, intro, message, message_box, run_picker, shows_user_errors
from studio.base import files, runfolder
from studio.base.errors import USER_ERRORS, RunError
from studio.base.runfolder import RunFolder
from studio.base.text import Text
from studio.config import RunConfig
from studio.tasks import get_task
from studio.training import memory
from studio.training.base_scores import side_by_side
from studio.views import plots, run_views

POLL_SECONDS = 1.5


@dataclass
class TrainTab:
    run_name: gr.Textbox
    start: gr.Button
    stop: gr.Button
    kill: gr.Button
    action_message: gr.HTML
    picker: gr.Dropdown
    refresh: gr.Button
    empty: gr.Markdown
    status: gr.HTML
    loss_plot: gr.Plot
    eval_plot: gr.Plot
    lr_plot: gr.Plot
    log: gr.Code
    view: gr.State
    timer: gr.Timer
    seen: gr.State  # what the last tick found in the run folder (look): a change of it redraws (poll_run)
    samples: gr.Dataframe
    completions: gr.Dataframe  # the latest replies training scored, with each reward (reinforcement learning)

    @property
    def live_outputs(self) -> list:
        return [self.status, self.loss_plot, self.eval_plot, self.lr_plot, self.log, self.view, self.empty,
                self.samples, self.completions]


STATE_ZH = {"queued": "排队中", "running": "训练中", "stopping": "正在停止", "completed": "已完成", "failed": "失败",
            "stopped": "已停止", "unknown": "未知"}


def progress_text(p: dict[str, Any], total_epochs: float | None, lang: Lang) -> str:
    """Step, epoch, speed and ETA of run_views.progress in the reader's language."""
    parts = []
    if p["max_steps"]:
        parts.append(lang(f"step {p['step']}/{p['max_steps']}", f"第 {p['step']}/{p['max_steps']} 步"))
        if p["epoch"] is not None:
            epochs = f"{float(p['epoch']):.2f}" + (f"/{total_epochs:g}" if total_epochs else "")
            parts.append(lang(f"epoch {epochs}", f"第 {epochs} 轮"))
    sps, eta = p["samples_per_second"], p["eta_seconds"]
    if isinstance(sps, (int, float)) and sps > 0 and p["status"] in ("running", "stopping"):
        parts.append(lang(f"{sps:.1f} samples/s", f"每秒 {sps:.1f} 条"))
    if isinstance(eta, (int, float)):
        parts.append(lang(f"ETA {run_views.fmt_duration(eta)}", f"预计还需 {run_views.fmt_duration(eta)}"))
    if not parts and p["status"] == "queued":
        parts.append(lang("waiting for the device", "等待设备空闲"))
    return " · ".join(parts)


def result_text(report: dict[str, Any] | None, lang: Lang) -> str:
    """The test scores, each beside the untrained base's where it was scored: did fine-tuning help?"""
    rows = side_by_side(report or {})
    return " · ".join(lang(f"test {k} {v:.4f}", f"测试 {k} {v:.4f}") + (
        "" if b is None else lang(f" (base {b:.4f})", f"（基础模型 {b:.4f}）")) for k, v, b in rows)


def status_html(run_id: str, info: dict[str, Any], status: dict[str, Any], total_epochs: float | None,
                report: dict[str, Any] | None, lang: Lang = EN, latest: str = "") -> str:
    p = run_views.progress(status, total_epochs)
    state = p["status"] or "unknown"
    pct = round(100 * p["fraction"], 1)
    text = progress_text(p, total_epochs, lang)
    parts = [f"<div class='studio-run' data-status='{esc(state)}'>",
             f"<div class='studio-run-head'><span class='studio-chip studio-chip-{esc(state)}'>"
             f"{esc(lang(state, STATE_ZH.get(state, state)))}</span>"
             f"<b>{esc(info.get('name') or run_id)}</b><code>{esc(run_id)}</code></div>",
             f"<div class='studio-progress' role='progressbar' aria-valuenow='{pct}' aria-valuemin='0' "
             f"aria-valuemax='100'><div class='studio-progress-bar' style='width:{pct}%'></div></div>",
             f"<div class='studio-run-meta'>{esc(text)}{' · ' if text else ''}{pct:g}%</div>"]
    if latest:  # reinforcement learning: each reward and its spread, reply length, cut replies, KL at the last step
        parts.append(f"<div class='studio-run-meta studio-run-latest'>{esc(latest)}</div>")
    if report and state == "completed":
        parts.append(f"<div class='studio-run-result'>{esc(result_text(report, lang))}</div>")
        if report.get("base"):
            base = report["base"]
            what = lang(str(base.get("what")), str(base.get("what_zh") or base.get("what")))
            parts.append(f"<div class='studio-run-base'>{esc(lang('Base: ', '基础模型：') + what)}</div>")
    if p["reason"] and state in ("failed", "stopped"):
        parts.append(f"<div class='studio-run-reason'>{esc(p['reason'])}</div>")
    parts.append("</div>")
    return "".join(parts)


def log_tail(rd, lines: int = 13) -> str:
    """The last lines of train.log that say something (progress bars leave blank lines behind)."""
    kept = [ln for ln in runfolder.tail_log(rd, 200).splitlines() if ln.strip()]
    return "\n".join(kept[-lines:])


def _size(path) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _signature(rd, status: dict, metrics: int) -> list:
    """What the view shows changed when this changed; `metrics`: how much of metrics.jsonl (records or bytes)."""
    return [metrics, status.get("status"), status.get("updated_at"), _size(RunFolder(rd).log)]


def look(ctx: StudioContext, run_id: str | None) -> list:
    """What the live view draws from, in a few numbers (the run, its status, how much metrics and log it has): the
    timer's tick returns only this, into a State, and the view is redrawn (poll_run) when it changed. A tick whose
    outputs are the view's components costs the browser a style recalculation and layout of the whole page each
    time, even when every output is skipped; a tick into a State touches no component."""
    if not run_id:
        return [None]
    try:
        rd = ctx.store.run_dir(run_id)
    except RunError:
        return [run_id, "refused"]
    if not rd.is_dir():
        return [run_id, "deleted"]
    return [run_id, *_signature(rd, ctx.store.status(run_id), _size(RunFolder(rd).metrics))]


def _read_view(rd, run_id: str) -> dict:
    """What the tab keeps about the run it shows: offset into metrics.jsonl, records so far, its settings."""
    v = {"run": run_id, "offset": 0, "records": [], "sig": None, "epochs": None}
    try:
        cfg = json.loads((RunFolder(rd).config).read_text())
        task = get_task(cfg.get("task"))
        v.update(epochs=cfg["training"]["epochs"], plot_metrics=list(task.metrics.plot),
                 step_metrics=list(task.metrics.steps),
                 # kept in the page's state as plain pairs (a gr.State round-trips JSON-like values)
                 plot_labels={k: [str(v), v.zh] for k, v in task.metrics.labels.items()},
                 name=cfg.get("name")
                 or f"{os.path.basename(cfg['model'].rstrip('/')) or cfg['model']} · {cfg['method']}")
    except (OSError, KeyError, ValueError):
        pass
    return v


def draw(ctx: StudioContext, run_id: str | None, view_state: dict | None, lang: Lang = EN) -> list:
    """Read what is new in the run folder; redraw only when something changed."""
    if not run_id:
        if (view_state or {}).get("blank") == lang.zh:
            return [gr.skip()] * 6 + [gr.update(visible=True), gr.skip(), gr.skip()]
        # The page is built in English: draw the empty charts once in the reader's language.
        blank = [plots.loss_figure([], zh=lang.zh), plots.eval_figure([], zh=lang.zh),
                 plots.learning_rate_figure([], zh=lang.zh)]
        return [gr.skip(), *blank, gr.skip(), {"blank": lang.zh}, gr.update(visible=True), gr.skip(), gr.skip()]
    try:
        rd = ctx.store.run_dir(run_id)  # checks the id: it must never become a path elsewhere
    except RunError as e:
        return [f"<div class='studio-run'>{esc(e)}</div>"] + [gr.skip()] * 4 + [{}, gr.skip(), gr.skip(), gr.skip()]
    if not rd.is_dir():
        return (["<div class='studio-run'>This run was deleted.</div>"] + [gr.skip()] * 4
                + [{}, gr.skip(), gr.skip(), gr.skip()])
    v = dict(view_state or {})
    if v.get("run") != run_id:
        v = _read_view(rd, run_id)
    new = list(runfolder.iter_metrics(rd, v["offset"]))  # only the lines written since the last look
    if new:
        v["offset"] = new[-1][1]
    records = v["records"] = v["records"] + [rec for rec, _ in new]
    st = ctx.store.status(run_id)  # a worker that died without saying so reads failed (reading writes nothing)
    sig = _signature(rd, st, len(records))
    if sig == v.get("sig"):
        return [gr.skip()] * 5 + [v, gr.skip(), gr.skip(), gr.skip()]
    v["sig"] = sig
    report = files.read_json(RunFolder(rd).report) if st.get("status") == "completed" else None
    samples = run_views.sample_generations(records)
    replies = run_views.recent_completions(records)
    labels = {k: Text(*pair) for k, pair in (v.get("plot_labels") or {}).items()}
    figures = [plots.loss_figure(records, zh=lang.zh),
               plots.eval_figure(records, v.get("plot_metrics") or ("accuracy", "f1"), labels, zh=lang.zh,
                                 steps=v.get("step_metrics") or ()),
               plots.learning_rate_figure(records, zh=lang.zh)]
    latest = run_views.latest_step(records, v.get("step_metrics") or (), zh=lang.zh)
    return [status_html(run_id, {"name": v.get("name")}, st, v.get("epochs"), report, lang, latest),
            *figures, log_tail(rd), v, gr.update(visible=False),
            gr.update(value=pd.DataFrame(samples), visible=True) if samples else gr.update(visible=False),
            gr.update(value=pd.DataFrame(replies), visible=True, column_widths=reply_widths(len(replies[0])))
            if replies else gr.update(visible=False)]


def reply_widths(columns: int) -> list[str]:
    """Narrow step and score columns, the reply wide, the prompt after it (run_views.recent_completions' order)."""
    return ["56px"] + ["72px"] * (columns - 3) + ["44%", "26%"]


def on_tick(ctx: StudioContext, run_id, view_state, request: gr.Request = None):
    return draw(ctx, run_id, view_state, Lang.of(request))


def on_pick_run(ctx: StudioContext, run_id, request: gr.Request = None):
    return draw(ctx, run_id, {}, Lang.of(request))


def on_start(ctx: StudioContext, data_state: DataState | None, request: gr.Request = None, **values):
    lang = Lang.of(request)
    if data_state is None:
        raise gr.Error(lang("Load data in the Data tab first.", "请先在“数据”标签页加载数据。"))
    try:
        run_id = ctx.store.create(RunConfig.from_dict(forms.raw_config(data_state, values)))
    except USER_ERRORS as e:  # the stored upload's path means nothing to the user: name their file
        stored = data_state.path
        raise gr.Error(esc(str(e).replace(stored, data_state.name).replace(os.path.basename(stored), data_state.name)),
                       print_exception=False) from None
    active = [r for r in ctx.runs() if r.get("status") in runfolder.ACTIVE and r["id"] != run_id]
    note = (lang(f"Run {run_id} queued behind {len(active)} other run(s); it starts when the device is free.",
                 f"运行 {run_id} 已排队，前面还有 {len(active)} 个运行；设备空闲后开始。")
            if active else lang(f"Run {run_id} started.", f"运行 {run_id} 已开始。"))
    fit = runfolder.read_status(ctx.store.run_dir(run_id)).get("memory") or {}
    if fit.get("verdict") == "near":
        summary = memory.Estimate.from_dict(fit).summary()
        summary = lang(summary, fit.get("summary_zh") or summary)
        return message(f"{note} {lang('Memory:', '内存：')} {summary}", "warn"), run_id
    return message(note, "ok"), run_id


@shows_user_errors
def on_stop(ctx: StudioContext, run_id, request: gr.Request = None):
    lang = Lang.of(request)
    ctx.store.stop(ctx.run_dir(run_id).name)
    return message(lang(f"Stopping {run_id}: it finishes the current step and saves a checkpoint. Resume it from the "
                        "Runs tab.",
                        f"正在停止 {run_id}：它会完成当前一步并保存检查点。可在“运行记录”标签页继续训练。"), "info")


@shows_user_errors
def on_kill(ctx: StudioContext, run_id, request: gr.Request = None):
    lang = Lang.of(request)
    ctx.store.kill(ctx.run_dir(run_id).name)
    return message(lang(f"Killed {run_id}. Progress since its last checkpoint is lost.",
                        f"已强制终止 {run_id}。上次检查点之后的进度已丢失。"), "warn")


def on_refresh(ctx: StudioContext, current):
    return ctx.picker_update(current, completed_only=False)


# -------------------------------------------------------------------------------------------- layout --
def _toolbar() -> tuple:
    with gr.Row(equal_height=False, elem_classes=["studio-toolbar"]):
        run_name = gr.Textbox(label=t("Run name (optional)", "运行名称（可选）"),
                              placeholder=t("e.g. tickets-lora-r16", "例如 tickets-lora-r16"), scale=3)
        start = gr.Button(t("Start training", "开始训练"), variant="primary", scale=1, min_width=160,
                          elem_id="start-btn")
        stop = gr.Button(t("Stop", "停止"), scale=0, min_width=110, elem_id="stop-btn")
        kill = gr.Button(t("Kill", "强制终止"), variant="stop", scale=0, min_width=110, elem_id="kill-btn")
    return run_name, start, stop, kill, message_box(elem_id="train-message")


def _live_view() -> tuple:
    """Status, charts, sample generations and the log of the run shown."""
    status = gr.HTML("", elem_id="run-status")
    with gr.Row():
        loss_plot = gr.Plot(plots.loss_figure([]), label=t("Loss", "损失"), elem_id="loss-plot")
        # One title for every task (the label is built once): SFT's chart showed "rewards", which only rl has.
        eval_plot = gr.Plot(plots.eval_figure([]), label=t("Scores (validation; reinforcement learning: rewards at "
                                                           "each step too)", "指标（验证集；强化学习另含每步的奖励）"),
                            elem_id="eval-plot")
    samples = gr.Dataframe(value=None,
                           label=t("Sample generations on fixed validation prompts (first and latest evaluation)",
                                   "固定验证提示上的生成样例（首次与最近一次评估）"),
                           interactive=False, wrap=True, max_height=360, visible=False, elem_id="sample-generations")
    completions = gr.Dataframe(value=None,
                               label=t("Latest replies in training and their rewards (newest first)",
                                       "训练中最新的回复及其奖励（最新的在前）"),
                               interactive=False, wrap=True, max_height=420, visible=False,
                               elem_id="recent-completions")
    with gr.Row():
        lr_plot = gr.Plot(plots.learning_rate_figure([]), label=t("Learning rate", "学习率"))
        log = gr.Code("", language=None, label=t("Training log (latest lines)", "训练日志（最新几行）"), lines=14,
                      max_lines=14, interactive=False, wrap_lines=False, show_line_numbers=False,
                      elem_classes=["studio-log"], elem_id="train-log")
    return status, loss_plot, eval_plot, lr_plot, log, samples, completions


def build(ctx: StudioContext, data: DataTab, model: ModelTab) -> TrainTab:
    intro(t("Start queues a run with the data and settings of the previous tabs; it trains in the background and the "
            "charts below follow it live. Runs keep going when you close the page.",
            "点击“开始训练”会用前两个标签页的数据和设置排队一个运行；它在后台训练，下方图表实时更新。"
            "关闭页面后运行仍会继续。"))
    run_name, start, stop, kill, action_message = _toolbar()
    picker = run_picker(t("Run shown", "显示的运行"),
                        t("No run yet. Check the Data and Model tabs (the defaults work), then press "
                          "**Start training**.",
                          "还没有运行。检查“数据”和“模型”标签页（默认设置即可），然后点击**开始训练**。"),
                        "run-picker",
                        info=t("Every run you can see on this server, newest first.",
                               "你在本服务器上能看到的所有运行，最新的在前。"))
    status, loss_plot, eval_plot, lr_plot, log, samples, completions = _live_view()
    tab = TrainTab(run_name, start, stop, kill, action_message, picker.dropdown, picker.refresh, picker.empty, status,
                   loss_plot, eval_plot, lr_plot, log, gr.State({}), gr.Timer(POLL_SECONDS), gr.State(None), samples,
                   completions)
    full_form = {**data.form, **model.form, "run_name": run_name}
    # Start returns the run id itself (the picker accepts any id); the list of choices catches up right after.
    start.click(forms.with_keywords(bind(on_start, ctx), list(full_form)), inputs=[data.state], inputs_kwargs=full_form,
                outputs=[action_message, tab.picker], api_name="start_run", concurrency_id="start",
                concurrency_limit=4).then(bind(on_refresh, ctx), inputs=tab.picker, outputs=[tab.picker, tab.empty],
                                          api_visibility="private")
    tab.picker.change(bind(on_pick_run, ctx), inputs=tab.picker, outputs=tab.live_outputs, api_visibility="private",
                      show_progress="hidden")
    tab.timer.tick(bind(look, ctx), inputs=tab.picker, outputs=tab.seen, api_visibility="private",
                   concurrency_limit=None, show_progress="hidden")
    tab.seen.change(bind(on_tick, ctx), inputs=[tab.picker, tab.view], outputs=tab.live_outputs, api_name="poll_run",
                    concurrency_limit=None, show_progress="hidden")
    stop.click(bind(on_stop, ctx), inputs=tab.picker, outputs=action_message, api_name="stop_run")
    kill.click(bind(on_kill, ctx), inputs=tab.picker, outputs=action_message, api_name="kill_run")
    tab.refresh.click(bind(on_refresh, ctx), inputs=tab.picker, outputs=[tab.picker, tab.empty],
                      api_visibility="private")
    return tab


def attach(ctx: StudioContext, current: str | None = None) -> dict:
    """Picker update on page load: keep the shown run, else the newest active run, else the newest run."""
    rows = ctx.runs()
    choices = [(run_views.run_label(r), r["id"]) for r in rows]
    ids = [c[1] for c in choices]
    if current in ids:
        value = current
    else:
        active = [r["id"] for r in run_views.active_first(rows) if r.get("status") in runfolder.ACTIVE]
        value = active[0] if active else (ids[0] if ids else None)
    return gr.update(choices=choices, value=value)
