"""A Store acting for a person: each sees and changes only their own runs (admins all; readers look), within their
limits; queued runs wait in the registry, not in processes; a crash's leftovers are set right."""

from __future__ import annotations

import errno
import json
import shutil
import time

import pytest

from studio.base import limits as policy
from studio.base import runfolder
from studio.base.access import ANONYMOUS, LOCAL, Person
from studio.base.errors import AccessError, LimitError, QuotaFull, ReadOnlyError, RunError
from studio.config import RunConfig
from studio.data.uploads import uploads_dir
from studio.runs import quotas, upkeep
from studio.runs.store import Store
from tests.support import tiny_config

ALICE, BOB, ADMIN = Person("alice"), Person("bob"), Person("carol", admin=True)
RUN_ACTIONS = ("get", "status", "sync", "stop", "kill", "resume", "delete", "run_dir")


def their_file(store: Store, person: Person, csv) -> str:
    """The person's own upload of the data (a run of theirs may read only their files)."""
    folder = uploads_dir(store.root, person)
    folder.mkdir(parents=True, exist_ok=True)
    return str(shutil.copy(csv, folder / "tickets.csv"))


def cfg_for(store, person, tiny_bert, csv, **training) -> RunConfig:
    return RunConfig.from_dict(tiny_config(tiny_bert, their_file(store, person, csv), "lora", **training))


@pytest.fixture
def people(store, tiny_bert, separable_csv):
    """alice's and bob's stores, each with one queued run (not started)."""
    a, b = store.as_person(ALICE), store.as_person(BOB)
    run_a = a.create(cfg_for(store, ALICE, tiny_bert, separable_csv), start=False)
    run_b = b.create(cfg_for(store, BOB, tiny_bert, separable_csv), start=False)
    return a, b, run_a, run_b


def test_each_person_lists_only_their_own_runs_and_an_admin_lists_all(store, people):
    a, b, run_a, run_b = people
    assert [r["id"] for r in a.list()] == [run_a] and [r["id"] for r in b.list()] == [run_b]
    assert {r["id"] for r in store.as_person(ADMIN).list()} == {run_a, run_b}
    assert {r["id"] for r in store.list()} == {run_a, run_b}  # the machine itself (the CLI) sees all
    assert store.as_person(ANONYMOUS).list() == []
    assert json.loads((store.root / run_a / "access.json").read_text())["owner"] == "alice"


@pytest.mark.parametrize("action", RUN_ACTIONS)
def test_another_persons_run_reads_as_missing_for_every_action(people, action):
    a, b, run_a, _ = people
    before = runfolder.read_status(a.run_dir(run_a))
    with pytest.raises(RunError) as err:
        getattr(b, action)(run_a)
    assert str(err.value) == f"No run {run_a} on this server."
    assert runfolder.read_status(a.run_dir(run_a)) == before and a.run_dir(run_a).is_dir()


def test_a_shared_run_is_read_only_for_its_readers(people):
    a, b, run_a, _ = people
    with pytest.raises(RunError):
        b.share(run_a, ("bob",))  # only its owner shares it
    a.share(run_a, ("bob",))
    assert [r["id"] for r in b.list() if r["id"] == run_a] == [run_a]
    assert b.get(run_a)["access"] == {"owner": "alice", "readers": ["bob"]}
    for action in ("stop", "kill", "delete", "resume"):
        with pytest.raises(AccessError, match="belongs to alice"):
            getattr(b, action)(run_a)
    assert store_of(a).as_person(Person("dave")).list() == []
    a.share(run_a, ("*",))
    assert [r["id"] for r in store_of(a).as_person(ANONYMOUS).list()] == [run_a]
    with pytest.raises(ReadOnlyError):
        store_of(a).as_person(ANONYMOUS).delete(run_a)
    a.share(run_a, ())
    assert b.list() and run_a not in [r["id"] for r in b.list()]


def store_of(s: Store) -> Store:
    return s.as_person(LOCAL)


def test_an_admin_acts_on_anyones_run(people):
    a, b, run_a, run_b = people
    admin = store_of(a).as_person(ADMIN)
    assert admin.stop(run_b)["status"] == "stopped"
    admin.delete(run_b)
    assert not b.list()


def test_a_read_only_visitor_creates_nothing(store, tiny_bert, separable_csv):
    with pytest.raises(ReadOnlyError, match="read-only demo"):
        store.as_person(ANONYMOUS).create(RunConfig.from_dict(tiny_config(tiny_bert, separable_csv)), start=False)
    assert store.list() == []


def test_a_run_reads_only_its_persons_files(store, tiny_bert, separable_csv, tmp_path):
    a = store.as_person(ALICE)
    host_file = tmp_path / "host-secret.csv"
    shutil.copy(separable_csv, host_file)
    for train in (str(host_file), their_file(store, BOB, separable_csv)):
        with pytest.raises(LimitError, match="data.train: that file is not one of yours"):
            a.create(RunConfig.from_dict(tiny_config(tiny_bert, train)), start=False)
    raw = tiny_config(tiny_bert, their_file(store, ALICE, separable_csv))
    raw["distill"] = {"teacher": "20200101-000000-abcdef", "transfer": str(host_file)}
    with pytest.raises(LimitError, match="distill.transfer"):
        a.create(RunConfig.from_dict(raw), start=False)
    assert store.list() == [] and not list(store.root.glob("2*"))


def test_limits_refuse_with_the_limit_named(store, tiny_bert, separable_csv):
    store.limits = policy.PUBLIC.changed(local_models=True, model_billions=None, runs_active=1)
    a = store.as_person(ALICE)
    cases = [({"epochs": 21}, "above this server's limit of 20"), ({"max_length": 2048}, "max_length"),
             ({"num_processes": 2}, "num_processes"), ({"wandb": True}, "Weights & Biases is off")]
    for training, fragment in cases:
        with pytest.raises(LimitError, match=fragment):
            a.create(cfg_for(store, ALICE, tiny_bert, separable_csv, **training), start=False)
    a.create(cfg_for(store, ALICE, tiny_bert, separable_csv), start=False)
    with pytest.raises(QuotaFull, match="runs_active 1"):
        a.create(cfg_for(store, ALICE, tiny_bert, separable_csv), start=False)
    store.as_person(BOB).create(cfg_for(store, BOB, tiny_bert, separable_csv), start=False)  # bob's own quota
    store.as_person(ADMIN).create(cfg_for(store, ADMIN, tiny_bert, separable_csv), start=False)  # admins: none
    store.limits = policy.PUBLIC.changed(local_models=True, model_billions=0.0001)
    with pytest.raises(LimitError, match="model_billions"):
        store.as_person(BOB).create(cfg_for(store, BOB, tiny_bert, separable_csv), start=False)


def test_a_disk_quota_counts_everything_a_person_owns(store, tiny_bert, separable_csv):
    a = store.as_person(ALICE)
    a.create(cfg_for(store, ALICE, tiny_bert, separable_csv), start=False)
    used = quotas.disk_used(store.root, ALICE)
    assert used > separable_csv.stat().st_size and quotas.disk_used(store.root, BOB) == 0
    store.limits = policy.OPEN.changed(disk_gb=0.999 * used / 1e9)
    with pytest.raises(LimitError, match="disk_gb"):
        store.as_person(ALICE).create(cfg_for(store, ALICE, tiny_bert, separable_csv), start=False)


def test_queued_runs_wait_without_a_process_and_a_persons_running_limit_lets_others_go_first(
        store, tiny_bert, separable_csv, monkeypatch):
    monkeypatch.setenv("STUDIO_RUNS_PER_DEVICE", "2")  # two runs at once on the CPU: the owner's limit decides
    store.limits = policy.OPEN.changed(runs_running=1)
    a, b = store.as_person(ALICE), store.as_person(BOB)
    first_a = a.create(cfg_for(store, ALICE, tiny_bert, separable_csv), start=False)
    second_a = a.create(cfg_for(store, ALICE, tiny_bert, separable_csv), start=False)
    first_b = b.create(cfg_for(store, BOB, tiny_bert, separable_csv), start=False)
    assert all(not runfolder.read_status(store.root / r).get("pid") for r in (first_a, second_a, first_b))
    launched = []
    monkeypatch.setattr(Store, "_launch", lambda self, run_id, device, resume=False: launched.append(run_id))
    store.dispatch()
    # alice may train one at a time: her second run waits, and bob's (queued after it) goes first.
    assert launched == [first_a, first_b]
    assert runfolder.read_status(store.root / second_a)["status"] == "queued"


def test_reading_writes_nothing_so_a_full_disk_leaves_every_view_working(store, people, monkeypatch):
    a, b, run_a, _ = people
    pid_dead = 999_999
    runfolder.write_status(a.run_dir(run_a), "running", pid=pid_dead, pid_start=1.0)

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runfolder, "atomic_write_json", disk_full)
    monkeypatch.setattr("studio.base.files.atomic_write_json", disk_full)
    assert a.status(run_a)["status"] == "failed"  # the worker is gone: reads failed
    assert [r["status"] for r in a.list()] == ["failed"] and a.get(run_a)["status"] == "failed"


def test_recover_lists_a_run_the_registry_lost_and_removes_leftovers(store, people):
    a, b, run_a, run_b = people
    with store._db(immediate=True) as db:  # a kill between the folder's rename and its row
        db.execute("DELETE FROM runs WHERE id=?", (run_a,))
    assert [r["id"] for r in a.list()] == []
    stale = store.root / ".creating-20200101-000000-aaaaaa"
    stale.mkdir()
    half_deleted = store.root / ".deleting-20200101-000000-bbbbbb"
    half_deleted.mkdir()
    fresh = store.root / ".creating-20991231-000000-cccccc"
    fresh.mkdir()
    old = time.time() - 2 * upkeep.STALE_S
    import os

    os.utime(stale, (old, old))
    done = upkeep.recover(store)
    assert done["adopted"] == [run_a] and [r["id"] for r in a.list()] == [run_a]  # with its owner
    assert not stale.exists() and not half_deleted.exists() and fresh.exists()  # a creation under way stays


def test_the_apps_upkeep_starts_a_queued_run_nobody_else_started(store, tiny_bert, separable_csv, monkeypatch):
    run_id = store.create(RunConfig.from_dict(tiny_config(tiny_bert, separable_csv)), start=False)
    launched = []
    monkeypatch.setattr(Store, "_launch", lambda self, rid, device, resume=False: launched.append(rid))
    keeper = upkeep.Upkeep(store, every=0.1).start()
    try:
        deadline = time.time() + 30
        while not launched and time.time() < deadline:
            time.sleep(0.1)
    finally:
        keeper.stop()
    assert launched == [run_id] and runfolder.read_status(store.run_dir(run_id))["status"] == "running"


def test_an_admin_resuming_anothers_run_lends_it_neither_their_token_nor_the_servers_secrets(store, tiny_bert,
                                                                                             separable_csv):
    store.limits = policy.PUBLIC.changed(local_models=True, model_billions=None)
    bob = store.as_person(BOB)
    run_id = bob.create(cfg_for(store, BOB, tiny_bert, separable_csv), start=False)
    assert runfolder.read_status(store.run_dir(run_id))["secrets"] == "none"
    runfolder.write_status(store.run_dir(run_id), "failed", finished_at=time.time())
    bob.sync(run_id)
    admin = store.as_person(Person("carol", admin=True, token="hf_carols_own"))
    launched = []
    import studio.runs.store as store_module

    original = store_module.Store._launch
    try:
        store_module.Store._launch = lambda self, rid, device, resume=False: launched.append(rid)
        admin.resume(run_id)
    finally:
        store_module.Store._launch = original
    st = runfolder.read_status(store.run_dir(run_id))
    assert launched == [run_id] and st["secrets"] == "none" and not st.get("token_held_by")
    assert run_id not in store_module.TOKENS


def test_a_cached_gated_model_is_not_for_a_person_without_access_to_it(store, monkeypatch):
    """The server's cache may hold a gated model its own token fetched: a person is asked about with their own."""
    import sys

    import httpx
    from huggingface_hub.errors import GatedRepoError

    from studio import models
    from studio.base.errors import ModelError

    monkeypatch.setattr(sys.modules["studio.models.resolve"], "_hub_cached", lambda hub_id: store.root)  # cached
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    asked = []

    def gated(self, repo_id, **kw):
        asked.append(kw.get("token"))
        response = httpx.Response(403, request=httpx.Request("GET", "https://huggingface.co/api/models/x/y"))
        raise GatedRepoError("403 gated", response=response)

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", gated)
    models.check_hub("meta/gated", token=False, cached_ok=True)  # the machine itself: the cache is its own
    with pytest.raises(ModelError, match="gated model"):
        models.check_hub("meta/gated", token="hf_persons_own", cached_ok=False)
    assert asked == ["hf_persons_own"]


def test_sweeps_under_way_count_against_a_persons_active_limit(store, tiny_bert, separable_csv):
    from studio import sweeps

    store.limits = policy.OPEN.changed(runs_active=1)
    a = store.as_person(ALICE)
    cfg = cfg_for(store, ALICE, tiny_bert, separable_csv)
    space = {"training.epochs": {"choices": [1]}}
    first = sweeps.create(a, cfg, space, sweeps.settings_from({"trials": 1}), start=False)
    with pytest.raises(QuotaFull, match="You have 1 sweeps under way"):
        sweeps.create(a, cfg, space, sweeps.settings_from({"trials": 1}), start=False)
    assert [s["id"] for s in sweeps.list_sweeps(a)] == [first] and sweeps.list_sweeps(store.as_person(BOB)) == []
