"""The answer panel (extractive question answering): a question and a passage in, the answer marked in the
passage with how sure the model is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from components.context import StudioContext
from components.i18n import Lang, t
from components.ui import bind, shows_user_errors
from studio.serve import inference


@dataclass
class AnswerPanel:
    group: gr.Column
    question: gr.Textbox
    context: gr.Textbox
    ask: gr.Button
    highlighted: gr.HighlightedText
    answer: gr.Markdown


def build(ctx: StudioContext, run: gr.Dropdown) -> AnswerPanel:
    """The panel, hidden until the playground picks a question-answering run; `run` is the playground's dropdown."""
    with gr.Column(visible=False, elem_id="playground-answer") as group:
        question = gr.Textbox(label=t("Question", "问题"), lines=1, elem_id="qa-question",
                              placeholder=t("How long is the warranty of the Aster kettle?",
                                            "Aster 水壶的保修期是多久？"))
        context = gr.Textbox(label=t("Passage", "段落"), lines=5, elem_id="qa-context",
                             placeholder=t("The Aster kettle costs 40 euros. Its warranty lasts two years.",
                                           "Aster 水壶售价 40 欧元，保修期为两年。"))
        ask = gr.Button(t("Find the answer", "查找答案"), variant="primary", elem_id="qa-ask")
        highlighted = gr.HighlightedText(label=t("Answer in the passage", "答案在段落中的位置"), combine_adjacent=False,
                                         show_legend=False, elem_id="qa-highlighted")
        answer = gr.Markdown(elem_id="qa-answer")
    gr.on([ask.click, question.submit], bind(on_ask, ctx), inputs=[run, question, context],
          outputs=[highlighted, answer], api_name="answer_question", concurrency_id="inference", concurrency_limit=2)
    return AnswerPanel(group, question, context, ask, highlighted, answer)


@shows_user_errors
def on_ask(ctx: StudioContext, run_id, question, context, request: gr.Request = None):
    lang = Lang.of(request)
    rd = ctx.run_dir(run_id)
    if not (question or "").strip() or not (context or "").strip():
        raise gr.Error(lang("Type a question and the passage it is answered from.", "请输入问题和回答所依据的段落。"))
    pred = inference.predict(rd, [{"question": question, "context": context}])[0]
    if "answer" not in pred:
        raise gr.Error(f"Run {run_id} does not answer questions; pick it in the list to get its own panel.")
    return highlight(context, pred), answer_line(pred, lang)


def highlight(context: str, pred: dict[str, Any]) -> dict[str, Any]:
    """HighlightedText's value: the passage with the answer's span marked."""
    spans = [{"entity": "answer", "start": pred["start"], "end": pred["end"]}] if pred.get("answer") else []
    return {"text": context, "entities": spans}


def answer_line(pred: dict[str, Any], lang: Lang) -> str:
    if not pred.get("answer"):
        return lang("No span of the passage answers it.", "段落中没有能回答它的片段。")
    return f"**{pred['answer']}** · " + lang(f"probability {pred['score']:.2f}", f"概率 {pred['score']:.2f}")
