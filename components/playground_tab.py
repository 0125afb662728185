"""Playground tab: try a finished run on typed text, or label a whole file and download the CSV."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from components.context import StudioContext, pick
from components.i18n import t
from components.ui import USER_ERRORS, intro, user_error
from studio import batch, uploads
from studio.data import SUPPORTED

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
    on_refresh: Any = None

    @property
    def pick_outputs(self) -> list:
        return [self.run, self.empty]


def build(ctx: StudioContext) -> PlaygroundTab:
    intro(t("Try a finished run: type a text to see how likely each label is, or label a whole file at once.",
            "试用已完成的运行：输入文本查看每个标签的概率，或一次性为整个文件打标签。"))
    with gr.Row(equal_height=False, elem_classes=["studio-toolbar"]):
        run = gr.Dropdown(choices=[], value=None, label=t("Finished run", "已完成的运行"), scale=4,
                          allow_custom_value=True,
                          elem_id="playground-run")
        refresh = gr.Button(t("Refresh list", "刷新列表"), scale=0, min_width=160)
    empty = gr.Markdown(t("No finished run yet: train one in the Train tab, it appears here when it completes.",
                          "还没有完成的运行：请在“训练”标签页训练一个，完成后会出现在这里。"),
                        elem_classes=["studio-empty"])
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

    tab = PlaygroundTab(run, refresh, empty, text, classify, result, batch_file, label_file, batch_preview,
                        batch_download)

    def on_refresh(current):
        choices = ctx.completed_choices()
        return gr.update(choices=choices, value=pick(choices, current)), gr.update(visible=not choices)

    def on_predict(run_id, text):
        rd = ctx.run_dir(run_id)
        if not (text or "").strip():
            raise gr.Error("Type a text to classify.")
        from studio import inference

        try:
            pred = inference.predict(rd, [text])[0]
        except USER_ERRORS as e:
            raise user_error(e) from None
        return pred["probabilities"]

    def on_predict_file(run_id, file):
        rd = ctx.run_dir(run_id)
        if not file:
            raise gr.Error("Upload a file to label first.")
        try:
            stored = uploads.store_upload(file, ctx.uploads, Path(file).name)
            try:
                frame = batch.predict_file(rd, stored.path)
            except USER_ERRORS as e:
                raise type(e)(stored.explain(str(e))) from None
        except USER_ERRORS as e:
            raise user_error(e) from None
        out = batch.write_csv(frame, ctx.download_dir(), f"predictions-{rd.name}")
        return frame.head(PREVIEW_ROWS), str(out)

    refresh.click(on_refresh, inputs=run, outputs=tab.pick_outputs, api_visibility="private")
    gr.on([classify.click, text.submit], on_predict, inputs=[run, text], outputs=result, api_name="predict",
          concurrency_id="inference", concurrency_limit=2)
    label_file.click(on_predict_file, inputs=[run, batch_file], outputs=[batch_preview, batch_download],
                     api_name="predict_file", concurrency_id="inference", concurrency_limit=2)
    tab.on_refresh = on_refresh
    return tab
