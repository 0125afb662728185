"""Small pieces every tab uses: intro lines, message boxes, error translation."""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from studio.config import ConfigError
from studio.data import DataError
from studio.export import ExportError
from studio.inference import InferenceError
from studio.models import ModelError
from studio.runs import RunError

# Errors the engine raises for things the user can fix; their messages are written for people.
USER_ERRORS = (ConfigError, DataError, ModelError, RunError, InferenceError, ExportError)


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


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)
