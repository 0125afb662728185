"""Playground tab: try a finished run the way its task calls for.

Text classification: label probabilities for a typed text, or a whole file labelled
into a CSV. NER, SFT and seq2seq runs get their own panels (components/playground_*.py);
picking a run shows the panel of its task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from components import playground_chat, playground_ner, playground_seq2seq
from components.context import StudioContext, pick
from components.i18n import t
from components.ui import USER_ERRORS, intro, user_error
from studio import batch
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
    groups: dict[str, gr.Column]  # task -> the panel shown for runs of that task
    on_refresh: Any = None

    @property
    def pick_outputs(self) -> list:
        return [self.run, self.empty, *self.groups.values()]


def build(ctx: StudioContext) -> PlaygroundTab:
    intro(t("Try a finished run: a classifier shows how likely each label is (or labels a whole file), a NER model "
            "highlights entities, a chat model answers beside its base model, a seq2seq model writes the target.",
            "试用已完成的运行：分类模型显示各标签概率（或批量标注文件），NER 模型高亮实体，对话模型与基础模型并排作答，"
            "序列到序列模型生成目标文本。"))
    with gr.Row(equal_height=False, elem_classes=["studio-toolbar"]):
        run = gr.Dropdown(choices=[], value=None, label=t("Finished run", "已完成的运行"), scale=4,
                          allow_custom_value=True,
                          elem_id="playground-run")
        refresh = gr.Button(t("Refresh list", "刷新列表"), scale=0, min_width=160)
    empty = gr.Markdown(t("No finished run yet: train one in the Train tab, it appears here when it completes.",
                          "还没有完成的运行：请在“训练”标签页训练一个，完成后会出现在这里。"),
                        elem_classes=["studio-empty"])
    with gr.Column(visible=True) as cls_group:
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
                    batch_download = gr.File(label=t("Predictions (CSV)", "预测结果（CSV）"), interactive=False,
                                             height=120)
            batch_preview = gr.Dataframe(pd.DataFrame(columns=["text", "predicted", "confidence"]),
                                         label=t(f"First {PREVIEW_ROWS} predictions", f"前 {PREVIEW_ROWS} 条预测"),
                                         interactive=False, wrap=True, max_height=360)
    ner = playground_ner.build(ctx, run)
    chat = playground_chat.build(ctx, run)
    seq2seq = playground_seq2seq.build(ctx, run)
    groups = {"text-classification": cls_group, "token-classification": ner.group, "sft": chat.group,
              "seq2seq": seq2seq.group}

    tab = PlaygroundTab(run, refresh, empty, text, classify, result, batch_file, label_file, batch_preview,
                        batch_download, groups)

    def panels_for(run_id: str | None) -> list:
        """Show the panel of the picked run's task (the classifier's when nothing is picked)."""
        task = "text-classification"
        if run_id:
            try:
                task = ctx.store.get(run_id).get("task") or task
            except Exception:  # an unknown or deleted run: its handlers say so when used
                pass
        return [gr.update(visible=name == task) for name in groups]

    def on_refresh(current):
        choices = ctx.completed_choices()
        value = pick(choices, current)
        return [gr.update(choices=choices, value=value), gr.update(visible=not choices), *panels_for(value)]

    def on_pick(run_id):
        return panels_for(run_id)

    def on_predict(run_id, text):
        rd = ctx.run_dir(run_id)
        if not (text or "").strip():
            raise gr.Error("Type a text to classify.")
        from studio import inference

        try:
            pred = inference.predict(rd, [text])[0]
        except USER_ERRORS as e:
            raise user_error(e) from None
        if "probabilities" not in pred:
            raise gr.Error(f"Run {run_id} is not a text classifier; pick it in the list to get its own panel.")
        return pred["probabilities"]

    def on_predict_file(run_id, file):
        rd = ctx.run_dir(run_id)
        if not file:
            raise gr.Error("Upload a file to label first.")
        try:
            stored = ctx.store_upload(file)
            try:
                frame = batch.predict_file(rd, stored.path)
            except USER_ERRORS as e:
                raise type(e)(stored.explain(str(e))) from None
        except USER_ERRORS as e:
            raise user_error(e) from None
        out = batch.write_csv(frame, ctx.download_dir(), f"predictions-{rd.name}")
        return frame.head(PREVIEW_ROWS), str(out)

    refresh.click(on_refresh, inputs=run, outputs=tab.pick_outputs, api_visibility="private")
    run.change(on_pick, inputs=run, outputs=list(groups.values()), api_visibility="private", queue=False)
    gr.on([classify.click, text.submit], on_predict, inputs=[run, text], outputs=result, api_name="predict",
          concurrency_id="inference", concurrency_limit=2)
    label_file.click(on_predict_file, inputs=[run, batch_file], outputs=[batch_preview, batch_download],
                     api_name="predict_file", concurrency_id="inference", concurrency_limit=2)
    tab.on_refresh = on_refresh
    return tab
