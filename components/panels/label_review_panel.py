"""Find label errors, at the foot of the Data tab: the rows whose label is probably wrong (studio.labels.label_review),
a decision per row (keep, drop or another label), saved as a new file the Data tab then uses.

The original file is never changed: the reviewed copy goes to the uploads folder under its own name, and
the Data tab switches to it, so Start trains on it directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from components import forms
from components.context import StudioContext
from components.i18n import Lang, t
from components.session import DataState
from components.tabs import data_tab
from components.ui import bind, message, message_box, shows_user_errors
from studio.base.errors import DataError
from studio.labels import label_review
from studio.tasks import get_task

COLUMNS = ["row", "text", "given", "suggested", "p(suggested)", "decision"]
DECISION = COLUMNS.index("decision")


@dataclass
class ReviewPanel:
    accordion: gr.Accordion
    find: gr.Button
    status: gr.HTML
    table: gr.Dataframe
    take_all: gr.Button
    drop_all: gr.Button
    keep_all: gr.Button
    save: gr.Button
    message: gr.HTML


def empty_frame() -> pd.DataFrame:
    return pd.DataFrame(columns=COLUMNS)


def suspects_frame(review: label_review.Review) -> pd.DataFrame:
    rows = [[s.row, s.text, s.given, s.suggested, s.p_suggested, label_review.KEEP] for s in review.suspects]
    return pd.DataFrame(rows, columns=COLUMNS)


def _reviewable(state: DataState | None, lang: Lang) -> DataState:
    if state is None:
        raise gr.Error(lang("Load a labelled file above first.", "请先在上方加载带标签的文件。"))
    label_review.review_task(state.task)  # a task without one label per row: one sentence
    return state


@shows_user_errors
def on_find(state: DataState | None, progress=gr.Progress(), request: gr.Request = None, **values):
    """The suspects of the Data tab's file: (summary, table)."""
    lang = Lang.of(request)
    state = _reviewable(state, lang)
    review = label_review.find_suspects(state.task, data_tab.data_config(state, values),
                                        progress=lambda share, what: progress(share, desc=what))
    if not review.suspects:
        note = lang(f"No row of {state.name} looks mislabelled. {review.how}",
                    f"{state.name} 中没有看起来标错的行。{review.how}")
        return message(note, "ok"), empty_frame()
    lead = lang("Decide per row: keep, drop, or type the right label in the decision column; then save a reviewed "
                "copy.", "逐行决定：保留（keep）、删除（drop），或在 decision 列填写正确标签；然后保存审阅后的副本。")
    return message(f"{review.summary()} {lead}", "warn"), suspects_frame(review)


def with_all(decision: str):
    """A bulk button: every row's decision set at once ("suggested": each row's own suggestion)."""
    def handler(table: pd.DataFrame) -> pd.DataFrame:
        if table is None or table.empty:
            return table
        out = table.copy()
        out["decision"] = out["suggested"] if decision == "suggested" else decision
        return out
    handler.__name__ = f"on_all_{decision}"
    return handler


@shows_user_errors
def on_save(ctx: StudioContext, state: DataState | None, table: pd.DataFrame, tokens, request: gr.Request = None,
            **values):
    """Write the reviewed copy to the uploads folder and check it as the Data tab's file."""
    lang = Lang.of(request)
    state = _reviewable(state, lang)
    if table is None or table.empty:
        raise DataError("There are no suspects to decide on; press Find label errors first.")
    decisions = {int(r): str(d) for r, d in zip(table["row"], table["decision"])}
    name = f"{Path(state.name).stem}-reviewed{Path(state.path).suffix}"
    draft = ctx.download_dir() / name
    cleaned = label_review.apply_decisions(state.task, data_tab.data_config(state, values), decisions, draft)
    stored = ctx.store_upload(str(draft), made_here=True)
    new = DataState(str(stored.path), stored.display_name, "upload", state.task)
    checked = data_tab.run_check(new, tokens, values, lang, lead=lang(f"Now using {name}. ", f"现在使用 {name}。"))
    return (*checked, message(cleaned.summary(), "ok"), empty_frame())


def on_data_changed(state: DataState | None):
    """Shown for tasks with one label per row; a new file's old suspects go."""
    visible = state is not None and get_task(state.task).reviews_labels
    return gr.update(visible=visible), empty_frame(), ""


def build(ctx: StudioContext, data) -> ReviewPanel:
    with gr.Accordion(t("Find label errors", "查找标注错误"), open=False, elem_id="review-panel") as accordion:
        gr.Markdown(t("Rows whose label is probably wrong, most certain first, with the label the studio thinks is "
                      "right. Each row's probabilities come from a model that never saw it: cross-validated "
                      "logistic regression on the frozen base's sentence embeddings; cleanlab picks the rows. "
                      "Nothing trains and the file is not changed.",
                      "找出标签很可能有误的行（最确定的在前），并给出工作室认为正确的标签。"
                      "每行的概率来自从未见过它的模型：在冻结基础模型的句向量上做交叉验证的逻辑回归；由 cleanlab "
                      "挑出可疑行。不会训练，也不会修改文件。"),
                    elem_classes=["studio-muted"])
        find = gr.Button(t("Find label errors", "查找标注错误"), variant="primary", elem_id="review-find")
        status = message_box(elem_id="review-status")
        table = gr.Dataframe(empty_frame(), interactive=True, wrap=True, max_height=420, elem_id="review-table",
                             static_columns=list(range(DECISION)),
                             label=t("Suspects: edit the decision column (keep, drop or a label)",
                                     "可疑行：编辑 decision 列（keep、drop 或标签）"),
                             column_widths=["70px", "44%", "13%", "13%", "90px", "15%"])
        with gr.Row():
            take_all = gr.Button(t("Take every suggestion", "全部采用建议"), size="sm")
            drop_all = gr.Button(t("Drop every suspect", "删除全部可疑行"), size="sm")
            keep_all = gr.Button(t("Keep all", "全部保留"), size="sm")
            save = gr.Button(t("Save a reviewed copy and use it", "保存审阅后的副本并使用"), variant="primary",
                             elem_id="review-save")
        note = message_box(elem_id="review-message")
    panel = ReviewPanel(accordion, find, status, table, take_all, drop_all, keep_all, save, note)
    _wire(ctx, panel, data)
    return panel


def _wire(ctx: StudioContext, panel: ReviewPanel, data) -> None:
    form, names = data.form, list(data.form)
    panel.find.click(forms.with_keywords(on_find, names), inputs=[data.state], inputs_kwargs=form,
                     outputs=[panel.status, panel.table], api_name="find_label_errors", concurrency_id="review",
                     concurrency_limit=1)
    for button, decision in ((panel.take_all, "suggested"), (panel.drop_all, label_review.DROP),
                             (panel.keep_all, label_review.KEEP)):
        button.click(with_all(decision), inputs=panel.table, outputs=panel.table, api_visibility="private")
    panel.save.click(data_tab.data_event(forms.with_keywords(bind(on_save, ctx), names)),
                     inputs=[data.state, panel.table, data.tokens],
                     inputs_kwargs=form, outputs=data.outputs + [panel.message, panel.table],
                     api_name="save_reviewed_data", **data_tab.DATA_QUEUE)
    data.state.change(on_data_changed, inputs=data.state, outputs=[panel.accordion, panel.table, panel.status],
                      api_visibility="private")
