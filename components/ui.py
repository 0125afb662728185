"""Small pieces every tab uses: intro lines, message boxes, run pickers, engine errors as messages."""

from __future__ import annotations

import functools
import html
import inspect
import threading
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


def with_params(sig: inspect.Signature, extra: dict[str, Any]) -> inspect.Signature:
    """sig with parameters gradio fills itself (a request, a profile, ...) after the event's positional inputs and
    before its keyword ones (gradio passes positional inputs in order and inserts special ones by position)."""
    params = list(sig.parameters.values())
    cut = next((i for i, p in enumerate(params) if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)),
               len(params))
    added = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=tp)
             for name, tp in extra.items()]
    return sig.replace(parameters=params[:cut] + added + params[cut:])


def _wrap(handler: Callable, sig: inspect.Signature, call_args: Callable, extra: dict[str, Any]) -> Callable:
    """handler called through call_args(args, kwargs) -> (args, kwargs), with sig as the signature gradio reads;
    a refusal (not theirs, beyond a limit, a read-only demo) reads as its sentence, never as a bare "Error"."""
    if inspect.isgeneratorfunction(handler):
        @functools.wraps(handler)
        def wrapped(*args, **kwargs):
            a, k = call_args(args, kwargs)
            try:
                yield from handler(*a, **k)
            except USER_ERRORS as e:
                raise user_error(e) from None
    else:
        @functools.wraps(handler)
        def wrapped(*args, **kwargs):
            a, k = call_args(args, kwargs)
            try:
                return handler(*a, **k)
            except USER_ERRORS as e:
                raise user_error(e) from None
    wrapped.__signature__ = sig
    if extra:
        wrapped.__annotations__ = {**getattr(handler, "__annotations__", {}), **extra}
    return wrapped


def bind(handler: Callable, *first: Any) -> Callable:
    """handler with its first arguments filled in (a tab's context), keeping the signature and type hints gradio
    reads for the rest (a `request: gr.Request` parameter is filled by gradio): handlers live as named functions
    beside the builders that wire them.

    A first argument that is the studio's context is replaced, for each event, by that context acting for the
    person behind the event (StudioContext.for_person, with the person its Identity finds in the request): a
    handler never sees or changes what that person may not, whatever ids an API client sends."""
    sig = inspect.signature(handler)
    sig = sig.replace(parameters=list(sig.parameters.values())[len(first):])
    scoped = bool(first) and isinstance(first[0], StudioContext)
    extra = PERSON_PARAMS if scoped else {}
    new_sig = with_params(sig, extra) if scoped else sig

    def call_args(args, kwargs) -> tuple[tuple, dict]:
        if not scoped:
            return (*first, *args), kwargs
        bound_args = new_sig.bind_partial(*args, **kwargs)
        got = {name: bound_args.arguments.pop(name, None) for name in PERSON_PARAMS}
        ctx = first[0]
        person = ctx.identity.person(got["_studio_request"], got["_studio_profile"], got["_studio_token"])
        return (ctx.for_person(person), *first[1:], *bound_args.args), bound_args.kwargs

    return _wrap(handler, new_sig, call_args, extra)


TURN_PARAM = {"_turn_request": gr.Request}


class _Turns:
    """A first-come lock per browser session: a session's events wait for each other in the order they came, other
    sessions' events do not wait for them. It also keeps the session's latest data choice (the first output of the
    events that make one), for an event whose inputs were read before an earlier one of its session finished."""

    def __init__(self, keep: int = 4096):
        self.mutex = threading.Condition()
        self.next_ticket: dict[str, int] = {}
        self.serving: dict[str, int] = {}
        self.latest: dict[str, tuple[int, Any]] = {}  # session -> (version, its latest data choice)
        self.earlier: dict[str, list[Any]] = {}  # session -> the data choices it made before the latest one
        self.keep = keep

    def take(self, session: str, most: int = 3) -> tuple[int, int]:
        """(ticket, the version of the session's data choice as the event came); a gr.Error when the session has
        `most` events in line already (one session must not hold every slot of a shared queue)."""
        with self.mutex:
            if session and self.next_ticket.get(session, 0) - self.serving.get(session, 0) >= most:
                raise gr.Error("Your earlier file is still being read; wait for it, then try again.",
                               print_exception=False)
            if len(self.next_ticket) > self.keep:  # sessions long gone: forget those with nobody waiting
                for key in [k for k in self.next_ticket if self.serving.get(k) == self.next_ticket[k]]:
                    for table in (self.next_ticket, self.serving, self.latest, self.earlier):
                        table.pop(key, None)
            ticket = self.next_ticket.get(session, 0)
            self.next_ticket[session] = ticket + 1
            self.serving.setdefault(session, ticket)
            return ticket, self.latest.get(session, (0, None))[0]

    def wait(self, session: str, ticket: int) -> None:
        with self.mutex:
            self.mutex.wait_for(lambda: self.serving.get(session, ticket) >= ticket)

    def newer(self, session: str, version: int, given: Any = None) -> tuple[bool, Any]:
        """(whether the event's data choice was replaced, the latest one). Replaced: one was made after the event
        took its ticket, or the event was given one the session had already replaced. The second catches an event
        whose inputs Gradio read in the moment between an earlier event's end and Gradio storing its output."""
        with self.mutex:
            got = self.latest.get(session)
            stale = given is not None and any(given is old for old in self.earlier.get(session, ()))
            return (got is not None and (got[0] > version or stale)), (got[1] if got else None)

    def done(self, session: str, ticket: int, made: Any = None, made_one: bool = False) -> None:
        with self.mutex:
            if made_one:
                version, before = self.latest.get(session, (0, None))
                if before is not None and before is not made:
                    # Kept by identity, not equality: a check may make a choice equal to one made long before.
                    self.earlier[session] = [*self.earlier.get(session, [])[-7:], before]
                self.latest[session] = (version + 1, made)
            self.serving[session] = ticket + 1
            self.mutex.notify_all()


TURNS = _Turns()


def one_turn_per_session(handler: Callable, state: str = "state", makes: type | None = None) -> Callable:
    """handler run one event at a time per browser session, in the order the events came: a check started when the
    Model tab switched the tokenizer never finishes after (and undoes) an upload sent a moment later; other people's
    events meanwhile run beside it (their concurrency is the event's concurrency_limit).

    Gradio reads an event's inputs when it starts, so one that waited for its turn may hold a data choice an earlier
    event of its session has since replaced: its `state` argument is then the session's latest one (the first
    output, an instance of `makes`, of the events before it)."""
    sig = with_params(inspect.signature(handler), TURN_PARAM)
    takes_state = state in sig.parameters
    if inspect.isgeneratorfunction(handler):
        raise TypeError("one_turn_per_session takes plain handlers")

    def call_args(args, kwargs) -> tuple[tuple, dict]:
        bound_args = sig.bind_partial(*args, **kwargs)
        request = bound_args.arguments.pop("_turn_request", None)
        return (bound_args,), {"session": getattr(request, "session_hash", None) or ""}

    def in_turn(bound_args, session: str = ""):
        ticket, version = TURNS.take(session)
        made, made_one = None, False
        try:
            TURNS.wait(session, ticket)
            replaced, latest = TURNS.newer(session, version, bound_args.arguments.get(state) if takes_state else None)
            if takes_state and replaced:
                bound_args.arguments[state] = latest
            out = handler(*bound_args.args, **bound_args.kwargs)
            first = out[0] if isinstance(out, (tuple, list)) and out else None
            if makes is not None and isinstance(first, makes):
                made, made_one = first, True
            return out
        finally:
            TURNS.done(session, ticket, made, made_one)

    functools.update_wrapper(in_turn, handler)
    return _wrap(in_turn, sig, call_args, TURN_PARAM)


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
