"""Playground chat for SFT runs: the fine-tuned model and its base answer the same message side by side.

Answers stream token by token (the fine-tuned one first, then the base model's); generation settings
sit under the chats. The Playground tab builds this panel and shows `group` when the picked run is an
SFT run. Each chat keeps its own history, so a follow-up question reaches each model with its own
earlier answers.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from typing import Any, Iterator

import gradio as gr

from components.context import StudioContext
from components.i18n import t
from components.ui import bind, shows_user_errors
from studio.base import runfolder
from studio.serve import inference

MAX_NEW_TOKENS = 1024


@dataclass
class ChatPanel:
    group: gr.Column
    chat: gr.Chatbot
    base_chat: gr.Chatbot
    message: gr.Textbox
    send: gr.Button
    clear: gr.Button
    max_new_tokens: gr.Slider
    temperature: gr.Slider
    top_p: gr.Slider
    compare: gr.Checkbox


def text_of(content: Any) -> str:
    """A chat message's text, whether the page sends a string or a list of typed parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or content.get("content") or "")
    if isinstance(content, (list, tuple)):
        return "".join(text_of(c) for c in content)
    return "" if content is None else str(content)


def as_messages(history: Any) -> list[dict[str, str]]:
    """A Chatbot value as the model's [{role, content}] turns (anything else in it is left out): the latest
    MAX_TURNS, each cut to MAX_MESSAGE_CHARS, since the page (or an API client) may send any history at all; the
    engine then keeps what fits the model's context (studio.serve.inference.fit_history)."""
    out = []
    for m in list(history or [])[-inference.MAX_TURNS:] if isinstance(history, (list, tuple)) else []:
        if isinstance(m, dict) and m.get("role") in ("user", "assistant"):
            out.append({"role": m["role"], "content": text_of(m.get("content"))[:inference.MAX_MESSAGE_CHARS]})
    return out


def run_max_new_tokens(run_dir) -> int | None:
    """The run's own max_new_tokens (the slider's default for it)."""
    meta = runfolder.model_meta(run_dir) or {}
    value = (meta.get("task_args") or {}).get("max_new_tokens") or meta.get("max_new_tokens")
    return int(value) if isinstance(value, (int, float)) else None


def build(ctx: StudioContext, run: gr.Dropdown) -> ChatPanel:
    with gr.Column(visible=False) as group:
        gr.Markdown(t("Chat with the fine-tuned model; the base model it started from answers the same message "
                      "beside it.", "与微调后的模型对话；它的基础模型在旁边回答同一条消息。"),
                    elem_classes=["studio-intro"])
        with gr.Row(equal_height=True):
            chat = gr.Chatbot(label=t("Fine-tuned", "微调后"), height=380, elem_id="chat-tuned")
            base_chat = gr.Chatbot(label=t("Base model", "基础模型"), height=380, elem_id="chat-base")
        with gr.Row(equal_height=True):
            message = gr.Textbox(label=t("Message", "消息"), placeholder="Give me three tips for a tidy desk.", lines=2,
                                 scale=5, elem_id="chat-message")
            with gr.Column(scale=1, min_width=140):
                send = gr.Button(t("Send", "发送"), variant="primary", elem_id="chat-send")
                clear = gr.Button(t("Clear", "清空"), elem_id="chat-clear")
        with gr.Row():
            max_new_tokens = gr.Slider(1, MAX_NEW_TOKENS, value=64, step=1, label=t("Max new tokens", "最多生成词元数"))
            temperature = gr.Slider(0.0, 2.0, value=0.0, step=0.05,
                                    label=t("Temperature (0 = greedy)", "温度（0 = 贪心解码）"))
            top_p = gr.Slider(0.05, 1.0, value=1.0, step=0.05, label=t("Top-p", "Top-p"))
            compare = gr.Checkbox(value=True, label=t("Also ask the base model", "同时询问基础模型"))
    panel = ChatPanel(group, chat, base_chat, message, send, clear, max_new_tokens, temperature, top_p, compare)

    gr.on([send.click, message.submit], bind(on_chat, ctx),
          inputs=[run, message, chat, base_chat, max_new_tokens, temperature, top_p, compare],
          outputs=[message, chat, base_chat], api_name="chat", concurrency_id="inference", concurrency_limit=2)
    clear.click(lambda: ([], [], ""), outputs=[chat, base_chat, message], api_visibility="private")
    run.change(bind(on_run, ctx), inputs=run, outputs=[chat, base_chat, max_new_tokens], api_visibility="private")
    return panel


@shows_user_errors
def on_chat(ctx: StudioContext, run_id, message, history, base_history, max_new_tokens, temperature, top_p, compare):
    """Stream the fine-tuned answer, then the base model's; yields (message box, chat, base chat)."""
    rd = ctx.run_dir(run_id)
    text = str(message or "").strip()[:inference.MAX_MESSAGE_CHARS]
    if not text:
        raise gr.Error("Type a message to send.")
    turn = {"role": "user", "content": text}
    tuned, base = as_messages(history) + [turn], as_messages(base_history) + [turn]
    settings = {"max_new_tokens": int(max_new_tokens or 64), "temperature": float(temperature or 0.0),
                "top_p": float(top_p or 1.0)}
    tuned_answer = yield from _stream_into(inference.stream(rd, tuned, **settings), tuned,
                                           lambda h: ("", h, base if compare else as_messages(base_history)))
    tuned.append({"role": "assistant", "content": tuned_answer})
    if compare:
        yield from _stream_into(inference.stream(rd, base, base=True, **settings), base, lambda h: ("", tuned, h))


def on_run(ctx: StudioContext, run_id):
    """A new run: fresh chats, and its own max_new_tokens."""
    limit = None
    if run_id:
        try:
            limit = run_max_new_tokens(ctx.run_dir(run_id))
        except gr.Error:
            pass
    return [], [], gr.update(value=min(limit, MAX_NEW_TOKENS)) if limit else gr.update()


def _stream_into(pieces: Iterator[str], history: list[dict], show) -> Iterator[tuple]:
    """Yield show(history + the growing answer) for each piece; returns the whole answer."""
    answer = ""
    with closing(pieces):  # a client that leaves stops the generation (and frees the model) at once
        yield show(history + [{"role": "assistant", "content": answer}])
        for answer in pieces:
            yield show(history + [{"role": "assistant", "content": answer}])
    return answer
