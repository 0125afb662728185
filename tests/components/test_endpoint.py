"""The OpenAI-compatible endpoint on the app's own server, with accounts: each API key acts as its person (alice's
program sees and calls only alice's chat runs), a key made on the Export tab works at once, and a request
without a key is refused; on a studio without logins no key is needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.identity import Identity
from studio.base.access import Person
from studio.base.accounts import Accounts
from studio.base.api_keys import ApiKeys
from studio.config import RunConfig
from studio.data.uploads import uploads_dir
from studio.runs.store import Store
from tests.components.ui_support import running_app, stop_active_runs
from tests.support import train_to_completion

openai = pytest.importorskip("openai")
pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw"}
QUESTION = [{"role": "user", "content": "Say the number 3."}]


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_llama):
    runs_dir = tmp_path_factory.mktemp("endpoint-runs")
    store = Store(runs_dir)
    alice = Person("alice")
    folder = uploads_dir(runs_dir, alice)
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "chats.jsonl"
    data.write_bytes((ROOT / "assets" / "samples" / "sft_sample.jsonl").read_bytes())
    cfg = {"task": "sft", "model": str(tiny_llama), "method": "lora", "data": {"train": str(data), "max_rows": 16},
           "training": {"epochs": 1, "batch_size": 8, "max_length": 48, "device": "cpu", "max_new_tokens": 6,
                        "sample_prompts": 0}}
    run_id = train_to_completion(store.as_person(alice), RunConfig.from_dict(cfg))
    accounts = Accounts()
    for name, pw in PASSWORDS.items():
        accounts.add(name, pw)
    with running_app(runs_dir, auth=accounts.verify, identity=Identity("accounts", accounts), prewarm=False) as url:
        yield url, runs_dir, run_id
    stop_active_runs(runs_dir)


def client(url: str, key: str):
    return openai.OpenAI(base_url=url.rstrip("/") + "/v1", api_key=key, max_retries=0, timeout=120)


def test_each_key_acts_as_its_person(server):
    url, runs_dir, run_id = server
    keys = ApiKeys(runs_dir)
    alice, bob = client(url, keys.create("alice")), client(url, keys.create("bob"))
    assert [m.id for m in alice.models.list().data] == [run_id]
    answer = alice.chat.completions.create(model=run_id, messages=QUESTION, max_tokens=6)
    assert answer.choices[0].message.content is not None
    assert bob.models.list().data == []
    with pytest.raises(openai.AuthenticationError):  # a key whose person has no account here (removed) is no key
        client(url, keys.create("zed")).models.list()
    with pytest.raises(openai.NotFoundError, match=f"No run '{run_id}' that you may use"):
        bob.chat.completions.create(model=run_id, messages=QUESTION)
    import httpx

    keyless = httpx.get(url.rstrip("/") + "/v1/models")  # the page's login cookie is not a key either
    assert keyless.status_code == 401 and "Give an API key" in keyless.json()["error"]["message"]


def test_a_key_made_on_the_export_tab_works_and_a_removed_one_does_not(server):
    from gradio_client import Client

    url, runs_dir, run_id = server
    page = Client(url, auth=("alice", PASSWORDS["alice"]), verbose=False)
    key, made, listed = page.predict("my laptop", api_name="/make_api_key")
    assert key.startswith("sk-studio-") and "studio-msg-ok" in made and key[-4:] in listed
    assert [m.id for m in client(url, key).models.list().data] == [run_id]
    key_id = ApiKeys(runs_dir).listed("alice")[-1]["id"]
    assert "studio-msg-ok" in page.predict(key_id, api_name="/remove_api_key")[0]
    with pytest.raises(openai.AuthenticationError):
        client(url, key).models.list()
    bobs_page = Client(url, auth=("bob", PASSWORDS["bob"]), verbose=False)
    other = ApiKeys(runs_dir).create("alice")
    other_id = ApiKeys(runs_dir).listed("alice")[-1]["id"]
    assert "studio-msg-error" in bobs_page.predict(other_id, api_name="/remove_api_key")[0]
    assert client(url, other).models.list().data, "bob cannot remove alice's key"
