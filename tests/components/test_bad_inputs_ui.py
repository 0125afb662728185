"""The bad-input corpus (tests/bad_inputs) through the page's own API, and the page's security.

One app for the module. Data cases go through /upload_data (the upload and data check the Data tab
runs); config cases through /load_config (a config file) or, for models, /start_run. Each must show the
case's message as an error (never a traceback) and leave no run folder or registry row. Then: basic
auth guards the page and every API route, and every endpoint that takes a run id refuses a path.
"""

from __future__ import annotations

import html
from pathlib import Path

import httpx
import pytest
import yaml

from studio.base.entity import RUNS
from studio.runs.store import Store
from tests.bad_inputs import CASES, Case
from tests.components.ui_support import SAMPLE, running_app

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

UI_CASES = [c for c in CASES if c.ui]


def nothing_created(runs_dir: Path) -> None:
    leftovers = [p.name for p in runs_dir.iterdir() if RUNS.is_id(p.name) or p.name.startswith(".creating-")]
    assert leftovers == [] and Store(runs_dir).list() == []


def text_of(html_message: str) -> str:
    return html.unescape(html_message)


@pytest.mark.parametrize("case", UI_CASES, ids=[c.id for c in UI_CASES])
def test_bad_input_in_the_page(case: Case, app, tmp_path, monkeypatch):
    url, runs_dir = app
    for k, v in case.env.items():  # the server runs in this process: it sees the case's environment
        monkeypatch.setenv(k, v)
    client = Client(url, verbose=False)
    if case.surface == "data":
        path, over = case.make(tmp_path)
        assert not over, "the page takes only a file"
        out = client.predict(handle_file(str(path)), task=case.task, api_name="/upload_data")
        status, warnings = out[0], out[4]
        if case.kind is None:
            assert "studio-msg-ok" in status and "Ready" in status, status
            for phrase in case.fragments:
                assert phrase in text_of(warnings), warnings
        else:
            assert "studio-msg-error" in status, status
            msg = text_of(status)
            for phrase in case.fragments:
                assert phrase in msg, (case.id, phrase, msg)
            assert "Traceback" not in msg and "uploads" not in msg
    elif case.kind == "ModelError":  # a model is named in the Model tab and checked on Start
        raw = case.make(tmp_path)
        client.predict("support_tickets.csv", api_name="/use_sample")
        with pytest.raises(Exception) as err:
            client.predict(model_custom=raw["model"], api_name="/start_run")
        msg = text_of(str(err.value))
        for phrase in case.fragments:
            assert phrase in msg, (case.id, phrase, msg)
        assert "Traceback" not in msg
    else:  # a config file loaded into the form
        cfg = tmp_path / "run.yaml"
        cfg.write_text(yaml.safe_dump(case.make(tmp_path)), encoding="utf-8")
        out = client.predict(handle_file(str(cfg)), api_name="/load_config")
        status = out[-1]
        assert "studio-msg-error" in status, status
        for phrase in case.fragments:
            assert phrase in text_of(status), (case.id, phrase, status)
    nothing_created(runs_dir)


def test_every_run_id_parameter_refuses_paths(app, tmp_path):
    """Every endpoint that takes a run id answers '../' with 'is not a run id' and reads nothing."""
    url, runs_dir = app
    client = Client(url, verbose=False)
    csv = tmp_path / "texts.csv"
    csv.write_text("text\nhello\n", encoding="utf-8")
    extra = {"text": "hello", "typed": "hello", "message": "hello", "source": "hello", "file": handle_file(str(csv)),
             "repo_id": "someone/model", "token": "hf_x", "question": "hello?",
             "context": "hello", "readers": "someone"}
    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    checked = []
    for name, ep in api.items():
        params = [p["parameter_name"] for p in ep["parameters"]]
        if "run_id" not in params:
            continue
        kwargs = {p: extra[p] for p in params if p in extra}
        try:
            out = client.predict(run_id="../../etc", api_name=name, **kwargs)
            msg = str(out)
        except Exception as e:  # gr.Error
            msg = str(e)
        assert "is not a run id" in text_of(msg), (name, msg[:300])
        checked.append(name)
    assert len(checked) >= 12, checked
    assert {"/predict_entities", "/chat", "/generate", "/answer_question"} <= set(checked), checked
    nothing_created(runs_dir)


@pytest.fixture(scope="module")
def auth_app(tmp_path_factory, ui_cache):
    with running_app(tmp_path_factory.mktemp("auth-runs"), auth=("ann", "s3cret:pw")) as url:
        yield url


def test_basic_auth_guards_the_page_and_every_api_route(auth_app):
    url = auth_app
    page = httpx.get(url, timeout=10)
    # Without a login the page is the login form: none of the studio's own interface is sent.
    assert '"auth_required":true' in page.text.replace(" ", "") and "Start training" not in page.text
    for method, path, body in (("GET", "config", None), ("GET", "gradio_api/info", None),
                               ("POST", "gradio_api/call/run_status", {"data": ["x"]}),
                               ("POST", "gradio_api/run/run_status", {"data": ["x"]}),
                               ("POST", "gradio_api/queue/join", {"data": ["x"], "fn_index": 0, "session_hash": "s"}),
                               ("POST", "gradio_api/upload", None),
                               ("GET", f"gradio_api/file={SAMPLE}", None)):
        r = httpx.request(method, url + path, json=body, timeout=10)
        assert r.status_code == 401, (method, path, r.status_code, r.text[:200])
    with pytest.raises(Exception, match="credentials were not provided"):
        Client(url, verbose=False)
    with pytest.raises(Exception, match="Could not login"):
        Client(url, auth=("ann", "wrong"), verbose=False)

    client = Client(url, auth=("ann", "s3cret:pw"), verbose=False)
    out = client.predict("support_tickets.csv", api_name="/use_sample")
    assert "Ready" in out[0]
    with httpx.Client(timeout=10) as h:
        assert h.post(url + "login", data={"username": "ann", "password": "s3cret:pw"}).status_code == 200
        assert "Start training" in h.get(url).text and h.get(url + "config").status_code == 200
