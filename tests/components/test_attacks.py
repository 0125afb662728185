"""The attack corpus: person B against person A's runs, sweeps, labelling projects and files, and against the host,
through the app's own API (gradio_client), on one server with accounts.

In the spirit of the bad-input corpus (tests/bad_inputs): every attempt must be refused with a clear sentence (what
B may not see reads exactly like what does not exist), nothing of A's may change, no host file's content may leave
the server, and the server must still answer within a second afterwards. An admin sees both people's runs.
"""

from __future__ import annotations

import html
import json
import time
from pathlib import Path

import pytest

from components.identity import Identity
from studio.base import limits as policy
from studio.base.accounts import Accounts
from studio.base.runfolder import RunFolder
from studio.runs.store import Store
from tests.components.ui_support import free_port, stop_active_runs
from tests.support import separable_rows, write_csv

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

pytestmark = pytest.mark.slow
FAST = {"epochs": 1, "max_length": 32, "logging_steps": 2, "batch_size": 16}
PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}
HOST_FILE_MARK = "host-secret-7f3a9"  # the content of a file of the server no person may read


def text_of(value) -> str:
    return html.unescape(json.dumps(value, default=str) if not isinstance(value, str) else value)


def attempt(call) -> str:
    """What the page would show for a call: its returned value or its error, as text."""
    try:
        return text_of(call())
    except Exception as e:  # gr.Error reaches the client as an exception with the sentence
        return text_of(str(e))


def wait_done(client: Client, run_id: str, timeout: float = 240) -> dict:
    end = time.time() + timeout
    while (st := client.predict(run_id, api_name="/run_status"))["status"] not in ("completed", "failed", "stopped"):
        assert time.time() < end, st
        time.sleep(1)
    return st


@pytest.fixture(scope="module")
def server(tmp_path_factory, ui_cache):
    from components.app import build_app, launch_options

    runs_dir = tmp_path_factory.mktemp("attack-runs")
    accounts = Accounts()
    for name, pw in PASSWORDS.items():
        accounts.add(name, pw, admin=name == "carol")
    # The public policy, with the tiny local model allowed (the tests have no hub) and room for a few runs each.
    limits = policy.PUBLIC.changed(local_models=True, model_billions=None)  # runs_active 2
    app = build_app(runs_dir, identity=Identity("accounts", accounts), limits=limits)
    _, url, _ = app.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1", server_port=free_port(),
                           auth=accounts.verify, max_file_size="20mb", **launch_options(app))
    try:
        yield url, runs_dir
    finally:
        app.close()
        stop_active_runs(runs_dir)


def raw_call(url: str, name: str, api_name: str, data: list) -> str:
    """An API call as a script without gradio_client makes it (signed in as name): the event stream's text."""
    import httpx

    with httpx.Client(base_url=url, timeout=60) as h:
        assert h.post("login", data={"username": name, "password": PASSWORDS[name]}).status_code == 200
        r = h.post(f"gradio_api/call{api_name}", json={"data": data})
        if r.status_code != 200:
            return r.text
        return h.get(f"gradio_api/call{api_name}/{r.json()['event_id']}").text


def client_of(url: str, name: str) -> Client:
    return Client(url, auth=(name, PASSWORDS[name]), verbose=False)


@pytest.fixture(scope="module")
def alices(server, ui_tiny_model, tmp_path_factory):
    """Alice's things: a trained run, an upload, a sweep and a labelling project."""
    url, runs_dir = server
    a = client_of(url, "alice")
    data = tmp_path_factory.mktemp("alice") / "alice-tickets.csv"
    write_csv(data, separable_rows(20, ("billing", "technical"), seed=3))
    assert "Ready" in a.predict(handle_file(str(data)), api_name="/upload_data")[0]
    _, run_id = a.predict(model_custom=str(ui_tiny_model), run_name="alices-run", api_name="/start_run", **FAST)
    assert wait_done(a, run_id)["status"] == "completed"
    # Her sweep, made through the engine as hers (not started: only its being there matters to the attacks).
    from studio import sweeps
    from studio.base.access import Person
    from studio.config import RunConfig

    alice = Store(runs_dir).as_person(Person("alice"))
    trained = RunConfig.from_dict(json.loads((runs_dir / run_id / "config.json").read_text()))
    sweep_id = sweeps.create(alice, trained, {"training.epochs": {"choices": [1]}}, sweeps.settings_from({"trials": 1}),
                             start=False)
    pool = tmp_path_factory.mktemp("alice-pool") / "pool.csv"
    write_csv(pool, [{"text": r["text"]} for r in separable_rows(15, ("billing", "technical"), seed=4)])
    msg = a.predict(handle_file(str(pool)), None, None, "billing, technical", model_custom=str(ui_tiny_model),
                    api_name="/create_labelling_project")
    project_id = msg[1]["value"]
    upload = next((runs_dir / "uploads" / "people" / "alice").glob("*.csv"))
    before = {p: p.stat().st_mtime_ns for p in (runs_dir / run_id).rglob("*") if p.is_file()}
    return {"run": run_id, "sweep": sweep_id, "project": project_id, "upload": upload, "files": before}


def test_b_sees_none_of_a_and_an_admin_sees_both(server, alices, ui_tiny_model):
    url, _ = server
    b = client_of(url, "bob")
    _, bobs = b.predict(model_custom=str(ui_tiny_model), run_name="bobs-run", api_name="/start_run", **FAST)
    b.predict(bobs, api_name="/stop_run")  # listed all the same; it need not train
    table = b.predict(api_name="/list_runs")[0]
    listed = [row[0] for row in table["data"]]
    assert alices["run"] not in listed and bobs in listed
    assert alices["sweep"] not in text_of(b.predict(None, api_name="/list_sweeps"))
    assert alices["project"] not in text_of(b.predict(None, api_name="/list_labelling_projects"))
    admin = [row[0] for row in client_of(url, "carol").predict(api_name="/list_runs")[0]["data"]]
    assert {alices["run"], bobs} <= set(admin)
    assert wait_done(b, bobs)["status"] == "stopped"


EXTRA = {"text": "refund please", "typed": "refund please", "message": "hello", "question": "what?",
         "context": "a passage", "repo_id": "bob/stolen", "token": "hf_bob", "kind": "adapter", "readers": "bob",
         "batch_size": 0, "metric": "eval_loss", "true_label": "", "new_tokens": 8}
# Where an endpoint's field of the same name takes other values (a benchmark's batch size is 1 or more; resume's 0
# keeps the run's own), its own: the page refuses an out-of-range value before any handler runs.
EXTRA_OF = {"/start_benchmark": {"batch_size": 8}}


def test_every_endpoint_that_takes_an_id_refuses_another_persons(server, alices, tmp_path):
    url, _ = server
    b = client_of(url, "bob")
    api = b.view_api(return_format="dict", print_info=False)["named_endpoints"]
    csv = tmp_path / "texts.csv"
    csv.write_text("text\nhello\n", encoding="utf-8")
    ids = {"run_id": ("run", alices["run"]), "sweep_id": ("sweep", alices["sweep"]),
           "project_id": ("labelling project", alices["project"])}
    checked = []
    for name, ep in api.items():
        params = [p["parameter_name"] for p in ep["parameters"]]
        for param, (noun, thing) in ids.items():
            if param not in params:
                continue
            extra = {**EXTRA, **EXTRA_OF.get(name, {})}
            kwargs = {p: extra[p] for p in params if p in extra}
            kwargs.update({p["parameter_name"]: None for p in ep["parameters"] if not p["parameter_has_default"]
                           and p["parameter_name"] not in kwargs and p["parameter_name"] != param})
            if "file" in params:
                kwargs["file"] = handle_file(str(csv))
            if "number" in params:
                kwargs["number"] = 1
            msg = attempt(lambda: b.predict(api_name=name, **{param: thing, **kwargs}))
            assert f"No {noun} {thing} on this server" in msg, (name, msg[:300])
            checked.append(name)
    # Ids inside other parameters: a run to compare, a teacher, the run that scores a pool.
    assert f"No run {alices['run']} on this server" in attempt(
        lambda: b.predict([alices["run"]], "eval_loss", api_name="/compare_runs"))
    assert f"No run {alices['run']} on this server" in attempt(
        lambda: b.predict(distill_teacher=alices["run"], api_name="/start_run"))
    assert f"No run {alices['run']} on this server" in attempt(
        lambda: b.predict(alices["run"], api_name="/describe_teacher"))
    assert len(checked) >= 30, sorted(checked)
    assert {"/delete_run", "/kill_run", "/resume_run", "/share_run", "/export_zip", "/push_to_hub", "/stop_sweep",
            "/kill_sweep", "/resume_sweep", "/save_labels", "/retrain_labelled", "/chat"} <= set(checked)
    _nothing_of_a_changed(server, alices)


def test_a_file_of_a_or_of_the_host_is_never_read_for_b(server, alices, tmp_path, ui_tiny_model):
    url, runs_dir = server
    b = client_of(url, "bob")
    host = tmp_path / "host-secret.csv"
    host.write_text(f"text,label\n{HOST_FILE_MARK} one,a\n{HOST_FILE_MARK} two,b\n" * 10)
    seen = []
    # A config naming A's upload or a host file as its data: loaded without it.
    for path in (alices["upload"], host):
        cfg = tmp_path / "run.yaml"
        cfg.write_text(f"data:\n  train: {path}\n")
        seen.append(attempt(lambda: b.predict(handle_file(str(cfg)), api_name="/load_config")))
        assert "is not on this server: upload it in the Data tab" in seen[-1]
    # A file handle naming a server path instead of an upload, sent as the raw API would (gradio_client would upload
    # the client's own copy): refused before any handler reads it.
    secret_yaml = tmp_path / "host-secret.yaml"
    secret_yaml.write_text(f"{HOST_FILE_MARK}: [never closed\n")
    for path in (secret_yaml, alices["upload"], Path("/etc/passwd")):
        seen.append(raw_call(url, "bob", "/load_config", [{"path": str(path), "orig_name": "x.yaml",
                                                           "meta": {"_type": "gradio.FileData"}}]))
        assert "event: error" in seen[-1], seen[-1][-300:]
    # No field names a file any more: the transfer file is the session's own upload.
    params = {p["parameter_name"] for p in b.view_api(return_format="dict", print_info=False)["named_endpoints"][
        "/start_run"]["parameters"]}
    assert "distill_transfer" not in params and not any("path" in p or p.endswith("_file") for p in params), params
    # A's fine-tuned model as a "local folder" base.
    assert "Ready" in b.predict("support_tickets.csv", api_name="/use_sample")[0]
    seen.append(attempt(lambda: b.predict(model_custom=str(runs_dir / alices["run"] / "model"), api_name="/start_run",
                                          **FAST)))
    assert "that folder is not one of yours" in seen[-1]
    # ... named relative to the runs folder (where a sweep's driver works), or as a paraphrase generator the
    # augmentation preview would load in the web process, or as a labelling project's base.
    a_model = runs_dir / alices["run"] / "model"
    seen.append(attempt(lambda: b.predict(model_custom=f"{alices['run']}/model", space_text="training.epochs: "
                                          "{choices: [1]}", trials=1, api_name="/start_sweep")))
    assert "give a model folder by its full path" in seen[-1], seen[-1][:300]
    seen.append(attempt(lambda: b.predict(augment_copies=1, augment_operations=["paraphrase"],
                                          augment_generator=str(a_model), api_name="/preview_augmentation")))
    assert "augment.generator: that folder is not one of yours" in seen[-1], seen[-1][:300]
    pool = tmp_path / "pool.csv"
    pool.write_text("text\none\ntwo\nthree\n")
    seen.append(attempt(lambda: b.predict(handle_file(str(pool)), None, None, "a, b", model_custom=str(a_model),
                                          api_name="/create_labelling_project")))
    assert "that folder is not one of yours" in seen[-1], seen[-1][:300]
    for text in seen:
        assert HOST_FILE_MARK not in text and "root:x:0:0" not in text and "alice-tickets" not in text, text[:300]
    assert not [r for r in Store(runs_dir).list() if r.get("owner") == "bob" and r["status"] == "queued"]


def test_one_request_cannot_stop_or_fill_the_server(server, alices, tmp_path, ui_tiny_model):
    url, _ = server
    b = client_of(url, "bob")
    lol = "[" + ",".join(["lol"] * 9) + "]"
    bomb = "a: &a " + lol + "\n" + "".join(
        f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    cfg = tmp_path / "bomb.yaml"
    cfg.write_text(bomb + "task: text-classification\n")
    t0 = time.perf_counter()
    assert "anchors" in attempt(lambda: b.predict(handle_file(str(cfg)), api_name="/load_config"))
    assert "anchors" in attempt(lambda: b.predict(space_text=bomb, trials=1, api_name="/start_sweep"))
    assert "at most 1000: give a bigger step" in attempt(lambda: b.predict(
        space_text="training.learning_rate: {low: 1.0e-5, high: 1.0e-3, step: 1.0e-12}", sampler="grid", trials=8,
        api_name="/start_sweep"))
    assert "above this server's limit of 1" in attempt(lambda: b.predict(num_processes=64, api_name="/start_run"))
    assert "above this server's limit of 8 trials" in attempt(lambda: b.predict(trials=500, api_name="/start_sweep"))
    assert time.perf_counter() - t0 < 20  # each refused at once (a bomb held the web process for seconds a level)
    # A model typed in the Model tab is counted on the meta device: no download, no weights in the web process.
    t0 = time.perf_counter()
    counted = attempt(lambda: b.predict(model_custom=str(ui_tiny_model), api_name="/count_parameters"))
    assert "trainable of" in counted and time.perf_counter() - t0 < 10
    # Quotas: bob may have 2 runs queued or training; the third is refused with the limit named.
    started = []
    for i in range(3):
        started.append(attempt(lambda: b.predict(model_custom=str(ui_tiny_model), run_name=f"q{i}",
                                                 api_name="/start_run", **FAST)))
    assert "runs_active 2" in started[-1] and "wait for one to finish" in started[-1], started
    # ... and the server still answers at once (the best of three: a liveness check, not a benchmark).
    alice = client_of(url, "alice")
    took = []
    for _ in range(3):
        t0 = time.perf_counter()
        alice.predict(api_name="/list_runs")
        took.append(time.perf_counter() - t0)
    assert min(took) < 1.0, took


def _nothing_of_a_changed(server, alices):
    url, runs_dir = server
    a = client_of(url, "alice")
    assert a.predict(alices["run"], api_name="/run_status")["status"] == "completed"
    rd = runs_dir / alices["run"]
    now = {p: p.stat().st_mtime_ns for p in rd.rglob("*") if p.is_file()}
    changed = [str(p.relative_to(rd)) for p in alices["files"] if now.get(p) != alices["files"][p]]
    assert changed in ([], ["status.json"]) and set(now) >= set(alices["files"]), changed
    assert json.loads((rd / "access.json").read_text()) == {"owner": "alice", "readers": []}
    assert (RunFolder(rd).model / "studio_model.json").exists()
    assert alices["sweep"] in text_of(a.predict(None, api_name="/list_sweeps"))
    assert alices["project"] in text_of(a.predict(None, api_name="/list_labelling_projects"))
    assert alices["upload"].exists()
