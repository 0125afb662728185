"""Small pieces every tab uses: intro lines, message boxes, run pickers, engine errors as messages."""

from __future__ import annotations

import functools
import html
import inspect
from dataclasses import dataclass
from typing import Any, Callable

import gradio as gr

from components.context import StudioContext
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


# Parameters bind() adds to a handler bound to the studio's context: gradio fills them for every event with the
# request and, on a Space with Hugging Face sign-in, the session's profile and token (never from the page's data).
PERSON_PARAMS = {"_studio_request": gr.Request, "_studio_profile": gr.OAuthProfile | None,
                 "_studio_token": gr.OAuthToken | None}


def bind(handler: Callable, *first: Any) -> Callable:
    """handler with its first arguments filled in (a tab's context), keeping the signature and type hints gradio
    reads for the rest (a `request: gr.Request` parameter is filled by gradio): handlers live as named functions
    beside the builders that wire them.

    A first argument that is the studio's context is replaced, for each event, by that context acting for the
    person behind the event (StudioContext.for_person, with the person its Identity finds in the request): a
    handler never sees or changes what that person may not, whatever ids an API client sends."""
    sig = inspect.signature(handler)
    params = list(sig.parameters.values())[len(first):]
    scoped = bool(first) and isinstance(first[0], StudioContext)
    if scoped:
        ctx = first[0]
        cut = next((i for i, p in enumerate(params) if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)),
                   len(params))
        added = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=tp)
                 for name, tp in PERSON_PARAMS.items()]
        params = params[:cut] + added + params[cut:]  # after the event's positional inputs, before keyword ones
    new_sig = sig.replace(parameters=params)

    def call_args(args, kwargs) -> tuple[tuple, dict]:
        if not scoped:
            return (*first, *args), kwargs
        bound_args = new_sig.bind_partial(*args, **kwargs)
        got = {name: bound_args.arguments.pop(name, None) for name in PERSON_PARAMS}
        person = ctx.identity.person(got["_studio_request"], got["_studio_profile"], got["_studio_token"])
        return (ctx.for_person(person), *first[1:], *bound_args.args), bound_args.kwargs

    if inspect.isgeneratorfunction(handler):
        @functools.wraps(handler)
        def bound(*args, **kwargs):
            a, k = call_args(args, kwargs)
            yield from handler(*a, **k)
    else:
        @functools.wraps(handler)
        def bound(*args, **kwargs):
            a, k = call_args(args, kwargs)
            return handler(*a, **k)
    bound.__signature__ = new_sig
    if scoped:
        bound.__annotations__ = {**getattr(handler, "__annotations__", {}), **PERSON_PARAMS}
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
