"""The OpenAI-compatible endpoint: `studio serve` answering OpenAI's own Python client (whole and streamed answers,
stop strings, a dropped stream, keys), runs of one base sharing it, and a sentence for every bad request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from studio.base.api_keys import ApiKeys
from studio.config import RunConfig
from studio.runs.store import Store
from studio.serve import inference
from studio.serve.openai_api import ApiError, _cut_at_stop, _held_back, parse_request
from studio.serve.shared_bases import ServedRuns
from tests.components.ui_support import free_port
from tests.support import train_to_completion

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "assets" / "samples" / "sft_sample.jsonl"
QUESTION = [{"role": "user", "content": "Say the number 3."}]


def sft(model: Path, lr: float) -> RunConfig:
    return RunConfig.from_dict({"task": "sft", "model": str(model), "method": "lora",
                                "data": {"train": str(SAMPLE), "max_rows": 16},
                                "training": {"epochs": 1, "batch_size": 8, "max_length": 48, "device": "cpu",
                                             "learning_rate": lr, "max_new_tokens": 8, "sample_prompts": 0}})


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, tiny_llama):
    """Two LoRA runs on the same tiny Llama, trained differently."""
    store = Store(tmp_path_factory.mktemp("serve-runs"))
    return store, [train_to_completion(store, sft(tiny_llama, lr)) for lr in (3e-3, 3e-2)]


@pytest.fixture(scope="module")
def server(two_runs):
    """`studio serve` on loopback with a key, as a person would start it."""
    store, runs = two_runs
    port = free_port()
    env = {**os.environ, "STUDIO_API_KEY": "sk-test-the-servers-own"}
    proc = subprocess.Popen([sys.executable, "-m", "studio.cli", "--runs-dir", str(store.root), "serve", *runs,
                             "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    url = f"http://127.0.0.1:{port}/v1"
    import httpx

    deadline = time.time() + 90
    while True:
        try:
            httpx.get(url + "/models", timeout=2)
            break
        except httpx.TransportError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail(f"studio serve did not start: {proc.stdout.read()}")
            time.sleep(0.3)
    yield url, store, runs
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:  # a server that does not stop when asked is a failure, and no leftover
        proc.kill()
        proc.wait()
        pytest.fail("studio serve did not stop within 30 s of SIGTERM")


def client(url: str, key: str = "sk-test-the-servers-own"):
    from openai import OpenAI

    return OpenAI(base_url=url, api_key=key, max_retries=0, timeout=120)


def test_the_openai_client_lists_the_runs_and_gets_each_runs_own_answer(server):
    url, store, runs = server
    api = client(url)
    assert sorted(m.id for m in api.models.list().data) == sorted(runs)
    for run_id in runs:
        got = api.chat.completions.create(model=run_id, messages=QUESTION, max_tokens=8)
        want = inference.load(store.run_dir(run_id)).predict(["Say the number 3."], max_new_tokens=8)[0]["output"]
        assert got.choices[0].message.content == want, run_id  # greedy: the run's own answer, token for token
        # Cut at max_tokens is "length", an answer that ended by itself "stop"; usage counts what was sent.
        assert got.choices[0].finish_reason == ("length" if got.usage.completion_tokens >= 8 else "stop"), got
        assert 0 < got.usage.completion_tokens <= 8 and got.usage.prompt_tokens > len(QUESTION[0]["content"].split())
    streamed = api.chat.completions.create(model=runs[0], messages=QUESTION, max_tokens=8, stream=True)
    chunks = [c.choices[0].delta.content or "" for c in streamed if c.choices]
    whole = api.chat.completions.create(model=runs[0], messages=QUESTION, max_tokens=8).choices[0].message.content
    assert "".join(chunks) == whole and len([c for c in chunks if c]) >= 2, "streamed piece by piece"


def test_a_stop_string_ends_the_answer_before_it(server):
    url, _, runs = server
    api = client(url)
    whole = api.chat.completions.create(model=runs[1], messages=QUESTION, max_tokens=8).choices[0].message.content
    assert len(whole) > 3
    stop = whole[2:4]
    cut = api.chat.completions.create(model=runs[1], messages=QUESTION, max_tokens=8, stop=[stop])
    assert cut.choices[0].message.content == whole[:whole.find(stop)] and cut.choices[0].finish_reason == "stop"
    streamed = api.chat.completions.create(model=runs[1], messages=QUESTION, max_tokens=8, stop=stop, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == whole[:whole.find(stop)]


def test_a_dropped_stream_frees_the_model_for_the_next_request(server):
    url, _, runs = server
    api = client(url)
    stream = api.chat.completions.create(model=runs[0], messages=QUESTION, max_tokens=400, stream=True)
    next(iter(stream))
    stream.close()  # the client goes away mid-answer
    t0 = time.time()
    answer = api.chat.completions.create(model=runs[0], messages=QUESTION, max_tokens=4)
    assert answer.choices[0].message.content is not None and time.time() - t0 < 60


def test_bad_requests_and_keys_get_openais_error_shape(server):
    import httpx
    import openai

    url, store, runs = server
    with pytest.raises(openai.AuthenticationError, match="not one of this server's"):
        client(url, key="sk-studio-made-up").models.list()
    answer = httpx.get(url + "/models")
    assert answer.status_code == 401 and "Give an API key" in answer.json()["error"]["message"]
    with pytest.raises(openai.NotFoundError, match="No run 'nope' that you may use"):
        client(url).chat.completions.create(model="nope", messages=QUESTION)
    bad = httpx.post(url + "/chat/completions", headers={"Authorization": "Bearer sk-test-the-servers-own"},
                     json={"model": runs[0], "messages": QUESTION, "temperature": 7})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "temperature"
    key = ApiKeys(store.root).create("dana", "tests")  # a person's own key works where the server's does
    assert client(url, key).models.list().data == []  # dana sees none of the machine's runs


@pytest.mark.parametrize("body,param", [
    ({"messages": QUESTION}, "model"),
    ({"model": "r", "messages": []}, "messages"),
    ({"model": "r", "messages": [{"role": "robot", "content": "hi"}]}, "messages"),
    ({"model": "r", "messages": [{"role": "user", "content": 3}]}, "messages"),
    ({"model": "r", "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]},
     "messages"),
    ({"model": "r", "messages": QUESTION, "max_tokens": 0}, "max_tokens"),
    ({"model": "r", "messages": QUESTION, "max_tokens": True}, "max_tokens"),
    ({"model": "r", "messages": QUESTION, "top_p": 1.5}, "top_p"),
    ({"model": "r", "messages": QUESTION, "stop": ["a"] * 5}, "stop"),
    ({"model": "r", "messages": QUESTION, "stop": [""]}, "stop"),
    ({"model": "r", "messages": QUESTION, "n": 2}, "n"),
    ({"model": "r", "messages": QUESTION, "stream": "yes"}, "stream"),
])
def test_each_bad_field_is_named(body, param):
    with pytest.raises(ApiError) as err:
        parse_request(body)
    assert err.value.status == 400 and err.value.param == param


def test_text_parts_and_defaults_are_read():
    req = parse_request({"model": " r ", "messages": [{"role": "user", "content": [{"type": "text", "text": "a"},
                                                                                   {"type": "text", "text": "b"}]}],
                         "stop": "END", "max_completion_tokens": 5})
    assert (req.model, req.messages[0]["content"], req.stop, req.max_tokens, req.stream) == ("r", "ab", ["END"], 5,
                                                                                           False)


def test_text_that_could_still_become_a_stop_string_is_held_back():
    assert _cut_at_stop("hello END there", ["END"]) == ("hello ", True)
    assert _held_back("hello EN", ["END"]) == 2 and _held_back("hello", ["END"]) == 0


def test_runs_of_one_base_share_it_and_each_answers_with_its_own_adapter(two_runs):
    store, runs = two_runs
    served = ServedRuns()
    loaded = [served.get(store.run_dir(r)) for r in runs]
    assert served.bases_loaded() == 1 and loaded[0].model is loaded[1].model, "one base in memory"
    answers = []
    for run_id, run in zip(runs, loaded):
        want = inference.LoadedRun(store.run_dir(run_id)).predict(["Say the number 3."], max_new_tokens=8)
        assert run.predict(["Say the number 3."], max_new_tokens=8) == want, run_id
        answers.append(want)
    assert answers[0] != answers[1], "the two runs answer differently, so a wrong adapter would show"
    assert loaded[0].predict(["Say the number 3."], base=True, max_new_tokens=8) == loaded[1].predict(
        ["Say the number 3."], base=True, max_new_tokens=8), "the base answers alike, whichever adapter was on"


def test_serve_refuses_what_it_cannot_serve(two_runs, finished_run, capsys, monkeypatch):
    from studio import cli

    store, runs = two_runs
    assert cli.main(["--runs-dir", str(store.root), "serve", runs[0], "--host", "0.0.0.0"]) == 2
    assert "set STUDIO_API_KEY" in capsys.readouterr().err
    cls_store, cls_run, _ = finished_run
    assert cli.main(["--runs-dir", str(cls_store.root), "serve", cls_run]) == 2
    assert "only completed runs of a chat task answer" in capsys.readouterr().err
    monkeypatch.setattr("studio.serve.vllm_backend.find_spec", lambda name: None)
    assert cli.main(["--runs-dir", str(store.root), "serve", runs[0], "--backend", "vllm"]) == 2
    assert "vLLM is not installed on this machine" in capsys.readouterr().err


def test_a_studio_without_logins_answers_without_a_key_as_the_machine(two_runs):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from studio.base.access import LOCAL
    from studio.runs.endpoint import endpoint_routes

    store, runs = two_runs
    local = TestClient(FastAPI(routes=endpoint_routes(store.root, without_key=LOCAL)))
    assert sorted(m["id"] for m in local.get("/v1/models").json()["data"]) == sorted(runs)
    any_text = local.get("/v1/models", headers={"Authorization": "Bearer none"})  # what clients that need a key send
    assert any_text.status_code == 200 and len(any_text.json()["data"]) == 2
    keyed = TestClient(FastAPI(routes=endpoint_routes(store.root)))
    assert keyed.get("/v1/models").status_code == 401


def test_a_person_past_their_requests_at_once_is_refused_and_others_are_not(two_runs):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from studio.base.access import Person
    from studio.runs.endpoint import completions_for
    from studio.serve.openai_api import Slots, routes

    store, runs = two_runs
    slots = Slots(per_person=2, total=3)
    keys = {"sk-studio-alice": Person("alice"), "sk-studio-bob": Person("bob")}
    api = TestClient(FastAPI(routes=routes(completions_for(store.root), keys.get, slots=slots)))
    body = {"model": runs[0], "messages": QUESTION, "max_tokens": 2}
    slots.take(Person("alice"))
    slots.take(Person("alice"))  # two of alice's requests under way
    busy = api.post("/v1/chat/completions", json=body, headers={"Authorization": "Bearer sk-studio-alice"})
    assert busy.status_code == 429 and busy.json()["error"]["type"] == "rate_limit_error"
    # bob's request is not alice's: it is answered (404: he may not use the machine's run), and frees its slot
    assert api.post("/v1/chat/completions", json=body,
                    headers={"Authorization": "Bearer sk-studio-bob"}).status_code == 404
    assert slots.held == {"alice": 2}
    slots.take(Person("carol"))  # the server's three are taken
    full = api.post("/v1/chat/completions", json=body, headers={"Authorization": "Bearer sk-studio-bob"})
    assert full.status_code == 429 and "as many requests as it can" in full.json()["error"]["message"]
    huge = api.post("/v1/chat/completions", content=b"{" + b" " * (3 * 1024 * 1024) + b"}",
                    headers={"Authorization": "Bearer sk-studio-bob", "content-type": "application/json"})
    assert huge.status_code == 413
    # A form or text/plain post needs no CORS preflight: a web page could send it to a keyless local studio.
    plain = api.post("/v1/chat/completions", content=json.dumps(body).encode(),
                     headers={"Authorization": "Bearer sk-studio-bob", "content-type": "text/plain"})
    assert plain.status_code == 415
    deep = api.post("/v1/chat/completions", content=b"[" * 100_000 + b"]" * 100_000,
                    headers={"Authorization": "Bearer sk-studio-bob", "content-type": "application/json"})
    assert deep.status_code == 400


def test_answered_requests_give_their_slots_back_streamed_or_not(two_runs):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from studio.base.access import LOCAL
    from studio.runs.endpoint import completions_for
    from studio.serve.openai_api import Slots, routes
    from tests.support import wait_for

    store, runs = two_runs
    slots = Slots(per_person=1, total=1)
    api = TestClient(FastAPI(routes=routes(completions_for(store.root), lambda key: None, without_key=LOCAL,
                                           slots=slots)))
    for stream in (True, False, True):  # one slot: each answer must free it for the next
        answer = api.post("/v1/chat/completions", json={"model": runs[0], "messages": QUESTION, "max_tokens": 3,
                                                         "stream": stream})
        assert answer.status_code == 200
        wait_for(lambda: not slots.held, timeout=30, what="the slot given back")


def test_a_stream_is_made_whether_or_not_the_client_reads_and_ends_when_it_goes_away():
    """The generation never waits on its client (a client that stops reading would hold the model's lock), and
    stops at its next piece once the client went away."""
    import asyncio

    from studio.serve.openai_api import _relayed

    made, closed, done = [], threading.Event(), threading.Event()

    def endless():
        try:
            while True:
                made.append(1)
                yield "piece"
        finally:
            closed.set()

    def finite():
        try:
            for _ in range(50):
                made.append(1)
                yield "piece"
        finally:
            closed.set()

    async def read_one_then_go_away(events):
        relayed = _relayed(events, done.set)
        assert await relayed.__anext__() == "piece"
        await relayed.aclose()

    asyncio.run(read_one_then_go_away(endless()))
    assert closed.wait(10) and done.wait(10), "the generation ended and its slot came back"

    made.clear()
    closed.clear()
    done.clear()

    async def read_one_then_stall(events):
        relayed = _relayed(events, done.set)
        assert await relayed.__anext__() == "piece"
        assert closed.wait(10), "all 50 pieces were made while nobody read them"
        await relayed.aclose()

    asyncio.run(read_one_then_stall(finite()))
    assert len(made) == 50 and done.wait(10)
