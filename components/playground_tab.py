"""Playground tab: try a finished run the way its task calls for.

Each task names its panel (Task.playground): "classify" (label probabilities for a typed
text, or a whole file labelled into a CSV) is built here; "entities", "chat" and "generate"
have their own modules (components/playground_*.py). Picking a run shows its task's panel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from components import playground_chat, playground_ner, playground_seq2seq
from components.context import StudioContext
from components.i18n import t
from components.ui import RunPicker, bind, intro, run_picker, shows_user_errors
from studio.serve import label_file
from studio.serve import inference
from studio.serve import run_views
from studio.data import SUPPORTED
from studio.base.errors import USER_ERRORS

PREVIEW_ROWS = 50


@dataclass
class PlaygroundTab:
    run: gr.Dropdown
    refresh: gr.Button
    empty: gr.Markdown
    text: gr.Textbox
    classify: gr.Button
    result: gr.Label
    batch_file: gr.File
    label_file: gr.Button
    batch_preview: gr.Dataframe
    batch_download: gr.File
    groups: dict[str, gr.Column]  # Task.playground -> the panel shown for runs of tasks that name it
    on_refresh: Any = None

    @property
    def pick_outputs(self) -> list:
        return [self.run, self.empty, *self.groups.values()]


def panels_for(ctx: StudioContext, groups: list[str], run_id: str | None) -> list:
    """Show the panel of the picked run's task (the first panel when nothing is picked)."""
    kind = groups[0]
    if run_id:
        try:
            kind = run_views.task_of(ctx.store.get(run_id)).playground
        except Exception:  # an unknown or deleted run: its handlers say so when used
            pass
    return [gr.update(visible=name == kind) for name in groups]


def on_refresh(ctx: StudioContext, groups: list[str], current):
    picker, empty = ctx.picker_update(current)
    return [picker, empty, *panels_for(ctx, groups, picker["value"])]


@shows_user_errors
def on_predict(ctx: StudioContext, run_id, text):
    rd = ctx.run_dir(run_id)
    if not (text or "").strip():
        raise gr.Error("Type a text to classify.")
    pred = inference.predict(rd, [text])[0]
    if "probabilities" not in pred:
        raise gr.Error(f"Run {run_id} is not a text classifier; pick it in the list to get its own panel.")
    return pred["probabilities"]


@shows_user_errors
def on_predict_file(ctx: StudioContext, run_id, file):
    rd = ctx.run_dir(run_id)
    if not file:
        raise gr.Error("Upload a file to label first.")
    stored = ctx.store_upload(file)
    try:
        frame = label_file.predict_file(rd, stored.path)
    except USER_ERRORS as e:  # the stored upload's name means nothing to the user: name their file
        raise type(e)(stored.explain(str(e))) from None
    out = label_file.write_csv(frame, ctx.download_dir(), f"predictions-{rd.name}")
    return frame.head(PREVIEW_ROWS), str(out)


def _classify_panel() -> tuple:
    with gr.Column(visible=True) as group:
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                text = gr.Textbox(label=t("Text", "文本"), lines=4, elem_id="playground-text",
                                  placeholder="My card was charged twice this month, please refund one payment.")
                classify = gr.Button(t("Classify", "分类"), variant="primary", elem_id="classify-btn")
            with gr.Column(scale=2):
                result = gr.Label(label=t("Label probabilities", "各标签概率"), elem_id="playground-result")
        with gr.Accordion(t("Label a file", "批量标注文件"), open=True):
            with gr.Row(equal_height=False):
                with gr.Column(scale=2):
                    batch_file = gr.File(label=t("File with a text column (CSV, TSV, JSON, JSONL, Parquet)",
                                                 "包含文本列的文件（CSV、TSV、JSON、JSONL、Parquet）"),
                                         file_types=sorted(set(SUPPORTED) - {".txt"}), height=120)
                    label_file = gr.Button(t("Label the file", "标注文件"))
                with gr.Column(scale=1):
                    batch_download = gr.File(label=t("Predictions (CSV)", "预测结果（CSV）"), interactive=False, height=120)
            batch_preview = gr.Dataframe(pd.DataFrame(columns=["text", "predicted", "confidence"]),
                                         label=t(f"First {PREVIEW_ROWS} predictions", f"前 {PREVIEW_ROWS} 条预测"),
                                         interactive=False, wrap=True, max_height=360)
    return group, text, classify, result, batch_file, label_file, batch_preview, batch_download


def build(ctx: StudioContext) -> PlaygroundTab:
    intro(t("Try a finished run: a classifier shows how likely each label is (or labels a whole file), a NER model "
            "highlights entities, a chat model answers beside its base model, a seq2seq model writes the target.",
            "试用已完成的运行：分类模型显示各标签概率（或批量标注文件），NER 模型高亮实体，对话模型与基础模型并排作答，"
            "序列到序列模型生成目标文本。"))
    picker: RunPicker = run_picker(t("Finished run", "已完成的运行"),
                                   t("No finished run yet: train one in the Train tab, it appears here when it completes.",
                                     "还没有完成的运行：请在“训练”标签页训练一个，完成后会出现在这里。"), "playground-run")
    cls_group, text, classify, result, batch_file, label_file, batch_preview, batch_download = _classify_panel()
    run = picker.dropdown
    groups = {"classify": cls_group, "entities": playground_ner.build(ctx, run).group,
              "chat": playground_chat.build(ctx, run).group, "generate": playground_seq2seq.build(ctx, run).group}
    tab = PlaygroundTab(run, picker.refresh, picker.empty, text, classify, result, batch_file, label_file,
                        batch_preview, batch_download, groups, on_refresh=bind(on_refresh, ctx, list(groups)))
    picker.refresh.click(tab.on_refresh, inputs=run, outputs=tab.pick_outputs, api_visibility="private")
    run.change(bind(panels_for, ctx, list(groups)), inputs=run, outputs=list(groups.values()), api_visibility="private",
               queue=False)
    gr.on([classify.click, text.submit], bind(on_predict, ctx), inputs=[run, text], outputs=result, api_name="predict",
          concurrency_id="inference", concurrency_limit=2)
    label_file.click(bind(on_predict_file, ctx), inputs=[run, batch_file], outputs=[batch_preview, batch_download],
                     api_name="predict_file", concurrency_id="inference", concurrency_limit=2)
    return tab
