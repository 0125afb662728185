"""Small pieces every tab uses: intro lines, message boxes, run pickers, engine errors as messages."""

from __future__ import annotations

import functools
import html
import inspect
from dataclasses import dataclass
from typing import Any, Callable

import gradio as gr

from components.i18n import t
from studio.base.errors import USER_ERRORS


def intro(text) -> gr.Markdown:
    """The one-line explanation at the top of a tab."""
    return gr.Markdown(text, elem_classes=["studio-intro"])


def message_box(value: str = "", **kw) -> gr.HTML:
    """A box for the outcome of an action; renders nothing while empty."""
    return gr.HTML(value, **kw)


def message(text: str | None, kind: str = "info", items: list[str] | None = None) -> str:
    """HTML for a message_box (plain text in, escaped here); kind is info, ok, warn or error.

    A plain string, not a component update, so API callers get the sentence itself.
    """
    if not text and not items:
        return ""
    body = f"<p>{html.escape(text, quote=False)}</p>" if text else ""
    if items:
        body += "<ul>" + "".join(f"<li>{html.escape(i, quote=False)}</li>" for i in items) + "</ul>"
    return f"<div class='studio-msg studio-msg-{esc(kind)}'>{body}</div>"


def user_error(e: Exception) -> gr.Error:
    """An engine error as a readable toast (never a traceback)."""
    # The toast renders HTML; engine messages are plain text.
    return gr.Error(html.escape(str(e), quote=False), print_exception=False)


def shows_user_errors(fn: Callable) -> Callable:
    """A handler whose engine errors (studio.base.errors.USER_ERRORS) reach the page as a readable message.

    Works for plain handlers and streaming (generator) ones; the signature gradio reads stays fn's."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def streaming(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except USER_ERRORS as e:
                raise user_error(e) from None
        return streaming

    @functools.wraps(fn)
    def handler(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except USER_ERRORS as e:
            raise user_error(e) from None
    return handler


def bind(handler: Callable, *first: Any) -> Callable:
    """handler with its first arguments filled in (a tab's context), keeping the signature and type hints gradio
    reads for the rest (a `request: gr.Request` parameter is filled by gradio): handlers live as named functions
    beside the builders that wire them."""
    if inspect.isgeneratorfunction(handler):
        @functools.wraps(handler)
        def bound(*args, **kwargs):
            yield from handler(*first, *args, **kwargs)
    else:
        @functools.wraps(handler)
        def bound(*args, **kwargs):
            return handler(*first, *args, **kwargs)
    sig = inspect.signature(handler)
    bound.__signature__ = sig.replace(parameters=list(sig.parameters.values())[len(first):])
    return bound


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


@dataclass
class RunPicker:
    """A run dropdown with its refresh button and the note shown while there is no run to pick."""

    dropdown: gr.Dropdown
    refresh: gr.Button
    empty: gr.Markdown


def run_picker(label, empty_note, elem_id: str, info=None) -> RunPicker:
    with gr.Row(equal_height=False, elem_classes=["studio-toolbar"]):
        dropdown = gr.Dropdown(choices=[], value=None, label=label, info=info, scale=4, allow_custom_value=True,
                               elem_id=elem_id)
        refresh = gr.Button(t("Refresh list", "刷新列表"), scale=0, min_width=160)
    empty = gr.Markdown(empty_note, elem_classes=["studio-empty"])
    return RunPicker(dropdown, refresh, empty)
