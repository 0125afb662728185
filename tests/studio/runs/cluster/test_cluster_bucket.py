"""Run folders through object storage (studio.runs.cluster.bucket), without a cluster: an S3-compatible store on
loopback (tests/object_store.py), the studio's folder on one side and a node's scratch copy on the other.

- A run's folder goes up whole and comes down whole on the node; what the node changes comes back to the studio
  (metrics, the log, a new checkpoint, a removed one, the status), what the studio owns never does.
- A stop travels the other way, and a finished status arrives after the files it names.
- A node's late push never undoes a kill, a stop or a newer attempt the studio recorded.
- The URL's credentials are never shown; a URL that is not one is refused with the fix.
"""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from studio.base import files, runfolder
from studio.base.runfolder import RunFolder
from studio.runs.cluster import bucket
from tests.object_store import bucket_on_loopback


@pytest.fixture(scope="module")
def url():
    with bucket_on_loopback() as u:
        yield u


def a_run_folder(root, run_id="20261207-1200-abc123"):
    rd = root / run_id
    (rd / "data").mkdir(parents=True)
    files.atomic_write_json(RunFolder(rd).config, {"training": {"epochs": 1}})
    files.atomic_write_json(RunFolder(rd).access, {"owner": "alice", "readers": []})
    (rd / "data" / "train.parquet").write_bytes(b"PAR1" + bytes(range(256)) * 8 + b"PAR1")
    runfolder.write_status(rd, "queued", cluster={"actor": f"studio-run-{run_id}-1", "attempt": 1})
    return rd


def hand_over(url, rd) -> int:
    """As a submission does: the folder first, then (under the registry's lock) its status."""
    copy = bucket.RunCopy(url, rd.name, rd)
    return copy.hand_over() + copy.hand_over(status_only=True)


def test_a_run_goes_to_its_node_and_what_the_node_writes_comes_back(url, tmp_path):
    head = a_run_folder(tmp_path / "head")
    run_id = head.name
    assert hand_over(url, head) == 4  # config, access, the data; then the status
    node = bucket.RunCopy(url, run_id, tmp_path / "node" / run_id)
    scratch = node.fetch()
    assert (scratch / "data" / "train.parquet").read_bytes() == (head / "data" / "train.parquet").read_bytes()
    assert runfolder.read_status(scratch)["cluster"]["attempt"] == 1
    pulled = bucket.RunCopy(url, run_id, head)
    assert pulled.pull(bucket.take_status) == [], "nothing new: the studio's own files are not fetched back"

    # The node claims the run and trains: status, metrics, log and a first checkpoint come back.
    runfolder.write_status(scratch, "running", claimed_at=time.time(), step=5, node={"executor": "ray"})
    runfolder.MetricsWriter(scratch).append({"kind": "train", "step": 5, "loss": 0.5})
    (RunFolder(scratch).log).write_text("[studio] run started on cpu\n")
    (scratch / "checkpoints" / "checkpoint-5").mkdir(parents=True)
    (scratch / "checkpoints" / "checkpoint-5" / "adapter.bin").write_bytes(b"5" * 1000)
    # What the studio owns is never taken back from a node, whatever the node did to its copy.
    files.atomic_write_json(RunFolder(scratch).access, {"owner": "mallory", "readers": ["*"]})
    assert node.push() == 4  # status, metrics, log, checkpoint: not access.json
    got = pulled.pull(bucket.take_status)
    assert set(got) == {"metrics.jsonl", "train.log", "checkpoints/checkpoint-5/adapter.bin", "status.json"}
    assert runfolder.read_status(head)["status"] == "running" and runfolder.read_status(head)["step"] == 5
    assert runfolder.read_metrics(head)[0]["loss"] == 0.5
    assert files.read_json(RunFolder(head).access)["owner"] == "alice"
    assert node.push() == 0, "only what changed goes up"

    # The trainer keeps the latest checkpoint only: the one it removed goes from the studio's copy too.
    (scratch / "checkpoints" / "checkpoint-10").mkdir()
    (scratch / "checkpoints" / "checkpoint-10" / "adapter.bin").write_bytes(b"10" * 500)
    (scratch / "checkpoints" / "checkpoint-5" / "adapter.bin").unlink()
    (scratch / "checkpoints" / "checkpoint-5").rmdir()
    node.push()
    pulled.pull(bucket.take_status)
    assert sorted(p.name for p in (head / "checkpoints").iterdir()) == ["checkpoint-10"]

    # A stop asked for on the studio's side reaches the node's folder at its next push.
    runfolder.request_stop(head)
    runfolder.write_status(head, "stopping")
    pulled.ask_stop()
    node.push()
    assert runfolder.stop_requested(scratch)
    pulled.pull(bucket.take_status)
    assert runfolder.read_status(head)["status"] == "stopping", "a node still training does not undo the stop"
    runfolder.write_status(scratch, "stopped", finished_at=time.time(), reason="Stopped by the user.")
    runfolder.clear_stop(scratch)
    (scratch / "model").mkdir()
    (scratch / "model" / "adapter.bin").write_bytes(b"m" * 300)
    node.push()
    pulled.pull(bucket.take_status)
    assert runfolder.read_status(head)["status"] == "stopped" and (head / "model" / "adapter.bin").exists()


def test_a_finished_status_goes_up_after_the_files_it_names(url, tmp_path, monkeypatch):
    """The worker may save its model and say `completed` while a push is under way: that push sends the status as
    it was before the files were listed, so the bucket never says completed without the model."""
    head = a_run_folder(tmp_path / "head", "20261207-1201-def456")
    hand_over(url, head)
    node = bucket.RunCopy(url, head.name, tmp_path / "node" / head.name)
    scratch = node.fetch()
    runfolder.write_status(scratch, "running", claimed_at=time.time())
    listed = bucket.RunCopy._local_files

    def finishing_meanwhile(self):
        found = listed(self)
        (scratch / "model").mkdir(exist_ok=True)
        (scratch / "model" / "weights.bin").write_bytes(b"w" * 2000)
        runfolder.write_status(scratch, "completed", finished_at=time.time())
        return found

    def in_the_bucket():
        with node.fs.open_input_stream(f"{node.remote}/status.json") as src:
            return json.loads(src.read())["status"], "model/weights.bin" in node.listing()

    monkeypatch.setattr(bucket.RunCopy, "_local_files", finishing_meanwhile)
    node.push()
    assert in_the_bucket() == ("running", False)
    monkeypatch.undo()
    node.push()
    assert in_the_bucket() == ("completed", True)


def test_a_nodes_late_push_never_undoes_what_the_studio_recorded():
    take = bucket.take_status
    place = {"attempt": 2, "submitted_at": 50.0}
    claimed = {"status": "running", "claimed_at": 100.0, "cluster": place, "step": 7}
    # Killed or stopped while queued on the studio's side: the node's word no longer counts.
    assert take({"status": "stopped", "claimed_at": 100.0, "cluster": place}, claimed) is None
    # An earlier place in Ray's queue (the run was resumed since): its actor's push is old news.
    assert take({"status": "queued", "cluster": {"attempt": 3, "submitted_at": 60.0}}, claimed) is None
    # The node's claim of the current attempt is taken, and its progress after.
    assert take({"status": "queued", "cluster": place}, claimed) == claimed
    assert take({**claimed, "step": 3}, claimed) == claimed
    # A stop asked for stays `stopping` until the node says it stopped.
    assert take({**claimed, "status": "stopping"}, claimed)["status"] == "stopping"
    assert take({**claimed, "status": "stopping"}, {**claimed, "status": "stopped"})["status"] == "stopped"
    # Resumed on the studio's side, before its new place in Ray's queue: the stopped attempt's last push is old
    # (the studio's own clock says so: resumed after it was last handed to Ray).
    stopped = {**claimed, "status": "stopped"}
    resumed = {"status": "queued", "claimed_at": 100.0, "cluster": place, "resumed_at": 400.0}
    assert take(resumed, stopped) is None
    assert take({**resumed, "cluster": {**place, "submitted_at": 401.0}}, {**claimed, "status": "running"})
    # A lost node (failed on the studio's side): its last word stays out, its end or Ray's restart elsewhere
    # (one more note, counted rather than compared across two machines' clocks) comes through.
    lost = {"status": "failed", "lost_node": True, "claimed_at": 100.0, "cluster": place}
    assert take(lost, claimed) is None
    moved = {**claimed, "claimed_at": 90.0, "node_restarts": [{"lost": "10.0.0.7"}]}
    assert take(lost, moved) == moved, "a node whose clock is behind the studio's still counts"
    assert take(lost, {**claimed, "status": "completed"})["status"] == "completed"
    assert take({**claimed, "node_restarts": [{"lost": "10.0.0.7"}]}, claimed) is None, "the lost node's echo"
    # Called lost while the store (or the studio) was away, not the node: its news well after the call counts.
    lost_at = {**lost, "finished_at": 1000.0}
    assert take(lost_at, {**claimed, "updated_at": 995.0}) is None
    assert take(lost_at, {**claimed, "updated_at": 1030.0})["status"] == "running"
    # Work that failed on its node before it could claim the run: the studio hears of it.
    early = {"status": "failed", "reason": "Its work on the cluster failed: OSError", "cluster": place}
    assert take({"status": "queued", "cluster": place}, early) == early


def test_the_url_is_shown_without_its_credentials_and_a_folder_is_refused():
    url = "s3://KEY:SECRET@bucket/prefix?endpoint_override=http://10.0.0.5:9000&region=eu-west-1"
    assert bucket.shown(url) == "s3://bucket/prefix"
    assert bucket.is_url(url) and not bucket.is_url("/shared/runs") and not bucket.is_url("C:\\runs")
    with pytest.raises(ValueError, match="not '/shared/runs'"):
        bucket.check_url("/shared/runs")
    with pytest.raises(ValueError, match="--runs-dir on a file system every node mounts"):
        bucket.check_url("file:///shared/runs")
    with pytest.raises(ValueError, match="cannot be opened") as e:
        bucket.check_url("s3://KEY:SECRET@bucket/prefix?no_such_option=1")
    assert "SECRET" not in str(e.value)


def test_each_actor_of_a_run_keeps_a_scratch_copy_of_its_own(monkeypatch, tmp_path):
    """An actor winding down (a stopped run) removes its copy; the next actor of the same run on that node has
    another, named for the run as a worker expects."""
    monkeypatch.setenv(bucket.SCRATCH_ENV, str(tmp_path))
    a = bucket.scratch_dir("s3://b/p", "run1", "studio-run-run1-1-4242")
    b = bucket.scratch_dir("s3://b/p", "run1", "studio-run-run1-2-4343")
    assert a.name == b.name == "run1" and a.parent != b.parent and a.is_relative_to(tmp_path)
    assert a.parent.parent != bucket.scratch_dir("s3://b/q", "run1", "studio-run-run1-1-4242").parent.parent


def test_only_what_a_bucket_cannot_carry_is_refused(tmp_path):
    """A run's uploads are in its own data/ splits (the page's upload lives under the runs folder); another run's
    folder (a teacher, a judge) is not, and is refused with the way out."""
    from studio.runs.cluster.executor import not_through_a_bucket
    from studio.runs.store import Store

    store = Store(tmp_path / "runs", cluster="127.0.0.1:1", cluster_storage="s3://runs/team")
    teacher = a_run_folder(store.root, "20261207-1100-aaa111")
    rd = a_run_folder(store.root)
    (store.root / "uploads").mkdir()
    files.atomic_write_json(RunFolder(rd).config, {"data": {"train": str(store.root / "uploads" / "a.csv")},
                                                   "model": str(rd / "model")})
    assert not_through_a_bucket(store, rd) is None
    files.atomic_write_json(RunFolder(rd).distill, {"teacher": teacher.name, "folder": str(teacher / "model")})
    why = not_through_a_bucket(store, rd)
    assert why.startswith(f"This run reads {teacher.name} in the runs folder (named in distill.json")
    assert "rather than --cluster-storage" in why
    RunFolder(rd).distill.unlink()
    # A sweep's trial reports to its study, a database in the sweep's folder.
    files.atomic_write_json(RunFolder(rd).sweep_trial, {"storage": f"sqlite:///{store.root}/sweeps/s1/study.db"})
    assert "sweeps in the runs folder (named in sweep_trial.json" in not_through_a_bucket(store, rd)


def test_work_that_failed_before_its_copy_says_why_to_the_studio(url, tmp_path):
    """A node whose disk is full or whose credentials fail cannot fetch the run: its actor writes the failure into
    the bucket's status, and the studio shows it rather than handing the run to Ray again and again."""
    head = a_run_folder(tmp_path / "head", "20261207-1202-fff000")
    runfolder.write_status(head, "queued", cluster={"actor": "a", "attempt": 1, "submitted_at": time.time()})
    hand_over(url, head)
    bucket.RunCopy(url, head.name, tmp_path / "node" / head.name).report_failure(
        "Its work on the cluster failed: OSError: [Errno 28] No space left on device")
    bucket.RunCopy(url, head.name, head).pull(bucket.take_status)
    st = runfolder.read_status(head)
    assert st["status"] == "failed" and "No space left on device" in st["reason"]


def test_keys_that_climb_out_of_the_run_folder_are_ignored(url, tmp_path):
    head = a_run_folder(tmp_path / "head", "20261207-1203-aaa000")
    copy = bucket.RunCopy(url, head.name, head)
    hand_over(url, head)
    # Keys are opaque to S3: boto3 writes `..` as it is (pyarrow would have tidied the path first).
    import boto3

    port = url.split("endpoint_override=http://127.0.0.1:")[1].split("&")[0]
    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id="testing",
                      aws_secret_access_key="testing", region_name="us-east-1")
    key = copy.remote.split("/", 1)[1]
    for bad in ("../../escaped.txt", "data/../../../escaped2.txt"):
        s3.put_object(Bucket=copy.remote.split("/")[0], Key=f"{key}/{bad}", Body=b"x")
    assert set(copy.listing()) == {"config.json", "access.json", "status.json", "data/train.parquet"}
    node = bucket.RunCopy(url, head.name, tmp_path / "node" / "deep" / head.name)
    node.fetch()
    assert not list(tmp_path.rglob("escaped*")), "nothing written outside the run's folder"


def test_a_large_file_that_keeps_growing_goes_up_every_half_minute_and_at_the_end(url, tmp_path, monkeypatch):
    """Each upload sends a file whole: a long run's train.log of many megabytes is not sent every 3 s."""
    head = a_run_folder(tmp_path / "head", "20261207-1204-bbb000")
    hand_over(url, head)
    node = bucket.RunCopy(url, head.name, tmp_path / "node" / head.name)
    scratch = node.fetch()
    log = RunFolder(scratch).log
    log.write_bytes(b"x" * bucket.SMALL)
    assert node.push() == 1, "a new file goes up at once"
    with open(log, "ab") as out:
        out.write(b"more\n")
    runfolder.MetricsWriter(scratch).append({"kind": "train", "step": 1})
    assert node.push() == 1, "the small metrics file goes up, the grown log waits"
    monkeypatch.setattr(bucket, "BIG_EVERY_S", 0.0)
    assert node.push() == 1, "its half-minute has passed"
    with open(log, "ab") as out:
        out.write(b"last\n")
    monkeypatch.setattr(bucket, "BIG_EVERY_S", 30.0)
    assert node.push() == 0 and node.push(final=True) == 1
    assert node.listing()["train.log"][0] == log.stat().st_size
    # A finished status never goes up ahead of a file written after the last push (a model saved twice).
    with open(log, "ab") as out:
        out.write(b"run completed\n")
    runfolder.write_status(scratch, "completed", finished_at=time.time())
    assert node.push() == 2 and node.listing()["train.log"][0] == log.stat().st_size


def test_a_checkpoint_never_looks_whole_in_the_bucket_with_torn_weights(url, tmp_path, monkeypatch):
    """An upload may catch a checkpoint's weights half written; once its marker (trainer_state.json, written last)
    is there, the weights go up again at once, ahead of it, not half a minute later: a node lost meanwhile would
    leave a checkpoint that looks whole and cannot be resumed from."""
    head = a_run_folder(tmp_path / "head", "20261207-1205-ccc000")
    hand_over(url, head)
    node = bucket.RunCopy(url, head.name, tmp_path / "node" / head.name)
    ck = node.fetch() / "checkpoints" / "checkpoint-5"
    ck.mkdir(parents=True)
    (ck / "model.safetensors").write_bytes(b"w" * bucket.SMALL)  # half of it, as the push lists it
    assert node.push() == 1
    with open(ck / "model.safetensors", "ab") as out:
        out.write(b"w" * bucket.SMALL)
    (ck / "trainer_state.json").write_text('{"global_step": 5}')
    order = []
    upload = bucket.RunCopy.upload
    monkeypatch.setattr(bucket.RunCopy, "upload", lambda self, rel: order.append(rel) or upload(self, rel))
    assert node.push() == 2
    assert order == ["checkpoints/checkpoint-5/model.safetensors", "checkpoints/checkpoint-5/trainer_state.json"], \
        "the weights again, then the marker"
    assert node.listing()["checkpoints/checkpoint-5/model.safetensors"][0] == 2 * bucket.SMALL


def test_the_studio_never_counts_as_held_what_it_does_not_hold(url, tmp_path, monkeypatch):
    """After a restart of the studio its first pull takes the small files again (a heartbeat of the same size
    with a newer time); a resume hands the folder over without counting the node's last push (a checkpoint the
    studio never pulled before a kill) as its own; a stop the store did not take is asked again."""
    head = a_run_folder(tmp_path / "head", "20261207-1205-ccc000")
    studio = bucket.RunCopy(url, head.name, head)
    hand_over(url, head)
    node = bucket.RunCopy(url, head.name, tmp_path / "node" / head.name)
    scratch = node.fetch()
    runfolder.write_status(scratch, "running", claimed_at=time.time())
    files.atomic_write_json(RunFolder(scratch).node, {"heartbeat_at": 1000.0})
    node.push()
    studio.pull(bucket.take_status)
    files.atomic_write_json(RunFolder(scratch).node, {"heartbeat_at": 2000.0})
    node.push()
    monkeypatch.setattr(bucket, "_PULLED", {})  # the studio restarted
    studio.pull(bucket.take_status)
    assert files.read_json(RunFolder(head).node)["heartbeat_at"] == 2000.0

    (scratch / "checkpoints" / "checkpoint-300").mkdir(parents=True)
    (scratch / "checkpoints" / "checkpoint-300" / "adapter.bin").write_bytes(b"3" * 3000)
    node.push()  # killed before the studio's next pull; then resumed
    runfolder.write_status(head, "queued", resumed_at=time.time())
    hand_over(url, head)
    studio.pull(bucket.take_status)
    assert (head / "checkpoints" / "checkpoint-300" / "adapter.bin").is_file()

    runfolder.request_stop(head)
    runfolder.write_status(head, "stopping")  # the STOP's upload failed when it was asked for
    studio.pull(bucket.take_status)
    assert "STOP" in studio.listing()


def test_a_pull_never_brings_back_a_deleted_run(url, tmp_path):
    head = a_run_folder(tmp_path / "head", "20261207-1206-ddd000")
    studio = bucket.RunCopy(url, head.name, head)
    hand_over(url, head)
    node = bucket.RunCopy(url, head.name, tmp_path / "node" / head.name)
    scratch = node.fetch()
    runfolder.MetricsWriter(scratch).append({"kind": "train", "step": 1})
    node.push()
    import shutil

    shutil.rmtree(head)
    studio.pull(bucket.take_status)
    assert not head.exists()


def test_copies_of_actors_that_are_gone_are_swept_from_the_node(monkeypatch, tmp_path):
    """A killed run's actor cannot remove its copy; the next actor to start on that node does."""
    import subprocess
    import sys

    monkeypatch.setenv(bucket.SCRATCH_ENV, str(tmp_path))
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    dead = bucket.scratch_dir("s3://b/p", "run1", f"studio-run-run1-1-{done.pid}")
    alive = bucket.scratch_dir("s3://b/p", "run2", f"studio-run-run2-1-{os.getpid()}")
    other = bucket.scratch_dir("s3://b/q", "run3", f"studio-run-run3-1-{done.pid}")
    for folder in (dead, alive, other):
        (folder / "data").mkdir(parents=True)
    assert bucket.sweep_scratch("s3://b/p") == [dead.parent]
    assert not dead.parent.exists() and alive.is_dir() and other.is_dir(), "only this bucket's, only the dead"


def test_the_ranks_copies_of_a_run_over_several_nodes_meet_in_the_bucket(url, tmp_path):
    """A run over several nodes: the driver's copy stands aside while each node's ranks train in a copy of their
    own. Each copy sends what its ranks wrote (their results and nodes, hidden files that travel all the same; a
    shard of a checkpoint each); a checkpoint rank 0 rotates away goes with the other ranks' shards in it; the
    driver's copy then takes in their small files and the log it would otherwise overwrite, not their weights."""
    head = a_run_folder(tmp_path / "head", "20261207-1300-ranks1")
    hand_over(url, head)
    driver = bucket.RunCopy(url, head.name, tmp_path / "a" / head.name)
    mine = driver.fetch()
    runfolder.write_status(mine, "running", claimed_at=time.time(), launch={"launcher": "ray"})
    (RunFolder(mine).log).write_text("[studio] attempt 1: 2 Ray Train workers\n" + "x" * bucket.SMALL)
    files.atomic_write_json(mine / ".result-rank0.json", {"status": "failed"})  # the last attempt's
    driver.push()
    (mine / ".result-rank0.json").unlink()  # the driver clears the results before an attempt
    driver.push()  # as Pushes.hold does before the ranks fetch
    lead = bucket.RunCopy(url, head.name, tmp_path / "x" / head.name)
    other = bucket.RunCopy(url, head.name, tmp_path / "y" / head.name)
    x, y = lead.fetch(), other.fetch()
    assert not (x / ".result-rank0.json").exists(), "a cleared result does not reach the next attempt's ranks"
    for folder, rank in ((x, 0), (y, 1)):
        shard = folder / "checkpoints" / "checkpoint-5" / f"shard-{rank}.bin"
        shard.parent.mkdir(parents=True, exist_ok=True)
        shard.write_bytes(bytes([rank]) * 2000)
        files.atomic_write_json(folder / f".node-rank{rank}-{100 + rank}.json", {"rank": rank})
        files.atomic_write_json(folder / f".result-rank{rank}.json", {"status": "completed", "rank": rank})
    (x / "checkpoints" / "checkpoint-5" / "trainer_state.json").write_text("{}")
    with open(RunFolder(x).log, "a") as log:
        log.write("rank 0 trained\n")
    runfolder.write_status(x, "running", step=5)
    assert other.push() == 3, "rank 1's copy sends only what its ranks wrote: its shard, node and result"
    lead.push(whole_folders=True)
    names = set(lead.listing())
    assert {".result-rank0.json", ".result-rank1.json", ".node-rank1-101.json",
            "checkpoints/checkpoint-5/shard-0.bin", "checkpoints/checkpoint-5/shard-1.bin"} <= names
    assert not any(n.endswith(".tmp") for n in names), "a file on its way into place never travels"

    # Rank 0 rotates checkpoint-5 away for checkpoint-10: rank 1's shard of it goes from the bucket too.
    (x / "checkpoints" / "checkpoint-10").mkdir()
    (x / "checkpoints" / "checkpoint-10" / "trainer_state.json").write_text('{"global_step": 10}')
    for p in (x / "checkpoints" / "checkpoint-5").iterdir():
        p.unlink()
    (x / "checkpoints" / "checkpoint-5").rmdir()
    lead.push(whole_folders=True)
    assert not any(n.startswith("checkpoints/checkpoint-5/") for n in lead.listing())

    # The attempt ends: the driver's copy takes in the ranks' small files and the longer log, not their weights.
    (x / "checkpoints" / "checkpoint-10" / "shard-0.bin").write_bytes(b"w" * (bucket.SMALL + 10))
    lead.push(final=True, whole_folders=True)
    worker_output = open(RunFolder(mine).log, "a", encoding="utf-8")  # the worker appends to it all along
    got = set(driver.refresh(in_place=frozenset({"train.log"})))
    assert {".result-rank0.json", ".result-rank1.json", ".node-rank0-100.json", "train.log", "status.json",
            "checkpoints/checkpoint-10/trainer_state.json"} <= got
    assert not (mine / "checkpoints" / "checkpoint-10" / "shard-0.bin").exists(), "large and new: left there"
    assert RunFolder(mine).log.read_text().endswith("rank 0 trained\n")
    assert runfolder.read_status(mine)["step"] == 5
    # The driver's pushes go on from there: its own end of the run (in the log the worker holds open), and no
    # file of the ranks' deleted.
    with worker_output:
        worker_output.write("[studio] run completed\n")
    assert driver.push(final=True) == 1
    assert RunFolder(mine).log.read_text().endswith("rank 0 trained\n[studio] run completed\n")
    assert "checkpoints/checkpoint-10/shard-0.bin" in driver.listing()


def test_a_file_the_node_removed_is_gone_from_the_studio_before_the_run_reads_as_finished(url, tmp_path, monkeypatch):
    """The studio stops pulling a run once its status is finished: a file the node removed in its last push (the
    result the driver read, a rotated checkpoint) must go from the bucket before that status arrives, or the
    studio keeps it for good."""
    head = a_run_folder(tmp_path / "head", "20261207-1206-ddd000")
    hand_over(url, head)
    node = bucket.RunCopy(url, head.name, tmp_path / "node" / head.name)
    scratch = node.fetch()
    studio = bucket.RunCopy(url, head.name, head)
    runfolder.write_status(scratch, "running", claimed_at=time.time())
    files.atomic_write_json(scratch / ".result-rank0.json", {"status": "completed"})
    node.push()
    studio.pull(bucket.take_status)
    assert (head / ".result-rank0.json").is_file()
    (scratch / ".result-rank0.json").unlink()
    runfolder.write_status(scratch, "completed", finished_at=time.time())
    seen = []
    delete = bucket.RunCopy.delete

    def a_pull_meanwhile(self, rel):  # the studio reads the run while the node's last push is under way
        studio.pull(bucket.take_status)
        seen.append((runfolder.read_status(head)["status"], (head / ".result-rank0.json").exists()))
        delete(self, rel)

    monkeypatch.setattr(bucket.RunCopy, "delete", a_pull_meanwhile)
    node.push()
    monkeypatch.undo()
    assert seen and ("completed", True) not in seen, seen
    studio.pull(bucket.take_status)
    assert runfolder.read_status(head)["status"] == "completed" and not (head / ".result-rank0.json").exists()


def test_the_drivers_copy_keeps_its_own_word_when_it_takes_in_the_ranks(url, tmp_path, monkeypatch):
    """What the driver wrote while its copy stood aside stays: the status its worker wrote as it failed, the lines
    it printed (after the bucket's log, rank 0's), the files it made (Ray Train's records); an empty answer from
    the store removes nothing."""
    head = a_run_folder(tmp_path / "head", "20261207-1207-eee000")
    hand_over(url, head)
    driver = bucket.RunCopy(url, head.name, tmp_path / "a" / head.name)
    mine = driver.fetch()
    RunFolder(mine).log.write_text("[studio] attempt 1\n")
    driver.push(final=True)  # as Pushes.hold does
    lead = bucket.RunCopy(url, head.name, tmp_path / "x" / head.name)
    x = lead.fetch()
    with open(RunFolder(x).log, "a") as log:
        log.write("rank 0 trained\n")
    (x / "train.rank1.log").write_text("rank 1 trained\n")  # rank 1's, on this node in this test
    runfolder.write_status(x, "running", step=7)
    lead.push(final=True)
    with open(RunFolder(mine).log, "a") as log:
        log.write("Traceback: the driver's own error\n")
    runfolder.write_status(mine, "failed", reason="the worker's own reason", finished_at=time.time())
    (mine / "ray").mkdir()
    (mine / "ray" / "record.json").write_text("{}")
    monkeypatch.setattr(bucket.RunCopy, "listing", lambda self: {})
    with pytest.raises(OSError, match="listed no file"):
        driver.refresh(in_place=frozenset({"train.log"}))
    assert (mine / "config.json").is_file(), "an empty answer removes nothing"
    monkeypatch.undo()
    # The store goes away after the log was rewritten: tried again, each line is there once.
    download, done = bucket.RunCopy.download, []

    def going_away(self, rel, dest=None):
        if rel == "train.rank1.log" and not done:
            done.append(rel)
            raise OSError("the store went away")
        return download(self, rel, dest)

    monkeypatch.setattr(bucket.RunCopy, "download", going_away)
    with pytest.raises(OSError, match="went away"):
        driver.refresh(in_place=frozenset({"train.log"}))
    monkeypatch.undo()
    driver.refresh(in_place=frozenset({"train.log"}))
    assert RunFolder(mine).log.read_text() == ("[studio] attempt 1\nrank 0 trained\n"
                                               "Traceback: the driver's own error\n")
    st = runfolder.read_status(mine)
    assert st["status"] == "failed" and st["reason"] == "the worker's own reason"
    assert (mine / "ray" / "record.json").is_file()
    driver.push(final=True)
    there = driver.listing()
    assert "ray/record.json" in there and there["train.log"][0] == RunFolder(mine).log.stat().st_size


def test_the_other_nodes_copies_send_their_shards_before_rank_0s_marker_and_follow_its_rotation(url, tmp_path,
                                                                                              monkeypatch):
    """A checkpoint whose shards are written on several nodes: rank 0's copy has the others send theirs before its
    marker goes up, and a rank's result goes after everything; a checkpoint rank 0 rotated away leaves the other
    copies' disks too."""
    head = a_run_folder(tmp_path / "head", "20261207-1208-fff000")
    hand_over(url, head)
    lead = bucket.RunCopy(url, head.name, tmp_path / "x" / head.name)
    other = bucket.RunCopy(url, head.name, tmp_path / "y" / head.name)
    x, y = lead.fetch(), other.fetch()
    for folder, rank in ((x, 0), (y, 1)):
        (folder / "checkpoints" / "checkpoint-5").mkdir(parents=True)
        (folder / "checkpoints" / "checkpoint-5" / f"shard-{rank}.bin").write_bytes(bytes([rank]) * 2000)
    (x / "checkpoints" / "checkpoint-5" / "trainer_state.json").write_text("{}")
    files.atomic_write_json(x / ".result-rank0.json", {"status": "completed"})
    order = []
    upload = bucket.RunCopy.upload
    monkeypatch.setattr(bucket.RunCopy, "upload", lambda self, rel: order.append(rel) or upload(self, rel))
    lead.push(whole_folders=True, before_marker=lambda: order.append("asked") or other.push(follow_removals=True))
    monkeypatch.undo()
    assert order.index("checkpoints/checkpoint-5/shard-1.bin") < order.index("checkpoints/checkpoint-5/"
                                                                             "trainer_state.json")
    assert order[-1] == ".result-rank0.json" and order.index("asked") > order.index(
        "checkpoints/checkpoint-5/shard-0.bin")
    # Rank 0 rotates checkpoint-5 away: it goes from the bucket whole, then from the other node's disk.
    for p in (x / "checkpoints" / "checkpoint-5").iterdir():
        p.unlink()
    (x / "checkpoints" / "checkpoint-5").rmdir()
    lead.push(whole_folders=True)
    other.push(follow_removals=True)
    assert not (y / "checkpoints" / "checkpoint-5").exists()


def test_a_copy_removed_after_its_last_push_removes_nothing_from_the_bucket(url, tmp_path):
    """A push that comes late (another copy's request arriving after this one's last push and removal) finds no
    folder: that is not a run whose files were all removed."""
    head = a_run_folder(tmp_path / "head", "20261207-1209-aaa999")
    hand_over(url, head)
    node = bucket.RunCopy(url, head.name, tmp_path / "node" / head.name)
    scratch = node.fetch()
    RunFolder(scratch).log.write_text("trained\n")
    node.push(final=True)
    shutil.rmtree(scratch)
    assert node.push() == 0
    assert {"train.log", "data/train.parquet"} <= set(node.listing())
