"""Benchmarks, in the Runs tab: score the picked chat run and its base model on benchmark files or lm-eval task
names (studio.evals), follow the job with its time left, and read base beside tuned.

The job runs in a process of its own (studio.evals.worker); the page starts it, polls its status file while it is
under way, and stops it. Starting and stopping need the run's owner; anyone who may see the run reads its scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from components.context import StudioContext
from components.forms import field_component, spec_of
from components.i18n import Lang, t
from components.ui import bind, shows_user_errors
from studio.evals import BenchmarkConfig, jobs, results
from studio.evals.config import LABELS

FILE_TYPES = [".csv", ".tsv", ".json", ".jsonl", ".parquet"]
POLL_SECONDS = 2.0


@dataclass
class BenchmarkPanel:
    files: gr.File
    names: gr.Textbox
    fields: dict[str, gr.components.Component]
    start: gr.Button
    stop: gr.Button
    status: gr.Markdown
    table: gr.Dataframe
    timer: gr.Timer

    @property
    def outputs(self) -> list:
        return [self.status, self.table, self.timer]


def _view(ctx: StudioContext, run_id: str | None, lang: Lang) -> tuple:
    """The job's sentence, the scores table, and whether to keep polling."""
    if not run_id:
        return (lang("Pick a run above to score it on benchmarks.", "在上方选择一个运行，以进行基准测试。"),
                pd.DataFrame(columns=results.COLUMNS), gr.Timer(active=False))
    rd = ctx.run_dir(run_id)
    st = jobs.read_state(rd)
    return (results.state_text(st, zh=lang.zh), pd.DataFrame(results.rows(jobs.read_results(rd)),
                                                             columns=results.COLUMNS),
            gr.Timer(active=st.get("state") in jobs.ACTIVE))


@shows_user_errors
def on_status(ctx: StudioContext, run_id, request: gr.Request = None):
    return _view(ctx, run_id, Lang.of(request))


@shows_user_errors
def on_start(ctx: StudioContext, run_id, files, names, limit=0, num_fewshot=0, with_base=True, chat_template=True,
             batch_size=8, max_new_tokens=64, request: gr.Request = None):
    """Score the run (and its base) on the uploaded files and the named lm-eval tasks."""
    lang = Lang.of(request)
    if not run_id:
        raise gr.Error(lang("Pick a run first.", "请先选择一个运行。"))
    ctx.store.changeable(ctx.run_dir(run_id).name)  # someone else's run: refused before any upload is kept
    kept = [ctx.store_upload(f, allowed=tuple(FILE_TYPES)) for f in (files or [])[:jobs.MAX_BENCHMARKS]]
    config = {"limit": int(limit) if limit else None, "num_fewshot": num_fewshot, "with_base": with_base,
              "chat_template": chat_template, "batch_size": batch_size, "max_new_tokens": max_new_tokens}
    jobs.start(ctx.store, run_id, [(k.path, k.display_name) for k in kept], names, config)
    return _view(ctx, run_id, lang)


@shows_user_errors
def on_stop(ctx: StudioContext, run_id, request: gr.Request = None):
    lang = Lang.of(request)
    if not run_id:
        raise gr.Error(lang("Pick a run first.", "请先选择一个运行。"))
    jobs.stop(ctx.store, run_id)
    return _view(ctx, run_id, lang)


def build(ctx: StudioContext, run: gr.Dropdown) -> BenchmarkPanel:
    """The panel, under the Runs tab's run picker (`run`): picking a run shows its scores."""
    with gr.Accordion(t("Benchmarks", "基准测试"), open=True, elem_id="benchmarks"):
        gr.Markdown(t("How much did tuning keep of general ability? Score the picked chat run and the base model it "
                      "started from on the same questions with lm-evaluation-harness. Offline, upload benchmark "
                      "files: multiple choice as C-Eval, CMMLU and MMLU publish them (question, A, B, C, D, answer), "
                      "or question and reference for answers the model writes. Where the Hugging Face hub is "
                      "reachable, lm-eval's task names work too.",
                      "微调后模型还保留了多少通用能力？用 lm-evaluation-harness 在相同题目上评测所选对话运行"
                      "及其基础模型。"
                      "离线时请上传基准测试文件：与 C-Eval、CMMLU、MMLU 相同格式的选择题（question、A、B、C、D、"
                      "answer），或含 question 和 reference 的问答题。能访问 Hugging Face Hub 时，"
                      "也可以直接填写 lm-eval 的任务名。"))
        with gr.Row(equal_height=False):
            files = gr.File(value=[], file_count="multiple", file_types=FILE_TYPES, scale=2, elem_id="benchmark-files",
                            label=t("Benchmark files (CSV, TSV, JSON, JSONL, Parquet)",
                                    "基准测试文件（CSV、TSV、JSON、JSONL、Parquet）"))
            names = gr.Textbox("", label=t("lm-eval task names", "lm-eval 任务名"), scale=2, elem_id="benchmark-names",
                               placeholder="mmlu, ceval-valid, cmmlu, arc_easy",
                               info=t("Comma-separated; their questions come from the Hugging Face hub.",
                                      "逗号分隔；题目从 Hugging Face Hub 下载。"))
        with gr.Row(equal_height=False):
            fields = {name: field_component(spec_of(BenchmarkConfig, name), t(label), elem_id=f"benchmark-{name}")
                      for name, label in LABELS.items()}
        with gr.Row():
            start = gr.Button(t("Score on benchmarks", "开始基准测试"), variant="primary", scale=0, min_width=200,
                              elem_id="benchmark-start")
            stop = gr.Button(t("Stop", "停止"), variant="stop", scale=0, min_width=100, elem_id="benchmark-stop")
        status = gr.Markdown(t("Pick a run above to score it on benchmarks.", "在上方选择一个运行，以进行基准测试。"),
                             elem_id="benchmark-status", elem_classes=["studio-card"])
        table = gr.Dataframe(pd.DataFrame(columns=results.COLUMNS), interactive=False, wrap=True,
                             label=t("Scores: the base model beside the tuned one", "得分：基础模型与微调后模型对比"),
                             elem_id="benchmark-results")
        timer = gr.Timer(POLL_SECONDS, active=False)
    panel = BenchmarkPanel(files, names, fields, start, stop, status, table, timer)
    _wire(ctx, panel, run)
    return panel


def _wire(ctx: StudioContext, panel: BenchmarkPanel, run: gr.Dropdown) -> None:
    settings = [panel.fields[name] for name in LABELS]
    panel.start.click(bind(on_start, ctx), inputs=[run, panel.files, panel.names, *settings], outputs=panel.outputs,
                      api_name="start_benchmark", concurrency_limit=4)
    panel.stop.click(bind(on_stop, ctx), inputs=run, outputs=panel.outputs, api_name="stop_benchmark")
    gr.on([run.change, panel.timer.tick], bind(on_status, ctx), inputs=run, outputs=panel.outputs,
          api_name="benchmark_results", concurrency_limit=8, show_progress="hidden")
