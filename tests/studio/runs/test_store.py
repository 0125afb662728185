"""studio.runs.store + studio.runs.worker: the run lifecycle through real worker subprocesses.

queued -> running -> completed; one run at a time per device (the second waits in queued, in the registry, with
no process until its turn);
stop (graceful, checkpoint, stopped) and resume (continues the global step, no duplicate metrics);
kill (the process group at once, stopped); kill -9 of the worker (failed with a reason on the next
read, never left running). Tiny model, tiny data, logging every step so there is time to interrupt.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import psutil
import pytest

from studio.base import runfolder
from studio.base.errors import RunError
from studio.base.runfolder import RunFolder
from studio.config import RunConfig
from studio.runs.store import Store, process_alive
from tests.support import tiny_config, wait_for

# 40 training rows, batch 4: 10 steps an epoch.
LONG = dict(epochs=4, batch_size=4, eval_strategy="steps", eval_steps=10, save_total_limit=2)  # 40 steps
SHORT = dict(epochs=1, batch_size=8)  # 5 steps


def cfg(tiny_bert, separable_csv, **training) -> RunConfig:
    return RunConfig.from_dict(tiny_config(tiny_bert, separable_csv, "lora", **training))


def status(store: Store, run_id: str) -> dict:
    return store.sync(run_id)


def at_step(store: Store, run_id: str, n: int):
    st = status(store, run_id)
    assert st["status"] not in runfolder.FINISHED, f"run ended early: {st}"
    return st if st["status"] == "running" and (st.get("step") or 0) >= n else None


def group_members(pgid: int) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(p.pid) == pgid and p.info["status"] != psutil.STATUS_ZOMBIE:
                out.append(p)
        except (ProcessLookupError, psutil.Error):
            continue
    return out


def train_steps(run_dir) -> list[int]:
    return [r["step"] for r in runfolder.read_metrics(run_dir) if r["kind"] == "train"]


def test_queue_stop_resume(store, tiny_bert, separable_csv):
    first = store.create(cfg(tiny_bert, separable_csv, **LONG))
    second = store.create(cfg(tiny_bert, separable_csv, **SHORT))
    assert status(store, first)["status"] in ("queued", "running")
    assert status(store, second)["status"] == "queued"
    assert [r["id"] for r in store.list()] == [second, first]

    # One run at a time per device: the second waits while the first trains.
    wait_for(lambda: at_step(store, first, 3), what="the first run to train")
    info = store.get(second)
    assert info["status"] == "queued"
    assert not info["status_detail"].get("pid"), "a queued run waits in the registry: no worker process yet"

    # Graceful stop: finishes the step, saves a checkpoint there, ends as stopped.
    st = store.stop(first)
    assert st["status"] in ("stopping", "stopped")
    st = store.wait(first, timeout=180)
    assert st["status"] == "stopped", st
    stopped_at = st["step"]
    assert 3 <= stopped_at < 40
    assert f"at step {stopped_at}" in st["reason"]
    rd = store.run_dir(first)
    assert (rd / "checkpoints" / f"checkpoint-{stopped_at}" / "trainer_state.json").exists()
    assert not (rd / "test_report.json").exists() and not (rd / "model").exists()
    assert train_steps(rd) == list(range(1, stopped_at + 1))
    with pytest.raises(RunError, match="only queued or running runs can be stopped"):
        store.stop(first)

    # The queued run starts only after the first one let go of the device, and completes.
    st2 = store.wait(second, timeout=180)
    assert st2["status"] == "completed", st2
    assert st2["started_at"] >= st["finished_at"]

    # Resume: same run, continues the global step from the checkpoint, and completes.
    st = store.resume(first)
    assert st["status"] in ("queued", "running")
    st = store.wait(first, timeout=240)
    assert st["status"] == "completed", st
    assert st["step"] == st["max_steps"] == 40
    metrics = runfolder.read_metrics(rd)
    starts = [r for r in metrics if r["kind"] == "start"]
    assert [(s["step"], s["resumed"]) for s in starts] == [(0, False), (stopped_at, True)]
    assert train_steps(rd) == list(range(1, 41)), "every step once: resumed, not restarted, no duplicates"
    evals = [r["step"] for r in metrics if r["kind"] == "eval"]
    assert evals == sorted(set(evals)) and evals[-1] == 40
    assert (rd / "test_report.json").exists() and (rd / "model" / "studio_model.json").exists()
    assert not (RunFolder(rd).stop_request).exists()
    assert "resuming from checkpoint-" in (rd / "train.log").read_text()
    rows = {r["id"]: r for r in store.list()}
    assert rows[first]["status"] == rows[second]["status"] == "completed"
    with pytest.raises(RunError, match="already completed"):
        store.resume(first)


def test_kill_stops_the_process_group_at_once(store, tiny_bert, separable_csv):
    running = store.create(cfg(tiny_bert, separable_csv, **LONG))
    waiting = store.create(cfg(tiny_bert, separable_csv, **LONG))
    st = wait_for(lambda: at_step(store, running, 2), what="the run to train")
    pid = st["pid"]
    assert os.getpgid(pid) == pid, "the worker leads its own process group"

    # Stopping a queued run ends it at once: it never started (it had no process to stop).
    assert not status(store, waiting).get("pid")
    st = store.stop(waiting)
    assert st["status"] == "stopped" and "never started" in st["reason"]
    assert not (store.run_dir(waiting) / "checkpoints").exists()

    st = store.kill(running)
    assert st["status"] == "stopped" and "Killed" in st["reason"]
    assert not process_alive(pid, None)
    assert group_members(pid) == []
    assert store.get(running)["status"] == "stopped"
    assert {r["status"] for r in store.list()} == {"stopped"}
    with pytest.raises(RunError, match="nothing to kill"):
        store.kill(running)


def test_kill_9_of_the_worker_marks_the_run_failed(store, tiny_bert, separable_csv):
    run_id = store.create(cfg(tiny_bert, separable_csv, **LONG))
    st = wait_for(lambda: at_step(store, run_id, 2), what="the run to train")
    os.kill(st["pid"], signal.SIGKILL)
    wait_for(lambda: not process_alive(st["pid"], None), timeout=30, what="the worker to die")

    # Nobody wrote a final status: the next read notices the worker is gone.
    assert runfolder.read_status(store.run_dir(run_id))["status"] in ("running", "stopping")
    info = store.get(run_id)
    assert info["status"] == "failed"
    reason = info["status_detail"]["reason"]
    assert f"pid {st['pid']}" in reason and "killed" in reason and "Resume" in reason
    row = next(r for r in store.list() if r["id"] == run_id)
    assert row["status"] == "failed" and row["reason"] == reason
    assert Store(store.root).sync(run_id)["status"] == "failed"  # stays failed for every reader


def test_a_worker_that_fails_leaves_failed_with_the_reason(store, tiny_bert, separable_csv):
    run_id = store.create(cfg(tiny_bert, separable_csv), start=False)
    rd = store.run_dir(run_id)
    (rd / "config.json").write_text("{broken")
    runfolder.write_status(rd, "stopped")
    store.resume(run_id)
    st = store.wait(run_id, timeout=120)
    assert st["status"] == "failed"
    assert st["reason"].startswith("JSONDecodeError: ") and "\n" not in st["reason"]
    assert "Traceback" in st["traceback_tail"] and "Traceback" in (rd / "train.log").read_text()
    assert store.list()[0]["status"] == "failed"


# ------------------------------------------------------- without a worker --
def _dead_pid() -> tuple[int, float]:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    start = psutil.Process(p.pid).create_time()
    p.wait()
    return p.pid, start


@pytest.mark.parametrize("was", ["running", "stopping"])
def test_sync_marks_a_vanished_worker_failed(store, tiny_bert, separable_csv, was):
    run_id = store.create(cfg(tiny_bert, separable_csv), start=False)
    pid, start = _dead_pid()
    runfolder.write_status(store.run_dir(run_id), was, pid=pid, pid_start=start)
    # Reading says so and writes nothing; sync records it.
    assert store.status(run_id)["status"] == "failed" and store.list()[0]["status"] == "failed"
    assert runfolder.read_status(store.run_dir(run_id))["status"] == was
    st = store.sync(run_id)
    assert st["status"] == "failed" and f"while {was}" in st["reason"]
    assert runfolder.read_status(store.run_dir(run_id))["status"] == "failed"
    assert store.list()[0]["status"] == "failed"


def test_a_queued_run_has_no_worker_and_is_never_taken_for_a_vanished_one(store, tiny_bert, separable_csv):
    run_id = store.create(cfg(tiny_bert, separable_csv), start=False)
    runfolder.write_status(store.run_dir(run_id), "queued", updated_at=0)  # queued for ages
    assert store.sync(run_id)["status"] == "queued"


def test_a_live_worker_is_left_alone(store, tiny_bert, separable_csv):
    run_id = store.create(cfg(tiny_bert, separable_csv), start=False)
    me = psutil.Process()
    runfolder.write_status(store.run_dir(run_id), "running", pid=me.pid, pid_start=me.create_time())
    assert store.sync(run_id)["status"] == "running"
    # A reused pid (another process start time) is not the worker.
    runfolder.write_status(store.run_dir(run_id), "running", pid=me.pid, pid_start=me.create_time() - 100)
    assert store.sync(run_id)["status"] == "failed"


def test_bad_run_ids_and_missing_runs(store):
    with pytest.raises(RunError, match="is not a run id"):
        store.get("../etc")
    with pytest.raises(RunError, match="No run 20200101-000000-abcdef"):
        store.get("20200101-000000-abcdef")


def test_delete_removes_folder_and_row(store, tiny_bert, separable_csv):
    run_id = store.create(cfg(tiny_bert, separable_csv), start=False)
    runfolder.write_status(store.run_dir(run_id), "stopped")
    store.delete(run_id)
    assert not store.run_dir(run_id).exists() and store.list() == []


# ----------------------------------------------------------------- runlog --
def test_status_is_replaced_atomically_and_json_clean(tmp_path):
    runfolder.write_status(tmp_path, "running", step=3, loss=float("nan"))
    st = runfolder.write_status(tmp_path, "running", eta_seconds=float("inf"))
    assert st["step"] == 3
    on_disk = json.loads((RunFolder(tmp_path).status).read_text())
    assert on_disk["loss"] is None and on_disk["eta_seconds"] is None and on_disk["status"] == "running"
    assert [p.name for p in tmp_path.iterdir()] == [RunFolder.status.name]  # no temp files left
    assert runfolder.read_status(tmp_path / "nowhere")["status"] == "unknown"


def test_metrics_tail_skips_a_half_written_line_and_truncates_for_resume(tmp_path):
    w = runfolder.MetricsWriter(tmp_path)
    for step in (1, 2, 3, 4):
        w.append({"kind": "train", "step": step, "loss": 1.0 / step})
    with open(RunFolder(tmp_path).metrics, "a") as fh:
        fh.write('{"kind": "train", "st')  # a writer mid-line
    records = list(runfolder.iter_metrics(tmp_path))
    assert [r["step"] for r, _ in records] == [1, 2, 3, 4]
    offset = records[-1][1]
    with open(RunFolder(tmp_path).metrics, "a") as fh:
        fh.write('ep": 5}\n')
    assert [r["step"] for r, _ in runfolder.iter_metrics(tmp_path, offset)] == [5]
    w.truncate_after(2)
    assert [r["step"] for r in runfolder.read_metrics(tmp_path)] == [1, 2]


def test_a_run_without_a_model_gets_the_base_for_its_datas_language(store, separable_csv):
    """model auto (a config without one): MiniLM for English texts, the multilingual base for Chinese ones; the
    run folder records the base it got, and its status says why."""
    from pathlib import Path

    from studio.config import RunConfig

    zh = Path(__file__).resolve().parents[3] / "assets" / "samples" / "hotel_reviews_zh.csv"
    chinese = store.create(RunConfig.from_dict({"data": {"train": str(zh)}}), start=False)
    english = store.create(RunConfig.from_dict({"data": {"train": str(separable_csv)}}), start=False)
    saved = {rid: json.loads((store.run_dir(rid) / "config.json").read_text())["model"] for rid in (chinese, english)}
    assert saved == {chinese: "multilingual-e5-small", english: "sentence-transformers/all-MiniLM-L6-v2"}
    picked = runfolder.read_status(store.run_dir(chinese))["base_picked"]
    assert "multilingual-e5-small" in picked and "Chinese, Japanese or Korean" in picked
    assert "Chinese" not in runfolder.read_status(store.run_dir(english))["base_picked"]
    named = RunConfig.from_dict({"model": "minilm", "data": {"train": str(zh)}})
    chosen = store.create(named, start=False)
    assert json.loads((store.run_dir(chosen) / "config.json").read_text())["model"] == "minilm"
    assert "base_picked" not in runfolder.read_status(store.run_dir(chosen))


def test_a_gpu_run_takes_the_playgrounds_gpu_memory_and_queued_runs_spread_over_the_gpus(store, tiny_bert,
                                                                                         separable_csv, monkeypatch):
    """The playground's cached models on a GPU are dropped when a run launches there; two runs queued for any GPU
    on a two-GPU box train at once, one on each, and a third waits (the GPUs are faked: none here)."""
    from studio.config import RunConfig
    from studio.serve import inference
    from tests.support import tiny_config

    class OnGpu:
        class model:
            @staticmethod
            def parameters():
                yield type("P", (), {"device": type("D", (), {"type": "cuda"})()})()

    monkeypatch.setitem(inference._CACHE, "/somewhere/gpu-run", OnGpu())
    monkeypatch.setitem(inference._CACHE, "/somewhere/cpu-run", object())
    assert inference.release_gpu_memory() == 1
    assert "/somewhere/gpu-run" not in inference._CACHE and "/somewhere/cpu-run" in inference._CACHE

    monkeypatch.setenv("STUDIO_GPU_COUNT", "2")
    from studio.base.devices import run_devices

    gpus = run_devices("auto")
    assert gpus == ["cuda:0", "cuda:1"] and run_devices("cuda:1") == ["cuda:1"]
    raw = tiny_config(tiny_bert, separable_csv, "lora")
    raw["training"]["device"] = "auto"
    cfg = RunConfig.from_dict(raw)
    ids = [store.create(cfg, start=False) for _ in range(3)]
    from studio.runs.store import process_start_time

    launched = []
    monkeypatch.setattr(store, "_launch", lambda run_id, device, resume=False: launched.append((run_id, device)))
    assert store._claim_next() == (ids[0], "cuda:0", False)
    assert store._claim_next() == (ids[1], "cuda:1", False)
    assert store._claim_next() is None  # both GPUs are held (claimed a moment ago): the third stays queued
    for rid in ids[:2]:  # their workers started and hold the GPUs
        runfolder.write_status(store.run_dir(rid), "running", pid=os.getpid(),
                               pid_start=process_start_time(os.getpid()))
    assert store._claim_next() is None and store.status(ids[2])["status"] == "queued"



def test_a_run_of_several_processes_holds_a_gpu_for_each_and_single_runs_keep_off_them(tmp_path, tiny_bert,
                                                                                       separable_csv, monkeypatch):
    """A 2-process run claims a group of two GPUs (each rank pinned to one of them); a single-process run queued
    behind it does not land on either, and a 2-process run waits while a single run holds one of its GPUs."""
    from studio.base.devices import run_devices
    from studio.runs.store import Store, process_start_time

    monkeypatch.setenv("STUDIO_GPU_COUNT", "2")
    assert run_devices("auto", 2) == ["cuda:0,cuda:1"]
    monkeypatch.setenv("STUDIO_GPU_COUNT", "4")
    assert run_devices("cuda", 2) == ["cuda:0,cuda:1", "cuda:1,cuda:2", "cuda:2,cuda:3"]
    monkeypatch.setenv("STUDIO_GPU_COUNT", "2")

    store = Store(tmp_path / "runs")
    monkeypatch.setattr(store, "_launch", lambda run_id, device, resume=False: None)

    def config(processes: int) -> RunConfig:
        raw = tiny_config(tiny_bert, separable_csv, "lora", device="auto", num_processes=processes)
        return RunConfig.from_dict(raw)

    def hold(run_id: str) -> None:  # its worker started and holds what it claimed
        runfolder.write_status(store.run_dir(run_id), "running", pid=os.getpid(),
                               pid_start=process_start_time(os.getpid()))

    pair, single = store.create(config(2), start=False), store.create(config(1), start=False)
    assert store._claim_next() == (pair, "cuda:0,cuda:1", False)
    hold(pair)
    assert store._claim_next() is None  # cuda:1 is the pair's too: before, the single run landed there
    assert store.busy_devices() == {"cuda:0", "cuda:1"}
    runfolder.write_status(store.run_dir(pair), "completed", finished_at=0)
    assert store._claim_next() == (single, "cuda:0", False)
    hold(single)
    later_pair = store.create(config(2), start=False)
    assert store._claim_next() is None and store.status(later_pair)["status"] == "queued"


def test_a_group_of_gpus_is_pinned_for_its_ranks_and_the_memory_check_reads_the_gpus_the_run_will_get(monkeypatch):
    from studio.base import devices
    from studio.config import TrainingConfig
    from studio.training.memory import device_for

    # pin_gpu sets the process's environment itself: set first through monkeypatch, so both are put back after
    # (a CUDA_VISIBLE_DEVICES left behind changes the import-time settings, and no spare is lent any more).
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.setenv("STUDIO_RUN_DEVICE", "")
    devices.pin_gpu("cuda:2,cuda:3")
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "2,3" and devices.process_device("cuda:2,cuda:3") == "cuda:0"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6,7")
    devices.pin_gpu("cuda:2,cuda:3")
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "6,7"

    monkeypatch.setenv("STUDIO_GPU_COUNT", "2")
    assert device_for(TrainingConfig(device="auto")) == "cuda:0"
    assert device_for(TrainingConfig(device="auto"), frozenset({"cuda:0"})) == "cuda:1"  # before: cuda:0 always
    assert device_for(TrainingConfig(device="auto", num_processes=2)) == "cuda:0,cuda:1"
    assert device_for(TrainingConfig(device="cuda:1")) == "cuda:1"
