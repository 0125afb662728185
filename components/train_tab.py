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
from components.context import StudioContext, pick
from components.data_tab import DataTab
from components.i18n import t
from components.model_tab import ModelTab
from components.ui import USER_ERRORS, esc, intro, message, message_box, user_error
from studio import plots, runlog, summaries
from studio.config import RunConfig
from studio.runs import RunError

POLL_SECONDS = 1.5


@dataclass
class TrainTab:
    run_name: gr.Textbox
    start: gr.Button
    stop: gr.Button
    kill: gr.Button
    action_message: gr.HTML
    picker: gr.Dropdown
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


def build(ctx: StudioContext, data: DataTab, model: ModelTab) -> TrainTab:
    intro(t("Start queues a run with the data and settings of the previous tabs; it trains in the background and the "
            "charts below follow it live. Runs keep going when you close the page.",
            "点击“开始训练”会用前两个标签页的数据和设置排队一个运行；它在后台训练，下方图表实时更新。关闭页面后运行仍会继续。"))
    with gr.Row(equal_height=False, elem_classes=["studio-toolbar"]):
        run_name = gr.Textbox(label=t("Run name (optional)", "运行名称（可选）"), placeholder="e.g. tickets-lora-r16",
                              scale=3)
        start = gr.Button(t("Start training", "开始训练"), variant="primary", scale=1, min_width=160, elem_id="start-btn")
        stop = gr.Button(t("Stop", "停止"), scale=0, min_width=110, elem_id="stop-btn")
        kill = gr.Button(t("Kill", "强制终止"), variant="stop", scale=0, min_width=110, elem_id="kill-btn")
    action_message = message_box(elem_id="train-message")
    with gr.Row(equal_height=False, elem_classes=["studio-toolbar"]):
        picker = gr.Dropdown(choices=[], value=None, label=t("Run shown", "显示的运行"), scale=4,
                             allow_custom_value=True,
                             info=t("Every run on this server, newest first.", "本服务器上的所有运行，最新的在前。"),
                             elem_id="run-picker")
        refresh = gr.Button(t("Refresh list", "刷新列表"), scale=0, min_width=160)
    empty = gr.Markdown(t("No run yet. Check the Data and Model tabs (the defaults work), then press **Start training**.",
                          "还没有运行。检查“数据”和“模型”标签页（默认设置即可），然后点击**开始训练**。"),
                        elem_classes=["studio-empty"])
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
    view = gr.State({})
    timer = gr.Timer(POLL_SECONDS)
    tab = TrainTab(run_name, start, stop, kill, action_message, picker, empty, status, loss_plot, eval_plot, lr_plot,
                   log, view, timer, samples)

    def draw(run_id: str | None, view_state: dict | None) -> list:
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
            v = {"run": run_id, "offset": 0, "records": [], "sig": None, "epochs": None}
            try:
                cfg = json.loads((rd / runlog.CONFIG_FILE).read_text())
                v["epochs"] = cfg["training"]["epochs"]
                v["plot_metrics"], v["plot_labels"] = _plot_metrics(cfg.get("task"))
                v["name"] = cfg.get("name") or f"{os.path.basename(cfg['model'].rstrip('/')) or cfg['model']} · {cfg['method']}"
            except (OSError, KeyError, ValueError):
                pass
        new = list(runlog.iter_metrics(rd, v["offset"]))  # only the lines written since the last look
        if new:
            v["offset"] = new[-1][1]
        records = v["records"] + [rec for rec, _ in new]
        st = runlog.read_status(rd)
        if st.get("status") in runlog.ACTIVE:
            st = ctx.store.sync(run_id)  # notices a worker that died without saying so
        v["records"] = records
        sig = _signature(rd, st, len(records))
        if sig == v.get("sig"):
            return [gr.skip()] * 5 + [v, gr.skip(), gr.skip()]
        v["sig"] = sig
        test = None
        if st.get("status") == "completed":
            rep = summaries.latest(records, "test")
            test = {k[5:]: val for k, val in (rep or {}).items() if k.startswith("test_")}
        info = {"name": v.get("name")}
        samples = summaries.sample_generations(records)
        return [status_html(run_id, info, st, v.get("epochs"), test), plots.loss_figure(records),
                plots.eval_figure(records, v.get("plot_metrics") or ("accuracy", "f1"), v.get("plot_labels")),
                plots.learning_rate_figure(records), log_tail(rd), v, gr.update(visible=False),
                gr.update(value=pd.DataFrame(samples), visible=True) if samples else gr.update(visible=False)]

    def on_tick(run_id, view_state):
        return draw(run_id, view_state)

    def on_pick_run(run_id):
        return draw(run_id, {})

    def on_start(data_state, **values):
        if not data_state or not data_state.get("path"):
            raise gr.Error("Load data in the Data tab first.")
        try:
            cfg = RunConfig.from_dict(forms.raw_config(data_state, values))
            run_id = ctx.store.create(cfg)
        except USER_ERRORS as e:
            stored = data_state.get("path", "")
            raise gr.Error(esc(str(e).replace(stored, data_state.get("name", "")).replace(
                os.path.basename(stored), data_state.get("name", ""))), print_exception=False) from None
        active = [r for r in ctx.runs() if r.get("status") in runlog.ACTIVE and r["id"] != run_id]
        note = (f"Run {run_id} queued behind {len(active)} other run(s); it starts when the device is free."
                if active else f"Run {run_id} started.")
        return message(note, "ok"), run_id

    def on_stop(run_id):
        try:
            st = ctx.store.stop(ctx.run_dir(run_id).name)
        except USER_ERRORS as e:
            raise user_error(e) from None
        return message(f"Stopping {run_id}: it finishes the current step and saves a checkpoint "
                       f"(status {st.get('status')}). Resume it from the Runs tab.", "info")

    def on_kill(run_id):
        try:
            ctx.store.kill(ctx.run_dir(run_id).name)
        except USER_ERRORS as e:
            raise user_error(e) from None
        return message(f"Killed {run_id}. Progress since its last checkpoint is lost.", "warn")

    def on_refresh(current):
        choices = ctx.run_choices()
        return gr.update(choices=choices, value=pick(choices, current))

    full_form = {**data.form, **model.form, "run_name": run_name}
    # Start returns the run id itself (the picker accepts any id); the list of choices catches up right after.
    start.click(forms.with_keywords(on_start, list(full_form)), inputs=[data.state], inputs_kwargs=full_form,
                outputs=[action_message, picker], api_name="start_run", concurrency_id="start", concurrency_limit=4).then(
        on_refresh, inputs=picker, outputs=picker, api_visibility="private")
    picker.change(on_pick_run, inputs=picker, outputs=tab.live_outputs, api_visibility="private",
                  show_progress="hidden")
    timer.tick(on_tick, inputs=[picker, view], outputs=tab.live_outputs, api_name="poll_run",
               concurrency_limit=None, show_progress="hidden")
    stop.click(on_stop, inputs=picker, outputs=action_message, api_name="stop_run")
    kill.click(on_kill, inputs=picker, outputs=action_message, api_name="kill_run")
    refresh.click(on_refresh, inputs=picker, outputs=picker, api_visibility="private")
    return tab


def _plot_metrics(task: str | None) -> tuple[list[str], dict[str, str]]:
    """The task's live score metrics and any labels of its own for them."""
    from studio.tasks import get_task

    try:
        module = get_task(task or "text-classification")
        return list(module.PLOT_METRICS), dict(getattr(module, "METRIC_LABELS", {}))
    except (ValueError, ImportError, AttributeError):
        return ["accuracy", "f1"], {}


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
