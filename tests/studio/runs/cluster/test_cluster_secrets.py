"""A run's work on a Ray cluster gets the secrets its run may use and no others, without a cluster: what the
studio hands the run's actor, the environment the actor gives the worker from its node's own, and the ranks of a
run across nodes."""

from __future__ import annotations

import json
import sys
import time
from types import SimpleNamespace

import pytest

from studio.base import limits as policy
from studio.base import runfolder, secrets
from studio.base.access import Person
from studio.runs import store as store_module
from studio.runs.cluster import executor, node, train
from tests.studio.runs.test_ownership import cfg_for

NODE_ENV = {"PATH": "/usr/bin", "HF_TOKEN": "hf_the_nodes", "WANDB_API_KEY": "wandb-of-the-node"}


def test_a_run_that_may_not_use_the_servers_secrets_gets_none_of_the_nodes():
    env = secrets.on_node(NODE_ENV, {"uses": "none", "env": {}})
    assert "HF_TOKEN" not in env and "WANDB_API_KEY" not in env and env["PATH"] == "/usr/bin"
    assert env["HF_TOKEN_PATH"] == secrets.NO_TOKEN_FILE  # nor a login stored on the node
    assert secrets.on_node(NODE_ENV, None) == env  # an actor from before secrets were handed
    own = secrets.on_node(NODE_ENV, {"uses": "own", "env": {"HF_TOKEN": "hf_alices_own"}})
    assert own["HF_TOKEN"] == "hf_alices_own" and "WANDB_API_KEY" not in own


def test_a_run_that_may_use_them_gets_the_servers_and_else_the_nodes():
    env = secrets.on_node(NODE_ENV, {"uses": "server", "env": {"HF_TOKEN": "hf_the_servers", "PATH": "/evil"}})
    assert env["HF_TOKEN"] == "hf_the_servers" and env["WANDB_API_KEY"] == "wandb-of-the-node"
    assert env["PATH"] == "/usr/bin", "only secrets are handed over, nothing else of the head's environment"
    assert "HF_TOKEN_PATH" not in env


def test_the_worker_on_the_node_starts_with_the_runs_secrets(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_the_nodes")
    env = node.run_env("127.0.0.1:6379", {"uses": "none", "env": {}})
    assert "HF_TOKEN" not in env and env["STUDIO_RAY"] == "127.0.0.1:6379"


def test_where_runs_travel_through_a_bucket_the_worker_gets_none_of_its_keys(monkeypatch):
    """The run's actor moves its files; a run's own code (a model's remote code) must not reach everyone's runs."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "the-nodes-key")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/etc/node-sa.json")
    handed = {"uses": "server", "env": {}}
    assert "AWS_SECRET_ACCESS_KEY" in node.run_env("127.0.0.1:6379", handed), "a shared folder: the node's own"
    env = node.run_env("127.0.0.1:6379", handed, storage="s3://runs/team")
    assert "AWS_SECRET_ACCESS_KEY" not in env and "GOOGLE_APPLICATION_CREDENTIALS" not in env
    # Nor the bucket's URL (it may carry keys), which would also make the worker's own Store pull into its copy.
    monkeypatch.setenv("STUDIO_CLUSTER_STORAGE", "s3://KEY:SECRET@runs/team")
    assert "STUDIO_CLUSTER_STORAGE" not in node.run_env("127.0.0.1:6379", handed, storage="s3://runs/team")


@pytest.fixture
def public(store):
    store.limits = policy.PUBLIC.changed(local_models=True, model_billions=None)
    return store


def test_the_studio_hands_each_run_what_its_owner_may_use(public, tiny_bert, separable_csv, monkeypatch):
    monkeypatch.setattr(secrets, "server_secrets", lambda: {"HF_TOKEN": "hf_the_servers"})
    bob = Person("bob")
    run_b = public.as_person(bob).create(cfg_for(public, bob, tiny_bert, separable_csv), start=False)
    assert public.handed_secrets(run_b) == {"uses": "none", "env": {}}
    alice = Person("alice", token="hf_alices_own")
    run_a = public.as_person(alice).create(cfg_for(public, alice, tiny_bert, separable_csv), start=False)
    assert public.handed_secrets(run_a) == {"uses": "own", "env": {"HF_TOKEN": "hf_alices_own"}}
    public.token_handed_over(run_a)
    assert run_a not in store_module.TOKENS
    carol = Person("carol", admin=True)
    run_c = public.as_person(carol).create(cfg_for(public, carol, tiny_bert, separable_csv), start=False)
    assert public.handed_secrets(run_c) == {"uses": "server", "env": {"HF_TOKEN": "hf_the_servers"}}


class FakeActor:
    def __init__(self):
        self.created = []

    def options(self, **options):
        return SimpleNamespace(remote=lambda *args: self.created.append((options, args)))


def test_submitting_hands_the_actor_the_runs_secrets_and_lets_go_of_the_token(
        public, tiny_bert, separable_csv, monkeypatch):
    fake_ray = SimpleNamespace(get_runtime_context=lambda: SimpleNamespace(gcs_address="127.0.0.1:6379"))
    monkeypatch.setattr(executor, "connect", lambda address=None: fake_ray)
    actor = FakeActor()
    monkeypatch.setattr(node, "RunOnNode", actor)
    alice = Person("alice", token="hf_alices_own")
    run_id = public.as_person(alice).create(cfg_for(public, alice, tiny_bert, separable_csv), start=False)
    executor.submit(public, run_id, cluster_has_gpus=False)
    (options, args), = actor.created
    assert options["name"] == executor.actor_name(run_id, 1)
    assert args[3] == {"uses": "own", "env": {"HF_TOKEN": "hf_alices_own"}} and args[4] is None  # no bucket
    assert run_id not in store_module.TOKENS, "Ray keeps it for the actor's restarts; this process lets it go"
    assert "hf_alices_own" not in (public.run_dir(run_id) / "status.json").read_text()


def test_a_run_holding_its_owners_token_elsewhere_is_left_to_that_process(public, tiny_bert, separable_csv,
                                                                          monkeypatch):
    """The cluster's dispatcher in another process (a worker, a second server) leaves a run whose owner's own token
    a live process holds to that process, and takes it once that process is gone."""
    import subprocess

    from studio.runs.store import process_start_time

    fake_ray = SimpleNamespace(cluster_resources=lambda: {})
    monkeypatch.setattr(executor, "connect", lambda address=None: fake_ray)
    monkeypatch.setattr(executor.storage, "problem", lambda root, url=None: None)
    monkeypatch.setattr(executor, "work_present", lambda st, address=None: False)
    submitted = []
    monkeypatch.setattr(executor, "_submit_once", lambda store, run_id, gpus: submitted.append(run_id) or True)
    alice = Person("alice", token="hf_alices_own")
    run_id = public.as_person(alice).create(cfg_for(public, alice, tiny_bert, separable_csv), start=False)
    assert runfolder.read_status(public.run_dir(run_id))["status"] == "queued"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        runfolder.write_status(public.run_dir(run_id), "queued", token_held_by={
            "pid": other.pid, "pid_start": process_start_time(other.pid)})
        assert executor.submit_queued(public) == [] and submitted == []
    finally:
        other.kill()
        other.wait()
    time.sleep(0.1)
    assert executor.submit_queued(public) == [run_id] and submitted == [run_id]


def test_the_ranks_of_a_run_across_nodes_replace_their_nodes_secrets(monkeypatch, tmp_path):
    """_rank on a Ray Train worker: the node's secrets go, the run's come from Ray's memory (a reference in the
    train_loop_config that Ray Train records, never the values)."""
    handed = {"HF_TOKEN_PATH": secrets.NO_TOKEN_FILE}
    fake_ray = SimpleNamespace(get=lambda ref: handed if ref == "ref" else None,
                               get_runtime_context=lambda: SimpleNamespace(get_node_id=lambda: "n" * 56))
    monkeypatch.setitem(sys.modules, "ray", fake_ray)
    monkeypatch.setenv("HF_TOKEN", "hf_the_nodes")
    monkeypatch.setenv("WANDB_API_KEY", "wandb-of-the-node")
    monkeypatch.setattr(train, "node_address", lambda ray, node_id: "10.0.0.7")
    monkeypatch.setattr(train, "_write_to_train_log", lambda run_dir, rank: None)
    seen = {}

    def rank_main(run_dir, resume):
        import os

        seen.update({k: os.environ.get(k) for k in ("HF_TOKEN", "WANDB_API_KEY", "HF_TOKEN_PATH")})
        return 0

    monkeypatch.setattr(train.distributed, "rank_main", rank_main)
    monkeypatch.setenv("RANK", "1")
    train._rank({"run_dir": str(tmp_path), "resume": False, "record": {}, "secrets": "ref"})
    assert seen == {"HF_TOKEN": None, "WANDB_API_KEY": None, "HF_TOKEN_PATH": secrets.NO_TOKEN_FILE}



def test_the_ranks_of_a_run_through_object_storage_train_in_their_nodes_copy_without_its_keys(monkeypatch, tmp_path):
    """Where run folders travel through a bucket, the worker learns only which actor gives its ranks their copies
    (never the URL), and each rank trains in the copy of its node, without the store's keys of its node."""
    env = node.run_env("127.0.0.1:6379", {"uses": "none", "env": {}}, storage="s3://runs/team",
                       actor="studio-run-r1-1")
    assert env["STUDIO_RUN_COPIES"] == "studio-run-r1-1" and "s3://" not in json.dumps(env)
    monkeypatch.setenv("STUDIO_RUN_COPIES", "studio-run-r0-1")
    assert "STUDIO_RUN_COPIES" not in node.run_env("127.0.0.1:6379", {"uses": "none", "env": {}})
    copy = tmp_path / "node-copy" / "r1"
    asked = []

    class Keeper:
        class copy_on:
            @staticmethod
            def remote(node_id, attempt, rank):
                asked.append((node_id, attempt, rank))
                return "copy-ref"

    fake_ray = SimpleNamespace(get=lambda ref: {"ref": {}, "copy-ref": str(copy)}[ref],
                               get_actor=lambda name, namespace: Keeper if name == "studio-run-r1-1" else None,
                               get_runtime_context=lambda: SimpleNamespace(get_node_id=lambda: "n" * 56))
    monkeypatch.setitem(sys.modules, "ray", fake_ray)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "the-nodes-key")
    monkeypatch.setattr(train, "node_address", lambda ray, node_id: "10.0.0.7")
    monkeypatch.setattr(train, "_write_to_train_log", lambda run_dir, rank: None)
    seen = {}

    def rank_main(run_dir, resume):
        import os

        seen.update(folder=run_dir, key=os.environ.get("AWS_SECRET_ACCESS_KEY"))
        return 0

    monkeypatch.setattr(train.distributed, "rank_main", rank_main)
    monkeypatch.setenv("RANK", "1")
    copy.mkdir(parents=True)
    train._rank({"run_dir": str(tmp_path / "drivers-copy"), "resume": False, "record": {}, "secrets": "ref",
                 "copies": "studio-run-r1-1", "attempt": 2})
    assert asked == [("n" * 56, 2, 1)] and seen == {"folder": copy, "key": None}
    assert list(copy.glob(".node-rank1-*.json")), "the rank says where it trained in its node's copy"
