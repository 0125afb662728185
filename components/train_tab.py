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
from components.data_tab import DataTab
from components.i18n import t
from components.model_tab import ModelTab
from components.session import DataState
from components.ui import bind, esc, intro, message, message_box, run_picker, shows_user_errors
from studio import plots, runlog, summaries
from studio.config import RunConfig
from studio.errors import USER_ERRORS, RunError
from studio.tasks import get_task

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
    samples: gr.Dataframe

    @property
    def live_outputs(self) -> list:
        return [self.status, self.loss_plot, self.eval_plot, self.lr_plot, self.log, self.view, self.empty, self.samples]


def status_html(run_id: str, info: dict[str, Any], status: dict[str, Any], total_epochs: float | None,
                test_metrics: dict[str, float] | None) -> str:
    p = summaries.progress(status, total_epochs)
    state = p["status"] or "unknown"
    pct = round(100 * p["fraction"], 1)
    parts = [f"<div class='studio-run' data-status='{esc(state)}'>",
             f"<div class='studio-run-head'><span class='studio-chip studio-chip-{esc(state)}'>{esc(state)}</span>"
             f"<b>{esc(info.get('name') or run_id)}</b><code>{esc(run_id)}</code></div>",
             f"<div class='studio-progress' role='progressbar' aria-valuenow='{pct}' aria-valuemin='0' aria-valuemax='100'>"
             f"<div class='studio-progress-bar' style='width:{pct}%'></div></div>",
             f"<div class='studio-run-meta'>{esc(p['text'] or ('waiting for the device' if state == 'queued' else ''))}"
             f"{' · ' if p['text'] else ''}{pct:g}%</div>"]
    if test_metrics:
        shown = " · ".join(f"test {k} {v:.4f}" for k, v in test_metrics.items() if isinstance(v, (int, float)))
        parts.append(f"<div class='studio-run-result'>{esc(shown)}</div>")
    if p["reason"] and state in ("failed", "stopped"):
        parts.append(f"<div class='studio-run-reason'>{esc(p['reason'])}</div>")
    parts.append("</div>")
    return "".join(parts)


def log_tail(rd, lines: int = 13) -> str:
    """The last lines of train.log that say something (progress bars leave blank lines behind)."""
    kept = [ln for ln in runlog.tail_log(rd, 200).splitlines() if ln.strip()]
    return "\n".join(kept[-lines:])


def _signature(rd, status: dict, n_records: int) -> list:
    try:
        log_size = os.path.getsize(rd / runlog.LOG_FILE)
    except OSError:
        log_size = 0
    return [n_records, status.get("status"), status.get("updated_at"), log_size]


def _read_view(rd, run_id: str) -> dict:
    """What the tab keeps about the run it shows: offset into metrics.jsonl, records so far, its settings."""
    v = {"run": run_id, "offset": 0, "records": [], "sig": None, "epochs": None}
    try:
        cfg = json.loads((rd / runlog.CONFIG_FILE).read_text())
        task = get_task(cfg.get("task"))
        v.update(epochs=cfg["training"]["epochs"], plot_metrics=list(task.plot_metrics),
                 plot_labels=dict(task.metric_labels),
                 name=cfg.get("name") or f"{os.path.basename(cfg['model'].rstrip('/')) or cfg['model']} · {cfg['method']}")
    except (OSError, KeyError, ValueError):
        pass
    return v


def draw(ctx: StudioContext, run_id: str | None, view_state: dict | None) -> list:
    """Read what is new in the run folder; redraw only when something changed."""
    if not run_id:
        return [gr.skip()] * 6 + [gr.update(visible=True), gr.skip()]
    try:
        rd = ctx.store.run_dir(run_id)  # checks the id: it must never become a path elsewhere
    except RunError as e:
        return [f"<div class='studio-run'>{esc(e)}</div>"] + [gr.skip()] * 4 + [{}, gr.skip(), gr.skip()]
    if not rd.is_dir():
        return ["<div class='studio-run'>This run was deleted.</div>"] + [gr.skip()] * 4 + [{}, gr.skip(), gr.skip()]
    v = dict(view_state or {})
    if v.get("run") != run_id:
        v = _read_view(rd, run_id)
    new = list(runlog.iter_metrics(rd, v["offset"]))  # only the lines written since the last look
    if new:
        v["offset"] = new[-1][1]
    records = v["records"] = v["records"] + [rec for rec, _ in new]
    st = runlog.read_status(rd)
    if st.get("status") in runlog.ACTIVE:
        st = ctx.store.sync(run_id)  # notices a worker that died without saying so
    sig = _signature(rd, st, len(records))
    if sig == v.get("sig"):
        return [gr.skip()] * 5 + [v, gr.skip(), gr.skip()]
    v["sig"] = sig
    test = None
    if st.get("status") == "completed":
        rep = summaries.latest(records, "test")
        test = {k[5:]: val for k, val in (rep or {}).items() if k.startswith("test_")}
    samples = summaries.sample_generations(records)
    return [status_html(run_id, {"name": v.get("name")}, st, v.get("epochs"), test), plots.loss_figure(records),
            plots.eval_figure(records, v.get("plot_metrics") or ("accuracy", "f1"), v.get("plot_labels")),
            plots.learning_rate_figure(records), log_tail(rd), v, gr.update(visible=False),
            gr.update(value=pd.DataFrame(samples), visible=True) if samples else gr.update(visible=False)]


def on_tick(ctx: StudioContext, run_id, view_state):
    return draw(ctx, run_id, view_state)


def on_pick_run(ctx: StudioContext, run_id):
    return draw(ctx, run_id, {})


def on_start(ctx: StudioContext, data_state: DataState | None, **values):
    if data_state is None:
        raise gr.Error("Load data in the Data tab first.")
    try:
        run_id = ctx.store.create(RunConfig.from_dict(forms.raw_config(data_state, values)))
    except USER_ERRORS as e:  # the stored upload's path means nothing to the user: name their file
        stored = data_state.path
        raise gr.Error(esc(str(e).replace(stored, data_state.name).replace(os.path.basename(stored), data_state.name)),
                       print_exception=False) from None
    active = [r for r in ctx.runs() if r.get("status") in runlog.ACTIVE and r["id"] != run_id]
    note = (f"Run {run_id} queued behind {len(active)} other run(s); it starts when the device is free."
            if active else f"Run {run_id} started.")
    return message(note, "ok"), run_id


@shows_user_errors
def on_stop(ctx: StudioContext, run_id):
    st = ctx.store.stop(ctx.run_dir(run_id).name)
    return message(f"Stopping {run_id}: it finishes the current step and saves a checkpoint "
                   f"(status {st.get('status')}). Resume it from the Runs tab.", "info")


@shows_user_errors
def on_kill(ctx: StudioContext, run_id):
    ctx.store.kill(ctx.run_dir(run_id).name)
    return message(f"Killed {run_id}. Progress since its last checkpoint is lost.", "warn")


def on_refresh(ctx: StudioContext, current):
    return ctx.picker_update(current, completed_only=False)


# -------------------------------------------------------------------------------------------- layout --
def _toolbar() -> tuple:
    with gr.Row(equal_height=False, elem_classes=["studio-toolbar"]):
        run_name = gr.Textbox(label=t("Run name (optional)", "运行名称（可选）"), placeholder="e.g. tickets-lora-r16",
                              scale=3)
        start = gr.Button(t("Start training", "开始训练"), variant="primary", scale=1, min_width=160, elem_id="start-btn")
        stop = gr.Button(t("Stop", "停止"), scale=0, min_width=110, elem_id="stop-btn")
        kill = gr.Button(t("Kill", "强制终止"), variant="stop", scale=0, min_width=110, elem_id="kill-btn")
    return run_name, start, stop, kill, message_box(elem_id="train-message")


def _live_view() -> tuple:
    """Status, charts, sample generations and the log of the run shown."""
    status = gr.HTML("", elem_id="run-status")
    with gr.Row():
        loss_plot = gr.Plot(plots.loss_figure([]), label=t("Loss", "损失"), elem_id="loss-plot")
        eval_plot = gr.Plot(plots.eval_figure([]), label=t("Validation scores", "验证集指标"), elem_id="eval-plot")
    samples = gr.Dataframe(value=None, label=t("Sample generations on fixed validation prompts (first and latest evaluation)",
                                               "固定验证提示上的生成样例（首次与最近一次评估）"),
                           interactive=False, wrap=True, max_height=360, visible=False, elem_id="sample-generations")
    with gr.Row():
        lr_plot = gr.Plot(plots.learning_rate_figure([]), label=t("Learning rate", "学习率"))
        log = gr.Code("", language=None, label=t("Training log (latest lines)", "训练日志（最新几行）"), lines=14,
                      max_lines=14, interactive=False, wrap_lines=False, show_line_numbers=False,
                      elem_classes=["studio-log"], elem_id="train-log")
    return status, loss_plot, eval_plot, lr_plot, log, samples


def build(ctx: StudioContext, data: DataTab, model: ModelTab) -> TrainTab:
    intro(t("Start queues a run with the data and settings of the previous tabs; it trains in the background and the "
            "charts below follow it live. Runs keep going when you close the page.",
            "点击“开始训练”会用前两个标签页的数据和设置排队一个运行；它在后台训练，下方图表实时更新。关闭页面后运行仍会继续。"))
    run_name, start, stop, kill, action_message = _toolbar()
    picker = run_picker(t("Run shown", "显示的运行"),
                        t("No run yet. Check the Data and Model tabs (the defaults work), then press **Start training**.",
                          "还没有运行。检查“数据”和“模型”标签页（默认设置即可），然后点击**开始训练**。"),
                        "run-picker", info=t("Every run on this server, newest first.", "本服务器上的所有运行，最新的在前。"))
    status, loss_plot, eval_plot, lr_plot, log, samples = _live_view()
    tab = TrainTab(run_name, start, stop, kill, action_message, picker.dropdown, picker.refresh, picker.empty, status,
                   loss_plot, eval_plot, lr_plot, log, gr.State({}), gr.Timer(POLL_SECONDS), samples)
    full_form = {**data.form, **model.form, "run_name": run_name}
    # Start returns the run id itself (the picker accepts any id); the list of choices catches up right after.
    start.click(forms.with_keywords(bind(on_start, ctx), list(full_form)), inputs=[data.state], inputs_kwargs=full_form,
                outputs=[action_message, tab.picker], api_name="start_run", concurrency_id="start",
                concurrency_limit=4).then(bind(on_refresh, ctx), inputs=tab.picker, outputs=[tab.picker, tab.empty],
                                          api_visibility="private")
    tab.picker.change(bind(on_pick_run, ctx), inputs=tab.picker, outputs=tab.live_outputs, api_visibility="private",
                      show_progress="hidden")
    tab.timer.tick(bind(on_tick, ctx), inputs=[tab.picker, tab.view], outputs=tab.live_outputs, api_name="poll_run",
                   concurrency_limit=None, show_progress="hidden")
    stop.click(bind(on_stop, ctx), inputs=tab.picker, outputs=action_message, api_name="stop_run")
    kill.click(bind(on_kill, ctx), inputs=tab.picker, outputs=action_message, api_name="kill_run")
    tab.refresh.click(bind(on_refresh, ctx), inputs=tab.picker, outputs=[tab.picker, tab.empty], api_visibility="private")
    return tab


def attach(ctx: StudioContext, current: str | None = None) -> dict:
    """Picker update on page load: keep the shown run, else the newest active run, else the newest run."""
    rows = ctx.runs()
    choices = [(summaries.run_label(r), r["id"]) for r in rows]
    ids = [c[1] for c in choices]
    if current in ids:
        value = current
    else:
        active = [r["id"] for r in summaries.active_first(rows) if r.get("status") in runlog.ACTIVE]
        value = active[0] if active else (ids[0] if ids else None)
    return gr.update(choices=choices, value=value)
