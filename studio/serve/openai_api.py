"""An OpenAI-compatible endpoint for finished chat runs: `/v1/models` and `/v1/chat/completions`.

Any program written for OpenAI's API (its Python and JS clients, LangChain, curl) calls a tuned model by pointing
its base URL at the studio and naming a run id as the model. It runs on the app's own server (beside the page, the
same runs folder, the same people) and standalone (`studio serve RUN`). Every request says who it is with an API
key (`Authorization: Bearer sk-studio-...`, studio.base.api_keys) and sees only the runs that person may see; a
server of one person on their own machine may let requests without a key act as that machine.

Request fields are checked here, on the server: a bad one is answered 400 with OpenAI's error shape naming the
field. Answers stream as server-sent events (`stream: true`) or come whole; a client that goes away stops its
generation at the next token.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from studio.base.access import Person
from studio.base.errors import USER_ERRORS, InferenceError
from studio.serve.playground import Chat

MAX_MESSAGES = 200
MAX_STOPS = 4
MAX_STOP_CHARS = 64
MAX_TOKENS_CAP = 4096
MAX_BODY_BYTES = 2 * 1024 * 1024   # a request body; the chat is cut to the model's context afterwards anyway
PER_PERSON = 4                     # one person's requests answered or waiting at once
ALL_AT_ONCE = 16                   # everyone's: each holds a server thread while it waits for its model


class ApiError(Exception):
    """An answer in OpenAI's error shape: status, message, type, and the field at fault."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.param, self.code = status, message, kind, param, code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


@dataclass
class ChatRequest:
    model: str
    messages: list[dict[str, str]]
    stream: bool = False
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)


def _number(body: dict, name: str, default: float, low: float, high: float) -> float:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ApiError(400, f"'{name}' must be a number from {low:g} to {high:g}.", param=name)
    return float(value)


def parse_request(body: Any) -> ChatRequest:
    """The request's fields, each checked; ApiError(400) naming the first that is wrong."""
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ApiError(400, "'model' must name a run (its id, as /v1/models lists it).", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty list of {role, content}.", param="messages")
    if len(messages) > MAX_MESSAGES:
        raise ApiError(400, f"'messages' holds at most {MAX_MESSAGES} messages.", param="messages")
    clean = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant"):
            raise ApiError(400, f"messages[{i}] must have a role of system, user or assistant.", param="messages")
        content = m.get("content")
        if isinstance(content, list):  # OpenAI's content parts: the text ones are what a text model reads
            content = "".join(p["text"] for p in content if isinstance(p, dict) and p.get("type") == "text"
                              and isinstance(p.get("text"), str))
        if not isinstance(content, str):
            raise ApiError(400, f"messages[{i}].content must be text.", param="messages")
        clean.append({"role": m["role"], "content": content})
    if clean[-1]["role"] == "assistant":
        raise ApiError(400, "The last message must be the user's (or system's): the model answers it.",
                       param="messages")
    n = body.get("n", 1)
    if n not in (1, None):
        raise ApiError(400, "'n' must be 1: one answer per request.", param="n")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "'stream' must be true or false.", param="stream")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                   or not 1 <= max_tokens <= MAX_TOKENS_CAP):
        raise ApiError(400, f"'max_tokens' must be a whole number from 1 to {MAX_TOKENS_CAP}.", param="max_tokens")
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else [] if stop is None else None
    if stops is None or len(stops) > MAX_STOPS or not all(isinstance(s, str) and 0 < len(s) <= MAX_STOP_CHARS
                                                          for s in stops):
        raise ApiError(400, f"'stop' must be a text or a list of at most {MAX_STOPS} texts of 1-{MAX_STOP_CHARS} "
                            "characters.", param="stop")
    return ChatRequest(model=model.strip(), messages=clean, stream=stream,
                       temperature=_number(body, "temperature", 0.0, 0.0, 2.0),
                       top_p=_number(body, "top_p", 1.0, 0.0, 1.0), max_tokens=max_tokens, stop=list(stops))


def _cut_at_stop(text: str, stops: list[str]) -> tuple[str, bool]:
    """The text up to the first stop string (not included), and whether one was found."""
    cuts = [text.find(s) for s in stops if s in text]
    return (text[:min(cuts)], True) if cuts else (text, False)


def _held_back(text: str, stops: list[str]) -> int:
    """How many characters at the end of a growing text could still become a stop string: not sent yet."""
    held = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:k]):
                held = max(held, k)
                break
    return held


class Completions:
    """Answers chat requests with runs the asking person may see."""

    def __init__(self, run_dir_of: Callable[[Person, str], Path], runs_of: Callable[[Person], list[dict[str, Any]]],
                 served):
        self.run_dir_of = run_dir_of   # (person, run id) -> folder, or a USER_ERROR when missing or not theirs
        self.runs_of = runs_of         # person -> their completed chat runs ({id, created, owner})
        self.served = served           # shared_bases.ServedRuns

    def models(self, person: Person) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": r["id"], "object": "model", "created": int(r.get("created") or 0),
                                            "owned_by": r.get("owner") or "studio"} for r in self.runs_of(person)]}

    def _loaded(self, person: Person, run_id: str):
        try:
            run_dir = self.run_dir_of(person, run_id)
        except USER_ERRORS:
            raise ApiError(404, f"No run {run_id!r} that you may use; /v1/models lists yours.", param="model",
                           code="model_not_found") from None
        try:
            loaded = self.served.get(run_dir)
        except USER_ERRORS as e:
            raise ApiError(400, str(e), param="model") from None
        if loaded.task.capability(Chat) is None:
            raise ApiError(400, f"Run {run_id} is a {loaded.task.texts.title.en} run; it does not chat.",
                           param="model")
        return loaded

    def _chunks(self, loaded, req: ChatRequest, counts: dict) -> Iterator[tuple[str, str | None]]:
        """(new text, finish reason or None) as the answer grows; the last has its reason. `counts` gets the tokens
        the model saw (prompt, generated, whether it ended on a stop token)."""
        settings = {"temperature": req.temperature, "top_p": req.top_p, "counts": counts}
        if req.max_tokens is not None:
            settings["max_new_tokens"] = req.max_tokens
        sent = ""
        answer = ""
        stream = loaded.stream(req.messages, **settings)
        try:
            for answer in stream:
                text, stopped = _cut_at_stop(answer, req.stop)
                ready = text if stopped else text[:len(text) - _held_back(text, req.stop)]
                if len(ready) > len(sent):
                    yield ready[len(sent):], None
                    sent = ready
                if stopped:
                    yield "", "stop"
                    return
        except InferenceError as e:
            raise ApiError(400, str(e), param="messages") from None
        finally:
            stream.close()  # a client gone, or a stop string: the generation ends at its next token
        # Not ended on a stop token: the generation ran to its limit (max_tokens, or half the run's context).
        yield answer[len(sent):], "stop" if counts.get("ended") else "length"

    def complete(self, person: Person, req: ChatRequest) -> dict[str, Any]:
        loaded = self._loaded(person, req.model)
        parts, reason, counts = [], "stop", {}
        for text, why in self._chunks(loaded, req, counts):
            parts.append(text)
            reason = why or reason
        content = "".join(parts)
        prompt, completion = int(counts.get("prompt", 0)), int(counts.get("generated", 0))
        return {"id": "chatcmpl-" + uuid.uuid4().hex, "object": "chat.completion", "created": int(time.time()),
                "model": req.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "finish_reason": reason}],
                "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                          "total_tokens": prompt + completion}}

    def stream(self, person: Person, req: ChatRequest) -> Iterator[str]:
        """Server-sent events, each a chat.completion.chunk; ends with data: [DONE]. The run is looked up before
        the first event, so a missing one is an ordinary error answer."""
        loaded = self._loaded(person, req.model)
        head = {"id": "chatcmpl-" + uuid.uuid4().hex, "object": "chat.completion.chunk",
                "created": int(time.time()), "model": req.model}

        def events() -> Iterator[str]:
            yield _event({**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                               "finish_reason": None}]})
            try:
                for text, why in self._chunks(loaded, req, {}):
                    if text:
                        yield _event({**head, "choices": [{"index": 0, "delta": {"content": text},
                                                           "finish_reason": None}]})
                    if why:
                        yield _event({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": why}]})
            except ApiError as e:
                yield _event(e.body())
            yield "data: [DONE]\n\n"

        return events()


def _event(data: dict[str, Any]) -> str:
    return "data: " + json.dumps(data, ensure_ascii=False) + "\n\n"


class _Once:
    """A function that runs on its first call only."""

    def __init__(self, fn: Callable[[], None]):
        self.fn, self.lock = fn, threading.Lock()

    def __call__(self) -> None:
        with self.lock:
            fn, self.fn = self.fn, None
        if fn is not None:
            fn()


class _Relay:
    """A stream's events made by a thread of their own as fast as the model gives them, whether or not the client
    reads them: the generation, and the model's lock it holds, never waits on a client that stopped reading (what is
    made waits here, at most max_tokens of text). Cancelling, when the client went away, ends the generation at its
    next token."""

    def __init__(self, events: Iterator[str], done: Callable[[], None]):
        self.items: queue.SimpleQueue = queue.SimpleQueue()
        self.cancelled = threading.Event()
        threading.Thread(target=self._make, args=(events, done), daemon=True).start()

    def _make(self, events: Iterator[str], done: Callable[[], None]) -> None:
        try:
            for item in events:
                if self.cancelled.is_set():
                    break
                self.items.put(item)
        except Exception:  # noqa: BLE001 - the stream ends; events() already answered the errors it knows
            pass
        finally:
            try:
                events.close()  # the generation ends at its next token and the model is free again
            finally:
                self.items.put(None)
                done()  # the request's slot is free once its generation has ended


async def _relayed(events: Iterator[str], done: Callable[[], None]):
    relay = _Relay(events, done)
    try:
        while (item := await run_in_threadpool(relay.items.get)) is not None:
            yield item
    finally:
        relay.cancelled.set()  # also when the client went away: the response is cancelled here


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    kind, _, value = header.partition(" ")
    return value.strip() if kind.lower() == "bearer" and value.strip() else None


class Slots:
    """How many chat requests each person, and everyone, has answered or waiting: a request past either bound is
    refused at once (429) rather than holding one of the server's threads while it waits for a model, so one
    person's flood of requests cannot starve the others or the page."""

    def __init__(self, per_person: int = PER_PERSON, total: int = ALL_AT_ONCE):
        self.per_person, self.total = per_person, total
        self.held: dict[str, int] = {}
        self.lock = threading.Lock()

    def take(self, person: Person) -> None:
        with self.lock:
            mine = self.held.get(person.name, 0)
            if mine >= self.per_person:
                raise ApiError(429, f"You have {mine} requests under way; wait for one to finish.",
                               kind="rate_limit_error", code="too_many_requests")
            if sum(self.held.values()) >= self.total:
                raise ApiError(429, "The server is answering as many requests as it can; try again shortly.",
                               kind="rate_limit_error", code="server_busy")
            self.held[person.name] = mine + 1

    def give(self, person: Person) -> None:
        with self.lock:
            left = self.held.get(person.name, 0) - 1
            if left > 0:
                self.held[person.name] = left
            else:
                self.held.pop(person.name, None)


def routes(completions: Completions, person_of_key: Callable[[str], Person | None],
           without_key: Person | None = None, slots: Slots | None = None) -> list:
    """The endpoint's FastAPI routes. person_of_key turns an API key into its person; without_key is who a request
    with no key acts as (the machine itself on a one-person server), or None where every request needs a key;
    slots bounds the requests under way."""
    router = APIRouter(prefix="/v1")
    slots = slots or Slots()

    def who(request: Request) -> Person:
        key = bearer(request.headers.get("authorization"))
        if key is None:
            if without_key is not None:
                return without_key
            raise ApiError(401, "Give an API key (Authorization: Bearer sk-studio-...); make one on the Export tab "
                                "or with `studio keys add NAME`.", kind="authentication_error",
                           code="invalid_api_key")
        person = person_of_key(key)
        if person is None and without_key is not None:
            return without_key  # where no key is needed, clients that must send one send any text ("none")
        if person is None:
            raise ApiError(401, "That API key is not one of this server's (it may have been removed).",
                           kind="authentication_error", code="invalid_api_key")
        return person

    def failed(e: ApiError) -> JSONResponse:
        return JSONResponse(e.body(), status_code=e.status)

    @router.get("/models")
    async def list_models(request: Request):
        try:
            person = who(request)
            return JSONResponse(await run_in_threadpool(completions.models, person))
        except ApiError as e:
            return failed(e)

    async def read_body(request: Request) -> Any:
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            # A web page can send other types to this server without the browser asking first (no CORS preflight).
            raise ApiError(415, "Send the request as JSON (Content-Type: application/json).")
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise ApiError(413, f"The request body is over {MAX_BODY_BYTES // (1024 * 1024)} MB.")
        raw = b""
        async for part in request.stream():
            raw += part
            if len(raw) > MAX_BODY_BYTES:
                raise ApiError(413, f"The request body is over {MAX_BODY_BYTES // (1024 * 1024)} MB.")
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            raise ApiError(400, "The request body is not JSON (or is nested too deeply).") from None

    @router.post("/chat/completions")
    async def chat_completions(request: Request):
        try:
            person = who(request)
            req = parse_request(await read_body(request))
            slots.take(person)
        except ApiError as e:
            return failed(e)
        try:
            if req.stream:
                events = await run_in_threadpool(completions.stream, person, req)
                free = _Once(lambda: slots.give(person))
                relayed = _relayed(events, free)
                weakref.finalize(relayed, free)  # a response dropped before its first piece frees its slot too
                return StreamingResponse(relayed, media_type="text/event-stream")
            answer = await run_in_threadpool(completions.complete, person, req)
            slots.give(person)
            return JSONResponse(answer)
        except ApiError as e:
            slots.give(person)
            return failed(e)
        except BaseException:
            slots.give(person)
            raise

    return list(router.routes)
