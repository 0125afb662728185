"""Who the page acts for, end to end: a Space's Hugging Face sign-in (a signed session, as Gradio's OAuth leaves it)
and the read-only demo of a Space started with --no-login."""

from __future__ import annotations

import base64
import hashlib
import json
import time

import httpx
import pytest

from components.identity import Identity
from studio.base.access import EVERYONE, Person
from studio.config import RunConfig
from studio.runs.store import Store
from tests.components.ui_support import as_upload, running_app, stop_active_runs
from tests.support import SUPPORT_TICKETS, tiny_config

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

pytestmark = pytest.mark.slow


def _queued_run(store: Store, model, name: str) -> str:
    """A run created for `name` (or the machine, for None) that never trains: only its listing matters here."""
    person = Person(name) if name else None
    s = store.as_person(person) if person else store
    csv = SUPPORT_TICKETS
    if person:
        from studio.data.uploads import uploads_dir

        folder = uploads_dir(store.root, person)
        folder.mkdir(parents=True, exist_ok=True)
        csv = folder / "tickets.csv"
        csv.write_bytes(SUPPORT_TICKETS.read_bytes())
    return s.create(RunConfig.from_dict(tiny_config(model, csv)), start=False)


def _call(h: httpx.Client, api_name: str, data: list) -> str:
    r = h.post(f"gradio_api/call{api_name}", json={"data": data})
    assert r.status_code == 200, r.text
    return h.get(f"gradio_api/call{api_name}/{r.json()['event_id']}").text


def signed_session(secret: str, session: dict) -> str:
    """The cookie Starlette's SessionMiddleware (which Gradio's OAuth installs) reads back as `session`."""
    import itsdangerous

    data = base64.b64encode(json.dumps(session).encode("utf-8"))
    return itsdangerous.TimestampSigner(hashlib.sha256((secret + "-v4").encode()).hexdigest()).sign(data).decode()


@pytest.fixture
def oauth_space(tmp_path, monkeypatch, ui_cache, ui_tiny_model):
    """The app as on a Space with `hf_oauth: true` (the OAuth provider itself is never reached: sessions are made
    here, signed with the Space's secret, as Gradio's callback would leave them)."""
    import gradio.oauth

    # Gradio's OAuth routes as on a Space (its server otherwise stays as here: no Spaces hot-reloading).
    monkeypatch.setattr(gradio.oauth, "get_space", lambda: "someone/studio")
    for name, value in (("OAUTH_CLIENT_ID", "client"), ("OAUTH_CLIENT_SECRET", "space-secret"),
                        ("OAUTH_SCOPES", "openid profile read-repos"), ("OPENID_PROVIDER_URL", "https://hf.invalid")):
        monkeypatch.setattr(gradio.oauth, name, value)
    runs_dir = tmp_path / "runs"
    store = Store(runs_dir)
    alices = _queued_run(store, ui_tiny_model, "alice")
    bobs = _queued_run(store, ui_tiny_model, "bob")
    with running_app(runs_dir, identity=Identity("oauth", admins=frozenset({"carol"})), prewarm=False,
                     upkeep_every=None) as url:
        yield url, alices, bobs
    stop_active_runs(runs_dir)


def _session_for(name: str, token: str = "hf_oauth_token_of_someone") -> dict:
    return {"oauth_info": {"access_token": token, "token_type": "bearer", "scope": "openid profile read-repos",
                           "expires_at": int(time.time()) + 3600,
                           "userinfo": {"preferred_username": name, "name": name, "profile": "", "picture": ""}}}


def test_each_person_signed_in_with_hugging_face_sees_their_own_and_a_visitor_a_demo(oauth_space):
    url, alices, bobs = oauth_space
    page = httpx.get(url, timeout=10).text
    assert "login/huggingface" in page or "studio-login" in page  # the Sign in button is on the page
    seen = {}
    for name in ("alice", "bob", "carol", None):
        cookies = {"session": signed_session("space-secret", _session_for(name))} if name else {}
        with httpx.Client(base_url=url, cookies=cookies, timeout=30) as h:
            seen[name] = _call(h, "/list_runs", [[], None])
    assert alices in seen["alice"] and bobs not in seen["alice"]
    assert bobs in seen["bob"] and alices not in seen["bob"]
    assert alices in seen["carol"] and bobs in seen["carol"]  # an admin (--admin carol)
    assert alices not in seen[None] and bobs not in seen[None]  # not signed in: the read-only demo
    # A session signed with another secret is nobody's.
    forged = {"session": signed_session("not-the-secret", _session_for("alice"))}
    with httpx.Client(base_url=url, cookies=forged, timeout=30) as h:
        assert alices not in _call(h, "/list_runs", [[], None])


@pytest.fixture
def demo(tmp_path, ui_cache, ui_tiny_model):
    runs_dir = tmp_path / "runs"
    store = Store(runs_dir)
    shared, private = _queued_run(store, ui_tiny_model, None), _queued_run(store, ui_tiny_model, None)
    store.share(shared, (EVERYONE,))
    with running_app(runs_dir, identity=Identity("demo"), prewarm=False, upkeep_every=None) as url:
        yield url, runs_dir, shared, private
    stop_active_runs(runs_dir)


def test_a_read_only_demo_shows_what_is_shared_and_changes_nothing(demo, ui_tiny_model, tmp_path):
    url, runs_dir, shared, private = demo
    client = Client(url, verbose=False)
    listed = [row[0] for row in client.predict(api_name="/list_runs")[0]["data"]]
    assert listed == [shared]
    for call in (lambda: client.predict(model_custom=str(ui_tiny_model), api_name="/start_run"),
                 lambda: client.predict(shared, api_name="/delete_run"),
                 lambda: client.predict(shared, api_name="/stop_run"),
                 lambda: client.predict(shared, "everyone", api_name="/share_run")):
        with pytest.raises(Exception, match="read-only demo"):
            call()
    with pytest.raises(Exception, match="read-only demo"):
        client.predict(handle_file(as_upload(SUPPORT_TICKETS)), api_name="/upload_data")
    with pytest.raises(Exception, match=f"No run {private} on this server"):
        client.predict(private, api_name="/run_status")
    assert sorted(r["id"] for r in Store(runs_dir).list()) == sorted([shared, private])
    assert not (runs_dir / "uploads").exists() or not list((runs_dir / "uploads").rglob("*.csv"))
