"""The queue on a real Ray cluster: a head and a second node on loopback (tests/ray_cluster.py), each with one CPU.

- Queued runs become Ray work: three runs land on both nodes, never two on one node at once (each asks for one
  CPU), and each records the node it trained on; a run asking for a resource only node_b has trains there; one
  asking for a resource no node has waits, saying so, and stops at once.
- Stop, kill and resume work on a run on the cluster as they do on this machine.
- One run trains with two Ray Train workers on the two nodes (gloo) to the single-process run's test metrics, and
  survives losing a worker's node mid-run: it says which node it lost and resumes from its checkpoint.
- A node that sees another folder at the runs folder's path is named before any run goes to it.
- Where nodes share no folder with the studio, runs travel through object storage (an S3 bucket on loopback), a
  run over two such nodes too (each node's ranks train in a copy of the run).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from studio.base import files, runfolder, secrets
from studio.base import limits as policy
from studio.base.access import Person
from studio.base.errors import RunError
from studio.base.runfolder import RunFolder
from studio.cli import main as cli_main
from studio.config import RunConfig
from studio.runs.cluster import bucket, executor, storage, view
from studio.runs.store import Store, process_alive
from studio.training.checkpoints import last_checkpoint
from tests.object_store import bucket_on_loopback
from tests.ray_cluster_fixture import NODE_SECRET, studio_on_cluster
from tests.studio.runs.test_ownership import their_file
from tests.support import kill_active, tiny_config, wait_for

pytestmark = pytest.mark.slow
STEPS = dict(eval_strategy="steps", eval_steps=5, group_by_length=False, logging_steps=1)


@pytest.fixture(scope="module")
def cluster():
    with studio_on_cluster() as c:
        yield c


@pytest.fixture
def store(tmp_path, cluster):
    s = Store(tmp_path / "runs")
    assert s.cluster == cluster.address
    yield s
    kill_active(s)


def cfg(tiny_bert, csv, **training) -> RunConfig:
    return RunConfig.from_dict(tiny_config(tiny_bert, csv, "lora", **training))


def node_with(resource: str) -> str:
    import ray

    return next(n["NodeID"] for n in ray.nodes() if n.get("Alive") and resource in n["Resources"])


def test_queued_runs_go_where_ray_places_them_on_both_nodes(store, tiny_bert, separable_csv, capsys):
    ids = [store.create(cfg(tiny_bert, separable_csv, epochs=2)) for _ in range(3)]
    done = [store.wait(i, timeout=300) for i in ids]
    for run_id, st in zip(ids, done):
        assert st["status"] == "completed", (st.get("reason"), runfolder.tail_log(store.run_dir(run_id), 30))
        assert st["cluster"]["asks"]["cpus"] == 1 and st["node"]["executor"] == "ray"
    assert {st["node"]["node_id"] for st in done} == {node_with("node_a"), node_with("node_b")}
    # One CPU each: Ray never ran two runs on one node at the same time.
    for a in done:
        for b in done:
            if a is not b and a["node"]["node_id"] == b["node"]["node_id"]:
                assert a["finished_at"] <= b["started_at"] or b["finished_at"] <= a["started_at"]
    shown = view.text(view.snapshot(store))
    assert "2 nodes alive" in shown and "node_a 1" in shown and "node_b 1" in shown, shown
    # The same from the command line, as JSON.
    assert cli_main(["--runs-dir", str(store.root), "--ray", store.cluster, "cluster", "--json"]) == 0
    snap = json.loads(capsys.readouterr().out)
    assert sorted(n["total"].get("node_a", n["total"].get("node_b")) for n in snap["nodes"] if n["alive"]) == [1, 1]


def test_a_run_asks_for_what_its_config_names(store, tiny_bert, separable_csv):
    run_id = store.create(cfg(tiny_bert, separable_csv, epochs=1, cluster_resources="node_b:1"))
    st = store.wait(run_id, timeout=300)
    assert st["status"] == "completed" and st["node"]["node_id"] == node_with("node_b")
    # What the machine must offer is checked on the node that trains the run, not on the server that queued it.
    failed = store.wait(store.create(cfg(tiny_bert, separable_csv, epochs=1, liger_kernels=True)), timeout=300)
    assert failed["status"] == "failed" and "training.liger_kernels needs a CUDA GPU" in failed["reason"], failed
    # Nothing offers a100_pool: the run waits in Ray's queue, and says for what.
    waiting = store.create(cfg(tiny_bert, separable_csv, epochs=1, cluster_resources="a100_pool:1"))
    wait_for(lambda: store.status(waiting).get("cluster"), what="the run handed to Ray")
    time.sleep(2)
    assert store.status(waiting)["status"] == "queued"
    queued = view.snapshot(store)["queued"]
    assert queued == [{"run": waiting, "asks": store.status(waiting)["cluster"]["asks"],
                       "why": "no node has 1 a100_pool: it waits for a node that has to join"}], queued
    assert executor.work_present(store.status(waiting))
    # Someone else sees the resources, not the machines' addresses or whose run waits for what.
    other = view.snapshot(store.as_person(Person("bob")))
    assert other["address"] == "" and [n["address"] for n in other["nodes"]] == ["node 1", "node 2"]
    assert other["queued"] == [{"run": "another person's run", "asks": queued[0]["asks"], "why": ""}]
    with pytest.raises(RunError):
        store.as_person(Person("bob")).stop(waiting)
    store.stop(waiting)
    st = store.status(waiting)
    assert st["status"] == "stopped" and not executor.work_present(st)  # its place in Ray's queue went with it


def test_two_dispatchers_at_once_hand_a_run_to_ray_once(store, tiny_bert, separable_csv):
    """The app's upkeep thread and a request dispatch at the same moment (a fresh clone's suite saw Ray refuse the
    second actor's name, failing the request that started the run)."""
    import threading

    import ray

    for _ in range(3):
        run_id = store.create(cfg(tiny_bert, separable_csv, epochs=1, cluster_resources="nowhere:1"), start=False)
        gate, errors = threading.Barrier(3), []

        def dispatch():
            gate.wait()
            try:
                store.dispatch()
            except Exception as e:  # noqa: BLE001 - the test names it
                errors.append(e)

        threads = [threading.Thread(target=dispatch) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        ours = [a for a in ray.util.list_named_actors(all_namespaces=True)
                if a["name"].startswith(f"studio-run-{run_id}-")]
        assert [a["name"] for a in ours] == [f"studio-run-{run_id}-1"], ours
        store.stop(run_id)


def environment_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_stop_resume_and_kill_on_the_cluster(store, tiny_bert, separable_csv):
    run_id = store.create(cfg(tiny_bert, separable_csv, epochs=20, **STEPS))  # 100 steps
    rd = store.run_dir(run_id)
    wait_for(lambda: (runfolder.read_status(rd).get("step") or 0) >= 6, timeout=240, poll=0.1,
             what="a few steps on a node")
    # The machine's own run may use the server's secrets: the node's own token stands in for them.
    assert environment_of(runfolder.read_status(rd)["pid"]).get("HF_TOKEN") == NODE_SECRET
    store.stop(run_id)
    st = store.wait(run_id, timeout=120)
    assert st["status"] == "stopped" and st["step"] < 100, st.get("reason")
    assert any(RunFolder(rd).checkpoints.glob("checkpoint-*")), "a stopped run keeps its checkpoint"
    store.resume(run_id)
    # Handed to Ray at once, though the stopped run's actor may still be winding down (a CLI resume has no app
    # dispatching after it).
    assert store.status(run_id)["cluster"]["attempt"] == 2
    st = store.wait(run_id, timeout=300)
    assert st["status"] == "completed", (st.get("reason"), runfolder.tail_log(rd, 30))
    assert st["cluster"]["attempt"] == 2 and "resuming from checkpoint" in RunFolder(rd).log.read_text()
    steps = [r["step"] for r in runfolder.read_metrics(rd) if r["kind"] == "train"]
    assert steps == list(range(1, 101)), "every step once across the stop"

    # Kill a run of two Ray Train workers: its worker, and both ranks on their nodes, end at once. It is Bob's, who
    # may not use the server's secrets: its worker on the node has none of the node's either.
    store.limits = policy.OPEN.changed(server_secrets=False)
    bob = store.as_person(Person("bob"))
    killed = bob.create(RunConfig.from_dict(tiny_config(
        tiny_bert, their_file(store, Person("bob"), separable_csv), "lora", epochs=200, batch_size=4,
        num_processes=2, num_machines=2, **STEPS)))
    krd = store.run_dir(killed)
    wait_for(lambda: (runfolder.read_status(krd).get("step") or 0) >= 2, timeout=240, poll=0.1,
             what="the second run training")
    ranks = [files.read_json(p)["pid"] for p in krd.glob(".node-rank*.json")]
    worker = (runfolder.read_status(krd)["pid"], runfolder.read_status(krd)["pid_start"])
    assert len(ranks) == 2 and process_alive(*worker)
    seen = environment_of(worker[0])
    assert "HF_TOKEN" not in seen and seen["HF_TOKEN_PATH"] == secrets.NO_TOKEN_FILE, "no secret of the node's"
    store.kill(killed)
    assert store.status(killed)["status"] == "stopped"
    wait_for(lambda: not process_alive(*worker) and not any(process_alive(p, None) for p in ranks), timeout=60,
             what="the worker and both ranks to die with the run's actor")
    assert not executor.work_present(store.status(killed))


def test_one_run_trains_across_two_nodes_and_survives_losing_one(store, tiny_bert, separable_csv, cluster):
    alone = store.create(cfg(tiny_bert, separable_csv, epochs=2, batch_size=8, **STEPS))
    spread = store.create(cfg(tiny_bert, separable_csv, epochs=2, batch_size=4, num_processes=2, num_machines=2,
                              **STEPS))
    one, two = store.wait(alone, timeout=300), store.wait(spread, timeout=400)
    assert two["status"] == "completed", (two.get("reason"), runfolder.tail_log(store.run_dir(spread), 40))
    assert two["launch"]["launcher"] == "ray" and two["launch"]["backend"] == "gloo"
    assert len({w["node_id"] for w in two["worker_nodes"]}) == 2, two["worker_nodes"]
    # Two workers of 4 rows make the single process's batches of 8: the same scores on the test split.
    m1, m2 = one["test_metrics"], two["test_metrics"]
    assert m1 == pytest.approx(m2, abs=0.05), (m1, m2)
    first = [[r["loss"] for r in runfolder.read_metrics(store.run_dir(i)) if r["kind"] == "train"][0]
             for i in (alone, spread)]
    assert first[0] == pytest.approx(first[1], rel=0.02), first

    # A worker's node dies mid-run: the run says which, and goes on from its checkpoint when a node joins.
    run_id = store.create(cfg(tiny_bert, separable_csv, epochs=12, batch_size=4, num_processes=2, num_machines=2,
                              **STEPS))  # 60 steps: the kill lands a step after the first checkpoint (step 5)
    rd = store.run_dir(run_id)
    wait_for(lambda: last_checkpoint(rd), timeout=300, poll=0.1, what="a first whole checkpoint")
    cluster.kill_node("node_b")
    cluster.add_node("node_c")
    st = store.wait(run_id, timeout=400)
    assert st["status"] == "completed", (st.get("reason"), runfolder.tail_log(rd, 40))
    notes = (st.get("worker_restarts") or []) + (st.get("node_restarts") or [])
    assert notes and all(n["from_checkpoint"] for n in notes), notes
    log = RunFolder(rd).log.read_text()
    assert "lost" in log and "resuming from checkpoint" in log, log[-3000:]
    steps = [r["step"] for r in runfolder.read_metrics(rd) if r["kind"] == "train"]
    assert sorted(set(steps)) == list(range(1, 61)) and len(steps) == len(set(steps)), "every step once"


@pytest.mark.skipif(not shutil.which("unshare"), reason="needs unshare(1) for a node with its own mounts")
def test_a_node_that_does_not_share_the_runs_folder_is_named_before_any_run_goes_to_it(
        tmp_path, cluster, tiny_bert, separable_csv):
    runs = tmp_path / "runs"
    runs.mkdir()
    # node_x sees an empty file system at the runs folder's path (a mount the other nodes lack).
    mount = ["unshare", "-m", "sh", "-c", f"mount -t tmpfs none {runs} && exec \"$0\" \"$@\""]
    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("mount namespaces need root here")
    cluster.add_node("node_x", prefix=mount)
    try:
        storage.forget()
        problems = storage.check(runs)
        assert len(problems) == 1 and "cannot read the runs folder" in problems[0], problems
        store = Store(runs)
        run_id = store.create(cfg(tiny_bert, separable_csv, epochs=1))
        waiting = store.status(run_id)
        assert waiting["status"] == "queued" and "must reach the runs folder" in waiting["cluster"]["waiting"]
        assert view.snapshot(store)["queued"][0]["why"] == waiting["cluster"]["waiting"]
        store.stop(run_id)
    finally:
        cluster.kill_node("node_x")
        storage.forget()


def test_runs_travel_through_object_storage_and_train_in_a_copy_of_their_own(tmp_path, cluster, tiny_bert,
                                                                             separable_csv):
    """--cluster-storage: the studio's runs folder stays its own; each run's folder goes to its node through an
    S3 bucket on loopback, trains in the node's scratch copy, and comes back (progress, stop, resume, the model).
    The loopback nodes could still see the studio's folder: that the worker trains elsewhere is what is checked."""
    with bucket_on_loopback("cluster") as url:
        store = Store(tmp_path / "runs", cluster_storage=url)
        try:
            assert storage.check_bucket(url) == [], "both nodes read the studio's token and answer through the bucket"
            shown = view.text(view.snapshot(store))
            assert "run folders travel to the nodes through s3://studio-runs/cluster\n" in shown, shown
            assert "testing" not in shown and view.snapshot(store.as_person(Person("bob")))["bucket"] == ""
            # 400 steps: a stop travels through the bucket (the node looks every 3 s) before the run ends.
            run_id = store.create(cfg(tiny_bert, separable_csv, epochs=80, **STEPS))
            rd = store.run_dir(run_id)
            wait_for(lambda: (store.status(run_id).get("step") or 0) >= 6, timeout=240, poll=0.2,
                     what="steps read back through the bucket")
            beat = files.read_json(RunFolder(rd).node)
            scratch = Path(beat["scratch"])
            assert scratch.name == run_id and not scratch.is_relative_to(store.root), "trained in a copy of its own"
            worker = runfolder.read_status(rd)["pid"]
            assert str(scratch) in Path(f"/proc/{worker}/cmdline").read_text().replace("\0", " ")
            store.stop(run_id)
            st = store.wait(run_id, timeout=120)
            assert st["status"] == "stopped" and st["step"] < 400, st.get("reason")
            assert last_checkpoint(rd) is not None, "the stopped run's checkpoint came back to the studio"
            assert not runfolder.stop_requested(rd)
            store.resume(run_id)
            st = store.wait(run_id, timeout=300)
            assert st["status"] == "completed", (st.get("reason"), runfolder.tail_log(rd, 30))
            assert st["test_metrics"] and (RunFolder(rd).model / "adapter_config.json").is_file()
            assert "resuming from checkpoint" in RunFolder(rd).log.read_text()
            steps = [r["step"] for r in runfolder.read_metrics(rd) if r["kind"] == "train"]
            assert steps == list(range(1, 401)), "every step once across the stop"
            second = Path(files.read_json(RunFolder(rd).node)["scratch"])
            assert second.parent != scratch.parent, "the resumed run's actor has a copy of its own"
            wait_for(lambda: not scratch.exists() and not second.exists(), timeout=30,
                     what="the nodes' scratch copies removed once pushed")
            # A deleted run's copy goes from the bucket too.
            copy = bucket.RunCopy(url, run_id, rd)
            assert copy.listing()
            store.delete(run_id)
            assert copy.listing() == {}
        finally:
            kill_active(store)
            storage.forget()
    # A store nobody reaches is named before any run goes to it.
    dead = url.replace(url.split("endpoint_override=http://127.0.0.1:")[1].split("&")[0], "1")
    problems = storage.check_bucket(dead)
    assert len(problems) == 1 and problems[0].startswith("this studio cannot write to s3://studio-runs/cluster (")
    assert "testing:testing" not in storage.sentence(tmp_path, problems, dead)


def test_a_run_through_object_storage_survives_losing_its_node(tmp_path, cluster, tiny_bert, separable_csv):
    """The node training a run dies: Ray starts the run's actor again on a node with room, which fetches the last
    push from the bucket (its checkpoint with it) and goes on; the studio takes the new node's word, not the lost
    one's."""
    cluster.add_node("node_d", resources={"pool_d": 1})
    with bucket_on_loopback("loss") as url:
        store = Store(tmp_path / "runs", cluster_storage=url)
        try:
            run_id = store.create(cfg(tiny_bert, separable_csv, epochs=60, cluster_resources="pool_d:1", **STEPS))
            rd = store.run_dir(run_id)
            wait_for(lambda: store.status(run_id)["status"] == "running" and last_checkpoint(rd), timeout=240,
                     poll=0.2, what="a checkpoint back at the studio")
            lost = store.status(run_id)["node"]
            cluster.kill_node("node_d")
            cluster.add_node("node_e", resources={"pool_d": 1})
            st = store.wait(run_id, timeout=300)
            assert st["status"] == "completed", (st.get("reason"), runfolder.tail_log(rd, 30))
            note, = st["node_restarts"]
            assert note["lost_node_id"] == lost["node_id"] and note["now_node_id"] == node_with("node_e")
            assert note["from_checkpoint"] and "was lost; the run goes on" in RunFolder(rd).log.read_text()
            steps = [r["step"] for r in runfolder.read_metrics(rd) if r["kind"] == "train"]
            assert sorted(set(steps)) == list(range(1, 301)) and len(steps) == 300, "every step once"
        finally:
            kill_active(store)


@pytest.mark.skipif(not shutil.which("unshare"), reason="needs unshare(1) for a node with its own mounts")
def test_nodes_that_cannot_see_the_runs_folder_train_runs_through_object_storage(
        tmp_path, cluster, tiny_bert, separable_csv):
    """What --cluster-storage is for: node_y and node_z see an empty file system where the studio's runs folder is
    (the folder check names them), yet a run placed on node_y trains there and comes back whole, and a run over
    both (a Ray Train rank on each) trains in a copy of the run on each node, kept in step through the bucket: it
    stops, resumes from rank 0's checkpoint, loses rank 0's node (its copy with it), goes on from the last
    checkpoint that reached the bucket with both ranks in the other node's one copy, and completes with every
    step once."""
    runs = tmp_path / "runs"
    runs.mkdir()
    mount = ["unshare", "-m", "sh", "-c", f"mount -t tmpfs none {runs} && exec \"$0\" \"$@\""]
    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("mount namespaces need root here")
    cluster.env["AWS_SECRET_ACCESS_KEY"] = "the-nodes-key"  # a node's own key to the store: its actors' alone
    try:
        # Room for both ranks on each: after one node is lost, the run goes on with both on the other.
        cluster.add_node("node_y", cpus=2, prefix=mount, resources={"pool_y": 1, "ranks_yz": 2})
        cluster.add_node("node_z", cpus=2, prefix=mount, resources={"ranks_yz": 2})
    finally:
        cluster.env.pop("AWS_SECRET_ACCESS_KEY")
    with bucket_on_loopback("apart") as url:
        store = Store(runs, cluster_storage=url)
        try:
            storage.forget()
            problems = storage.check(runs)  # the shared-folder check: node_y and node_z are the nodes that fail it
            assert len(problems) == 2 and node_with("pool_y")[:8] in " ".join(problems), problems
            assert "cannot read the runs folder" in problems[0]
            run_id = store.create(cfg(tiny_bert, separable_csv, epochs=2, cluster_resources="pool_y:1"))
            st = store.wait(run_id, timeout=300)
            assert st["status"] == "completed", (st.get("reason"), runfolder.tail_log(store.run_dir(run_id), 30))
            assert st["node"]["node_id"] == node_with("pool_y") and st["test_metrics"]
            assert (RunFolder(store.run_dir(run_id)).model / "adapter_config.json").is_file()

            # 750 steps: a stop reaches rank 0's copy through the bucket (its copy looks every 3 s) before the end,
            # and after the resume, so does the loss of rank 0's node.
            spread = store.create(cfg(tiny_bert, separable_csv, epochs=150, batch_size=4, num_processes=2,
                                      num_machines=2, cluster_resources="ranks_yz:1",
                                      **{**STEPS, "eval_steps": 50}))
            rd = store.run_dir(spread)
            wait_for(lambda: (store.status(spread).get("step") or 0) >= 6, timeout=300, poll=0.2,
                     what="rank 0's steps read back through the bucket")
            store.stop(spread)
            stopped = store.wait(spread, timeout=180)
            assert stopped["status"] == "stopped" and stopped["step"] < 750, (stopped.get("reason"), stopped["step"])
            assert last_checkpoint(rd) is not None, "rank 0's checkpoint came back to the studio"
            assert {w["node_id"] for w in stopped["worker_nodes"]} == {node_with("node_y"), node_with("node_z")}
            folders = {Path(w["folder"]) for w in stopped["worker_nodes"]}
            drivers = Path(files.read_json(RunFolder(rd).node)["scratch"])
            assert len(folders) == 2 and drivers not in folders and all(f.name == spread for f in folders), (
                "each node's rank trained in a copy of its own", folders, drivers)
            resumed_at = time.time()
            store.resume(spread)

            def rank_0_again():
                store.status(spread)
                there = [files.read_json(p) or {} for p in rd.glob(".node-rank0-*.json")]
                return next((n for n in there if n.get("at", 0) > resumed_at), None)

            lead = wait_for(rank_0_again, timeout=300, poll=0.1, what="the resumed run's rank 0, through the bucket")
            environ = Path(f"/proc/{lead['pid']}/environ").read_bytes().split(b"\0")
            assert b"AWS_SECRET_ACCESS_KEY=" in environ, "the rank (the run's own code) started without the key"
            lost = "node_y" if lead["node_id"] == node_with("node_y") else "node_z"
            left = node_with("node_z" if lost == "node_y" else "node_y")
            cluster.kill_node(lost)  # rank 0's copy goes with it
            two = store.wait(spread, timeout=400)
            assert two["status"] == "completed", (two.get("reason"), runfolder.tail_log(rd, 40))
            assert two["launch"]["launcher"] == "ray" and two["test_metrics"]
            note, = two["worker_restarts"]
            assert "lost the node of rank 0" in note["lost"] and note["from_checkpoint"], note
            assert [w["node_id"] for w in two["worker_nodes"]] == [left, left]
            drivers = Path(files.read_json(RunFolder(rd).node)["scratch"])
            folder, = {Path(w["folder"]) for w in two["worker_nodes"]}
            assert folder != drivers and folder.name == spread, "the node's two ranks trained in its one copy"
            assert (RunFolder(rd).model / "adapter_config.json").is_file()
            steps = [r["step"] for r in runfolder.read_metrics(rd) if r["kind"] == "train"]
            assert steps == list(range(1, 751)), "every step once across the stop and the lost node"
            log = RunFolder(rd).log.read_text()
            assert "attempt 2 starts from the last checkpoint" in log and "resuming from checkpoint" in log
            assert f"run {spread} completed" in log, log[-2000:]
            assert (rd / "train.rank1.log").is_file(), "rank 1 wrote its log in a copy of its node's"
            assert not list(rd.glob(".result-rank*")) and not list(rd.glob(".node-rank*")), "read and cleared"
            scratch = Path(cluster.env["STUDIO_CLUSTER_SCRATCH"])
            wait_for(lambda: not list(scratch.glob(f"*/*-ranks*-*/{spread}")), timeout=30,
                     what="the ranks' copies removed once pushed (the lost node's by the next ones on its disk)")
        finally:
            kill_active(store)
            for name in ("node_y", "node_z"):
                if name in cluster.nodes:
                    cluster.kill_node(name)
            storage.forget()
