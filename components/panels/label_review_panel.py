"""Find label errors, at the foot of the Data tab: the rows whose label is probably wrong (studio.labels.label_review),
a decision per row (keep, drop or another label), saved as a new file the Data tab then uses.

The status says about how many labels look wrong (an estimate) and how many of the ranking's top rows are
flagged; the table lists those first, and *Show more* reads on down the ranking (the review is kept in the
session, so nothing is computed again and decisions already typed stay).

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

COLUMNS = ["rank", "row", "text", "given", "suggested", "p(wrong)", "decision"]
DECISION = COLUMNS.index("decision")
MORE = 25  # rows each Show more adds


@dataclass
class ReviewPanel:
    accordion: gr.Accordion
    find: gr.Button
    status: gr.HTML
    table: gr.Dataframe
    review: gr.State
    more: gr.Button
    take_all: gr.Button
    drop_all: gr.Button
    keep_all: gr.Button
    save: gr.Button
    message: gr.HTML


def empty_frame() -> pd.DataFrame:
    return pd.DataFrame(columns=COLUMNS)


def suspects_frame(review: label_review.Review, decided: dict[int, str] | None = None) -> pd.DataFrame:
    """The listed rows, most likely wrong first; `decided` ({row: decision}) keeps what a person already typed."""
    decided = decided or {}
    rows = [[s.rank, s.row, s.text, s.given, s.suggested, s.p_wrong, decided.get(s.row, label_review.KEEP)]
            for s in review.suspects]
    return pd.DataFrame(rows, columns=COLUMNS)


def _status(review: label_review.Review, lang: Lang, name: str) -> str:
    if not review.flagged:
        return message(lang(f"No row of {name} looks mislabelled. {review.how} Show more lists the rows the model "
                            "doubts most all the same.",
                            f"{name} 中没有看起来标错的行（概率来自在冻结句向量上做交叉验证的逻辑回归，由 cleanlab "
                            "判断）。点“显示更多”仍可查看模型最怀疑的行。"), "ok")
    lead = lang("Decide per row: keep, drop, or type the right label in the decision column; then save a reviewed "
                "copy. Show more reads on down the ranking.",
                "逐行决定：保留（keep）、删除（drop），或在 decision 列填写正确标签；然后保存审阅后的副本。"
                "“显示更多”可继续查看排名靠后的行。")
    return message(f"{lang(review.summary())} {lead}", "warn")


def _reviewable(state: DataState | None, lang: Lang) -> DataState:
    if state is None:
        raise gr.Error(lang("Load a labelled file above first.", "请先在上方加载带标签的文件。"))
    label_review.review_task(state.task)  # a task without one label per row: one sentence
    return state


@shows_user_errors
def on_find(state: DataState | None, progress=gr.Progress(), request: gr.Request = None, **values):
    """The suspects of the Data tab's file: (summary, table, the review kept for Show more)."""
    lang = Lang.of(request)
    state = _reviewable(state, lang)
    review = label_review.find_suspects(state.task, data_tab.data_config(state, values),
                                        progress=lambda share, what: progress(share, desc=what))
    return _status(review, lang, state.name), suspects_frame(review), review


@shows_user_errors
def on_more(state: DataState | None, review: label_review.Review | None, table: pd.DataFrame | None,
            request: gr.Request = None):
    """MORE further rows of the ranking under those listed, the decisions typed so far kept: (summary, table)."""
    lang = Lang.of(request)
    state = _reviewable(state, lang)
    if review is None:
        raise DataError("There is no ranking yet; press Find label errors first.")
    listed = 0 if table is None else len(table)
    decided = {} if table is None or table.empty else {int(r): str(d) for r, d in zip(table["row"], table["decision"])}
    longer = review.more(max(listed, review.flagged) + MORE)
    return _status(longer, lang, state.name), suspects_frame(longer, decided)


def with_all(decision: str):
    """A bulk button: the flagged rows' decisions set at once ("suggested": each row's own suggestion); keep goes
    for every listed row. Rows listed further down the ranking (Show more) are the person's to decide one by one:
    the review does not count them as wrong."""
    def handler(table: pd.DataFrame, review: label_review.Review | None = None) -> pd.DataFrame:
        if table is None or table.empty:
            return table
        out = table.copy()
        rows = out.index if decision == label_review.KEEP or review is None else \
            out.index[out["rank"].astype(int) <= review.flagged]
        out.loc[rows, "decision"] = out.loc[rows, "suggested"] if decision == "suggested" else decision
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
    """Shown for tasks with one label per row; a new file's old suspects and ranking go."""
    visible = state is not None and get_task(state.task).reviews_labels
    return gr.update(visible=visible), empty_frame(), "", None


def build(ctx: StudioContext, data) -> ReviewPanel:
    with gr.Accordion(t("Find label errors", "查找标注错误"), open=False, elem_id="review-panel") as accordion:
        gr.Markdown(t("Rows whose label is probably wrong, most certain first, with the label the studio thinks is "
                      "right and the probability that the given label is wrong. Each row's probabilities come from a "
                      "model that never saw it: cross-validated logistic regression on the frozen base's sentence "
                      "embeddings; cleanlab estimates how many labels are wrong, and the rows it flags come first. "
                      "Show more reads on down the ranking. Nothing trains and the file is not changed.",
                      "找出标签很可能有误的行（最确定的在前），并给出工作室认为正确的标签和给定标签有误的概率。"
                      "每行的概率来自从未见过它的模型：在冻结基础模型的句向量上做交叉验证的逻辑回归；cleanlab "
                      "估计有多少标签有误，被标记的行排在最前。“显示更多”可继续查看排名靠后的行。"
                      "不会训练，也不会修改文件。"),
                    elem_classes=["studio-muted"])
        find = gr.Button(t("Find label errors", "查找标注错误"), variant="primary", elem_id="review-find")
        status = message_box(elem_id="review-status")
        table = gr.Dataframe(empty_frame(), interactive=True, wrap=True, max_height=420, elem_id="review-table",
                             static_columns=list(range(DECISION)),
                             label=t("Suspects: edit the decision column (keep, drop or a label)",
                                     "可疑行：编辑 decision 列（keep、drop 或标签）"),
                             column_widths=["64px", "64px", "38%", "13%", "13%", "96px", "14%"])
        review = gr.State(None)
        with gr.Row():
            more = gr.Button(t(f"Show {MORE} more", f"再显示 {MORE} 行"), size="sm", elem_id="review-more")
            take_all = gr.Button(t("Take every flagged row's suggestion", "所有已标记行采用建议"), size="sm")
            drop_all = gr.Button(t("Drop every flagged row", "删除所有已标记行"), size="sm")
            keep_all = gr.Button(t("Keep all", "全部保留"), size="sm")
            save = gr.Button(t("Save a reviewed copy and use it", "保存审阅后的副本并使用"), variant="primary",
                             elem_id="review-save")
        note = message_box(elem_id="review-message")
    panel = ReviewPanel(accordion, find, status, table, review, more, take_all, drop_all, keep_all, save, note)
    _wire(ctx, panel, data)
    return panel


def _wire(ctx: StudioContext, panel: ReviewPanel, data) -> None:
    form, names = data.form, list(data.form)
    panel.find.click(forms.with_keywords(on_find, names), inputs=[data.state], inputs_kwargs=form,
                     outputs=[panel.status, panel.table, panel.review], api_name="find_label_errors",
                     concurrency_id="review", concurrency_limit=1)
    panel.more.click(on_more, inputs=[data.state, panel.review, panel.table], outputs=[panel.status, panel.table],
                     api_name="show_more_label_errors")
    for button, decision in ((panel.take_all, "suggested"), (panel.drop_all, label_review.DROP),
                             (panel.keep_all, label_review.KEEP)):
        button.click(with_all(decision), inputs=[panel.table, panel.review], outputs=panel.table,
                     api_visibility="private")
    panel.save.click(data_tab.data_event(forms.with_keywords(bind(on_save, ctx), names)),
                     inputs=[data.state, panel.table, data.tokens],
                     inputs_kwargs=form, outputs=data.outputs + [panel.message, panel.table],
                     api_name="save_reviewed_data", **data_tab.DATA_QUEUE)
    data.state.change(on_data_changed, inputs=data.state,
                      outputs=[panel.accordion, panel.table, panel.status, panel.review], api_visibility="private")
