"""The classify panel: label probabilities for a typed text, or a whole file labelled into a CSV."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from components.context import StudioContext
from components.i18n import t
from components.ui import bind, shows_user_errors
from studio.base.errors import USER_ERRORS
from studio.data import SUPPORTED
from studio.serve import inference, label_file

PREVIEW_ROWS = 50


@dataclass
class ClassifyPanel:
    group: gr.Column
    text: gr.Textbox
    classify: gr.Button
    result: gr.Label
    batch_file: gr.File
    label_file: gr.Button
    batch_preview: gr.Dataframe
    batch_download: gr.File


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


def build(ctx: StudioContext, run: gr.Dropdown) -> ClassifyPanel:
    """The panel (shown first, before a run is picked); `run` is the playground's run dropdown."""
    with gr.Column(visible=True) as group:
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                text = gr.Textbox(label=t("Text", "文本"), lines=4, elem_id="playground-text",
                                  placeholder=t("My card was charged twice this month, please refund one payment.",
                                                "我的卡这个月被扣了两次款，请退还其中一笔。"))
                classify = gr.Button(t("Classify", "分类"), variant="primary", elem_id="classify-btn")
            with gr.Column(scale=2):
                result = gr.Label(label=t("Label probabilities", "各标签概率"), elem_id="playground-result")
        with gr.Accordion(t("Label a file", "批量标注文件"), open=True):
            with gr.Row(equal_height=False):
                with gr.Column(scale=2):
                    batch_file = gr.File(label=t("File with a text column (CSV, TSV, JSON, JSONL, Parquet)",
                                                 "包含文本列的文件（CSV、TSV、JSON、JSONL、Parquet）"),
                                         file_types=sorted(set(SUPPORTED) - {".txt"}), height=120)
                    label_button = gr.Button(t("Label the file", "标注文件"))
                with gr.Column(scale=1):
                    batch_download = gr.File(label=t("Predictions (CSV)", "预测结果（CSV）"), interactive=False,
                                             height=120)
            batch_preview = gr.Dataframe(pd.DataFrame(columns=["text", "predicted", "confidence"]),
                                         label=t(f"First {PREVIEW_ROWS} predictions", f"前 {PREVIEW_ROWS} 条预测"),
                                         interactive=False, wrap=True, max_height=360)
    gr.on([classify.click, text.submit], bind(on_predict, ctx), inputs=[run, text], outputs=result, api_name="predict",
          concurrency_id="inference", concurrency_limit=2)
    label_button.click(bind(on_predict_file, ctx), inputs=[run, batch_file], outputs=[batch_preview, batch_download],
                       api_name="predict_file", concurrency_id="inference", concurrency_limit=2)
    return ClassifyPanel(group, text, classify, result, batch_file, label_button, batch_preview, batch_download)
