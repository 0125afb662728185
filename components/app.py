"""The studio in the browser: one gr.Blocks with a tab per step, composed from the tab builders.

    from components.app import build_app, launch_options
    app = build_app(runs_dir="runs")
    app.launch(**launch_options(app))

Tabs share nothing but the runs store (folders + registry on disk) and the
per-session gr.State values they hand each other, so any number of browser
sessions work side by side and a restarted server picks up where it was.
Every event acts for the person behind it (components.identity: one local
person, accounts, Hugging Face sign-in or a read-only demo), through a store
that shows them only what is theirs or shared with them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import gradio as gr

from components.context import StudioContext
from components.i18n import Lang, i18n, t
from components.identity import Identity
from components.panels import augment_panel, distill_panel, label_review_panel
from components.tabs import data_tab, export_tab, label_tab, model_tab, playground_tab, runs_tab, sweep_tab, train_tab
from components.ui import bind, esc
from studio.base import limits as policy_limits
from studio.base import log_filter, runfolder
from studio.base.access import ANONYMOUS, LOCAL
from studio.runs import prewarm as _prewarm
from studio.runs import upkeep
from studio.runs.endpoint import endpoint_routes
from studio.runs.store import open_store
from studio.tasks import DEFAULT_TASK, get_task
from studio.views import data_check, run_views

ASSETS = Path(__file__).resolve().parent.parent / "assets"
# The page opens on the default task's first sample and its default base, ready to Start.
DEFAULT_SAMPLE = get_task(DEFAULT_TASK).data.samples[0]
DEFAULT_MODEL = get_task(DEFAULT_TASK).model.default_model
DEFAULT_METHOD = "lora"


def theme() -> gr.themes.Base:
    # System fonts: the default theme fetches web fonts, which an offline server cannot reach.
    return gr.themes.Soft(primary_hue="indigo", secondary_hue="sky", neutral_hue="slate",
                          font=["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto",
                                "Noto Sans SC", "PingFang SC", "Microsoft YaHei", "sans-serif"],
                          font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"])


SESSIONS_ENV = "STUDIO_SESSIONS"
DEFAULT_SESSIONS = 256


def launch_options(app: gr.Blocks | None = None) -> dict[str, Any]:
    """What `launch()` needs besides host and port: translations, look, privacy, memory, and the app's own routes
    (the OpenAI-compatible endpoint that build_app made, placed before gradio's).

    run_history is off because it would keep every call's inputs (hub tokens included)
    in the browser. Gradio keeps each browser session's component values in the web
    process (a few MB each: the Data tab's charts and tables); only the latest
    STUDIO_SESSIONS sessions (default 256) are kept, so many visitors cannot fill it
    (an older page that comes back starts afresh: everything it showed is on disk).
    """
    try:
        sessions = max(1, int(os.environ.get(SESSIONS_ENV) or DEFAULT_SESSIONS))
    except ValueError:
        sessions = DEFAULT_SESSIONS
    routes = getattr(app, "studio_routes", None)
    return {"i18n": i18n(), "theme": theme(), "css_paths": [ASSETS / "style.css"], "run_history": False,
            "footer_links": ["api", "settings"], "state_session_capacity": sessions,
            **({"app_kwargs": {"routes": list(routes)}} if routes else {})}


QUEUE_MAX_SIZE = 256  # events waiting at once; beyond it the page says the server is busy instead of piling up


def build_app(runs_dir: str | Path | None = None, *, default_sample: str | None = DEFAULT_SAMPLE,
              default_model: str = DEFAULT_MODEL, default_method: str = DEFAULT_METHOD,
              prewarm: bool | None = None, identity: Identity | None = None,
              limits: policy_limits.Limits | None = None, upkeep_every: float | None = 2.0) -> gr.Blocks:
    """The whole studio; opens on the bundled sample, the bundled MiniLM and LoRA, ready to Start.

    prewarm keeps a spare worker process with torch and transformers imported, so Start trains ~4 s sooner
    (default: on, unless STUDIO_PREWARM=0). identity says how people are told apart (default: one local person);
    limits are what each person who is not an admin may use (default: the environment's policy). The runs folder
    is set right on the way (studio.runs.upkeep.recover) and its queue dispatched every upkeep_every seconds.
    """
    log_filter.quiet_warnings()
    identity = identity or Identity()
    store = open_store(runs_dir)
    store.limits = limits
    upkeep.recover(store)
    # The app's own context acts for nobody: bind() hands each event the context of the person behind it.
    ctx = StudioContext(store=store, samples=data_check.list_samples(), default_sample=default_sample,
                        default_model=default_model, default_method=default_method, identity=identity,
                        person=LOCAL if identity.mode == "local" else ANONYMOUS)
    # delete_cache: gradio's copies of uploads and downloads go after a day (checked hourly).
    with gr.Blocks(title="Fine-tuning studio", analytics_enabled=False, delete_cache=(3600, 24 * 3600)) as app:
        with gr.Row(elem_classes=["studio-header"]):
            gr.Markdown(t("# Fine-tuning studio\nFine-tune transformer models on your labelled text: "
                          "data → model → train → compare → try → export.",
                          "# 微调工作室\n用你的标注文本微调 Transformer 模型：数据 → 模型 → 训练 → 比较 → "
                          "试用 → 导出。"))
            with gr.Column(scale=0, min_width=260, elem_classes=["studio-who"]):
                who = gr.Markdown("", elem_id="studio-who")
                if identity.mode == "oauth":
                    gr.LoginButton(elem_id="studio-login")
        with gr.Tabs(elem_id="studio-tabs") as tabs:
            with gr.Tab(t("Data", "数据"), id="data", elem_id="tab-data"):
                data = data_tab.build(ctx)
                augment_panel.build(ctx, data)
                distill_panel.build(ctx, data)
                label_review_panel.build(ctx, data)
            with gr.Tab(t("Model & method", "模型与方法"), id="model", elem_id="tab-model"):
                model = model_tab.build(ctx, data)
            with gr.Tab(t("Train", "训练"), id="train", elem_id="tab-train") as train_t:
                train = train_tab.build(ctx, data, model)
            with gr.Tab(t("Runs", "运行记录"), id="runs", elem_id="tab-runs") as runs_t:
                runs = runs_tab.build(ctx)
            with gr.Tab(t("Sweep", "超参数搜索"), id="sweep", elem_id="tab-sweep") as sweep_t:
                sweep = sweep_tab.build(ctx, data, model, opened=sweep_t.select)
            with gr.Tab(t("Label", "标注"), id="label", elem_id="tab-label") as label_t:
                label = label_tab.build(ctx, data, model)
            with gr.Tab(t("Playground", "试用"), id="playground", elem_id="tab-playground") as play_t:
                play = playground_tab.build(ctx)
            with gr.Tab(t("Export", "导出"), id="export", elem_id="tab-export") as export_t:
                exp = export_tab.build(ctx)

        # A page load (first visit, refresh, second browser, restarted server) reattaches to the runs on disk.
        on_load = bind(train_tab.attach, ctx)
        app.load(on_load, inputs=train.picker, outputs=train.picker, api_visibility="private")
        app.load(bind(on_who, ctx), outputs=who, api_visibility="private")
        app.load(data_tab.data_event(data_tab.on_page_load), inputs=[data.state, data.tokens], inputs_kwargs=data.form,
                 outputs=data.outputs + [data.task_hint], api_visibility="private", **data_tab.DATA_QUEUE)
        app.load(model.on_count_parameters, inputs=[data.state], inputs_kwargs=model.form, outputs=model.params,
                 api_visibility="private", concurrency_id="models", concurrency_limit=2)
        app.load(on_blank_figures, outputs=[runs.compare_plot, runs.confusion, sweep.history, sweep.parallel,
                                            sweep.importance, label.curve], api_visibility="private")
        train_t.select(on_load, inputs=train.picker, outputs=train.picker, api_visibility="private")
        runs_t.select(runs.on_refresh, inputs=[runs.compare_runs, runs.run], outputs=runs.list_outputs,
                      api_visibility="private")
        play_t.select(play.on_refresh, inputs=play.run, outputs=play.pick_outputs, api_visibility="private")
        export_t.select(exp.on_refresh, inputs=exp.run, outputs=exp.pick_outputs, api_visibility="private")
        sweep_t.select(bind(sweep_tab.on_refresh, ctx), inputs=sweep.picker, outputs=[sweep.picker, sweep.empty],
                       api_visibility="private")
        label_t.select(bind(label_tab.on_refresh, ctx), inputs=label.picker, outputs=[label.picker, label.empty],
                       api_visibility="private")
        _open_best_trial(ctx, sweep, tabs, runs, play, exp)

        # Plain-data endpoints for scripts: the same facts the charts are drawn from.
        gr.api(bind(run_metrics, ctx), api_name="run_metrics", concurrency_limit=None)
        gr.api(bind(run_status, ctx), api_name="run_status", concurrency_limit=None)
    app.queue(default_concurrency_limit=8, max_size=QUEUE_MAX_SIZE)
    # The OpenAI-compatible endpoint (/v1) on the same server: API keys say who asks; with no logins (one person on
    # their machine) a request without a key acts as that machine, as the page does.
    accounts = identity.accounts if identity.mode == "accounts" else None
    app.studio_routes = endpoint_routes(store.root, without_key=LOCAL if identity.mode == "local" else None,
                                        admins=lambda: set(identity.admins) | set(accounts.admins if accounts else ()),
                                        known=(lambda name: name in accounts.hashes) if accounts else None)
    if upkeep_every:
        keeper = upkeep.Upkeep(store, upkeep_every).start()
        close = app.close

        def close_and_stop_upkeep(*args, **kwargs):  # a closed app starts no more runs
            keeper.stop()
            return close(*args, **kwargs)

        app.close = close_and_stop_upkeep
    # Only now: gr.Blocks sets HF_HUB_DISABLE_TELEMETRY, which huggingface_hub reads at import. A spare started
    # before it would be stale from the first run on, and every run would spawn a fresh worker instead.
    if prewarm if prewarm is not None else os.environ.get("STUDIO_PREWARM", "1") != "0":
        _prewarm.enable(store)
    return app


def on_blank_figures(request: gr.Request = None) -> list:
    """The charts that wait for a comparison, a run, a sweep or a labelling project: built in English with the page,
    drawn again for a reader of Chinese."""
    lang = Lang.of(request)
    if not lang.zh:
        return [gr.skip()] * 6
    return [*runs_tab.blank_figures(lang), *sweep_tab.blank_figures(lang), *label_tab.blank_figures(lang)]


def on_who(ctx: StudioContext) -> str:
    """Who the page acts for, and what this server allows them (nothing shown on one person's own machine)."""
    line = esc(ctx.identity.describe(ctx.person))
    if ctx.identity.mode == "accounts" and not ctx.person.read_only:
        line += " <a href='logout' id='studio-sign-out'>Sign out</a>"  # gradio's own route: ends the login session
    rules = policy_limits.describe(ctx.limits)
    if rules and not ctx.person.read_only:
        line += f" <span class='studio-muted' title='{esc('; '.join(rules))}'>Limits apply: hover to read them.</span>"
    return line


def run_metrics(ctx: StudioContext, run_id: str) -> list[dict]:
    """Every line of the run's metrics.jsonl (kind, step, epoch, loss, eval_*, learning_rate, ...)."""
    return runfolder.read_metrics(ctx.run_dir(run_id))


def run_status(ctx: StudioContext, run_id: str) -> dict:
    """The run's status.json plus its progress and, once completed, its test report."""
    rd = ctx.run_dir(run_id)
    info = ctx.store.get(rd.name)
    st = info["status_detail"]
    return {**st, "progress": run_views.progress(st), "test_report": info.get("test_report")}


def _open_best_trial(ctx: StudioContext, sweep, tabs, runs, play, exp) -> None:
    """A sweep's best trial one click from the Runs tab, the Playground and Export."""
    best = bind(sweep_tab.best_run, ctx)

    report = [runs.summary, runs.per_class, runs.confusion, runs.error_filter, runs.error_note, runs.errors]
    sweep.open_runs.click(best, inputs=sweep.picker, outputs=runs.run, api_visibility="private").success(
        runs.on_refresh, inputs=[runs.compare_runs, runs.run], outputs=runs.list_outputs,
        api_visibility="private").then(
        bind(runs_tab.on_open, ctx), inputs=runs.run, outputs=report, api_visibility="private").then(
        lambda: gr.Tabs(selected="runs"), outputs=tabs, api_visibility="private")
    for button, target, tab_id in ((sweep.open_playground, play, "playground"), (sweep.open_export, exp, "export")):
        button.click(best, inputs=sweep.picker, outputs=target.run, api_visibility="private").success(
            target.on_refresh, inputs=target.run, outputs=target.pick_outputs, api_visibility="private").then(
            lambda tab_id=tab_id: gr.Tabs(selected=tab_id), outputs=tabs, api_visibility="private")
