"""Faults: what the engine guarantees when things break mid-run.

- kill -9 of the worker after a checkpoint: the run reads failed with a reason at once; resume
  continues from that checkpoint and ends with the same losses and metrics as an uninterrupted run.
- Disk full while saving a checkpoint: the run fails with a disk-full reason, the torn checkpoint does
  not shadow the previous one, and resume continues from the previous one.
- A real file-size limit (RLIMIT_FSIZE, as the kernel enforces it): a clean "file too large" failure,
  not a worker killed by SIGXFSZ.
- Out of memory in the worker: failed, reported as out of memory with what to change.
- Registry and run folders written atomically: a process SIGKILLed at random moments while it
  creates runs, rewrites status.json, appends metrics and updates the registry always leaves a
  registry that opens and folders whose status parses and, once read, is true.

Tiny BERT, 40 training rows, fixed seed. Only the run that is kill -9'd is a worker subprocess; the others
run the real worker (`studio.runs.worker.main`) inside the test process, which saves a torch import apiece.
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from studio.base import errors, runfolder
from studio.base.runfolder import RunFolder
from studio.config import RunConfig
from studio.runs import worker
from studio.runs.store import Store, process_alive
from studio.training import recipe
from tests.support import ROOT, tiny_config, wait_for

# 40 training rows in batches of 8: 5 steps an epoch; eval + checkpoint every 5 steps.
DETERMINISTIC = dict(epochs=4, batch_size=8, eval_strategy="steps", eval_steps=5, save_total_limit=2,
                     group_by_length=False, logging_steps=1)  # 20 steps


def cfg(tiny_bert, csv, method="lora", **training) -> RunConfig:
    return RunConfig.from_dict(tiny_config(tiny_bert, csv, method, **{**DETERMINISTIC, **training}))


def by_step(records, kind):
    return {r["step"]: r for r in records if r["kind"] == kind}


def work_in_process(store: Store, run_id: str, resume: bool = False) -> dict:
    """The real worker (`python -m studio.runs.worker`) run inside this process: no second torch import."""
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, getattr(signal, "SIGXFSZ", None)) if sig}
    try:
        argv = [str(store.run_dir(run_id)), "--registry", str(store.registry)] + (["--resume"] if resume else [])
        worker.main(argv)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    return store.sync(run_id)


def saved_checkpoints(rd: Path) -> list[int]:
    return sorted(int(p.name.split("-")[1]) for p in (rd / "checkpoints").glob("checkpoint-*")
                  if (p / "trainer_state.json").exists())


# ------------------------------------------------------------ kill -9, resume --
def test_kill_9_after_a_checkpoint_then_resume_matches_an_uninterrupted_run(store, tiny_bert, separable_csv,
                                                                          monkeypatch):
    reference = store.create(cfg(tiny_bert, separable_csv), start=False)
    st = work_in_process(store, reference)
    assert st["status"] == "completed", st

    # Same data, same seed, a real worker process: kill -9 it just after its first checkpoint.
    victim = store.create(cfg(tiny_bert, separable_csv))
    rd = store.run_dir(victim)
    wait_for(lambda: saved_checkpoints(rd) if (rd / "checkpoints").is_dir() else None, timeout=240,
             poll=0.05, what="the first checkpoint")
    pid = runfolder.read_status(rd)["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not process_alive(pid, None), timeout=30, what="the worker to die")
    info = store.get(victim)  # the very next read (a page's poll) knows, with no timeout to wait out
    assert info["status"] == "failed", info["status_detail"]
    assert (f"pid {pid}" in info["status_detail"]["reason"]
            and "killed or ran out of memory" in info["status_detail"]["reason"])
    died_at = info["status_detail"].get("step")
    assert died_at is not None and died_at < 20, "the kill landed before the run finished"
    resumed_from = int(recipe.last_checkpoint(rd).name.split("-")[1])

    # Resume: the store's own path, then the worker it launches run in this process (saves a start-up).
    launched = []
    monkeypatch.setattr(store, "_launch",
                        lambda run_id, device, resume=False: launched.append((run_id, device, resume)))
    assert store.resume(victim)["status"] == "running" and launched == [(victim, "cpu", True)]  # claimed, then started
    st = work_in_process(store, victim, resume=True)
    assert st["status"] == "completed", st

    ref, res = runfolder.read_metrics(store.run_dir(reference)), runfolder.read_metrics(rd)
    starts = [(r["step"], r["resumed"]) for r in res if r["kind"] == "start"]
    assert starts == [(0, False), (resumed_from, True)]
    ref_train, res_train = by_step(ref, "train"), by_step(res, "train")
    assert sorted(res_train) == sorted(ref_train) == list(range(1, 21)), "every step once"
    # Steps before and after the resume point: the same losses as the uninterrupted run.
    for step in ref_train:
        assert res_train[step]["loss"] == pytest.approx(ref_train[step]["loss"], abs=1e-3), step
    ref_eval, res_eval = by_step(ref, "eval"), by_step(res, "eval")
    assert sorted(res_eval) == sorted(ref_eval) == [5, 10, 15, 20]
    for step in ref_eval:
        assert res_eval[step]["eval_loss"] == pytest.approx(ref_eval[step]["eval_loss"], abs=1e-3), step
        assert res_eval[step]["eval_f1"] == pytest.approx(ref_eval[step]["eval_f1"], abs=1e-6), step
    ref_test = json.loads((store.run_dir(reference) / "test_report.json").read_text())["metrics"]
    res_test = json.loads((rd / "test_report.json").read_text())["metrics"]
    assert res_test == pytest.approx(ref_test, abs=1e-6)
    # TensorBoard shows one curve: the steps the killed attempt logged past its checkpoint are purged.
    ref_tb, res_tb = tensorboard_losses(store.run_dir(reference)), tensorboard_losses(rd)
    assert [s for s, _ in res_tb] == [s for s, _ in ref_tb] == list(range(1, 21))
    assert [v for _, v in res_tb] == pytest.approx([v for _, v in ref_tb], abs=1e-3)


def tensorboard_losses(rd: Path) -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(RunFolder(rd).tensorboard))
    acc.Reload()
    return [(e.step, e.value) for e in acc.Scalars("train/loss")]


# ------------------------------------------------------------------ disk full --
def test_disk_full_while_saving_fails_cleanly_and_keeps_the_previous_checkpoint(store, tiny_bert, separable_csv,
                                                                                 monkeypatch):
    """The disk fills while checkpoint-10 is written: half its trainer_state.json lands, then ENOSPC."""
    from transformers.trainer_callback import TrainerState

    save_to_json = TrainerState.save_to_json

    def disk_fills_at_step_10(self, json_path):
        if Path(json_path).parent.name == "checkpoint-10":
            text = json.dumps(self.__dict__, default=str)
            Path(json_path).write_text(text[: len(text) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), json_path)
        return save_to_json(self, json_path)

    run_id = store.create(cfg(tiny_bert, separable_csv, epochs=2), start=False)  # 10 steps, checkpoints at 5, 10
    rd = store.run_dir(run_id)
    with monkeypatch.context() as m:
        m.setattr(TrainerState, "save_to_json", disk_fills_at_step_10)
        st = work_in_process(store, run_id)
    assert st["status"] == "failed"
    assert st["reason"].startswith("Disk full or file too large while writing") and "No space left" in st["reason"]
    assert "resume" in st["reason"] and "Traceback" in st["traceback_tail"]
    assert store.list()[0]["status"] == "failed"
    # The torn checkpoint is there but is not taken for the last one.
    assert (rd / "checkpoints" / "checkpoint-10" / "trainer_state.json").exists()
    assert recipe.last_checkpoint(rd) == rd / "checkpoints" / "checkpoint-5"
    assert not (rd / "model").exists() and not (rd / "test_report.json").exists()

    # The previous checkpoint loads: resume continues from it and completes.
    monkeypatch.setattr(store, "_launch", lambda run_id, device, resume=False: None)
    store.resume(run_id)
    st = work_in_process(store, run_id, resume=True)
    assert st["status"] == "completed", st
    records = runfolder.read_metrics(rd)
    assert [(r["step"], r["resumed"]) for r in records if r["kind"] == "start"] == [(0, False), (5, True)]
    assert sorted(by_step(records, "train")) == list(range(1, 11))
    assert (rd / "model" / "studio_model.json").exists()


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs POSIX file-size limits")
def test_a_file_size_limit_fails_the_run_with_that_reason_not_a_silent_death(store, tiny_bert, separable_csv):
    """A real RLIMIT_FSIZE (what the kernel does on a quota or a full file system: a refused write).

    The limit is far below a checkpoint's files (the tokenizer alone is 700 kB). Without the worker
    ignoring SIGXFSZ the kernel's signal would kill it with nothing written (here, in-process, it would
    end the test session: a loud failure).
    """
    import resource

    run_id = store.create(cfg(tiny_bert, separable_csv, epochs=1), start=False)
    rd = store.run_dir(run_id)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, hard))
    try:
        st = work_in_process(store, run_id)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert st["status"] == "failed"
    assert st["reason"].startswith("Disk full or file too large while writing") and "File too large" in st["reason"]
    assert recipe.last_checkpoint(rd) is None  # the only checkpoint is torn; nothing pretends otherwise
    assert json.loads((rd / "status.json").read_text())["status"] == "failed"


@pytest.mark.parametrize("exc", [
    OSError(errno.ENOSPC, "No space left on device"),
    OSError(errno.EFBIG, "File too large"),
    Exception("Error while serializing: I/O error: File too large (os error 27)"),  # safetensors' wording
    RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534"),  # torch.save's
])
def test_disk_full_is_recognised_however_the_library_wraps_it(exc):
    try:
        try:
            raise exc
        except Exception as inner:
            raise RuntimeError("saving the checkpoint failed") from inner
    except RuntimeError as outer:
        reason = errors._disk_full_hint(outer)
    assert reason and reason.startswith("Disk full or file too large while writing")
    assert errors._disk_full_hint(ValueError("a bad label")) is None


# ----------------------------------------------------------------- out of memory --
@pytest.mark.parametrize("error", ["cuda", "cpu"])
def test_out_of_memory_is_reported_with_what_to_change(store, tiny_bert, separable_csv, monkeypatch, error):
    import torch
    from transformers import Trainer

    def no_memory(*a, **k):
        if error == "cuda":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.7 GiB total)")
        raise MemoryError()

    monkeypatch.setattr(Trainer, "training_step", no_memory)
    run_id = store.create(cfg(tiny_bert, separable_csv, epochs=1), start=False)
    st = work_in_process(store, run_id)
    assert st["status"] == "failed"
    reason = st["reason"]
    assert reason.startswith("Out of memory")
    assert "training.batch_size" in reason and "training.max_length" in reason and "LoRA" in reason
    assert f"studio resume {run_id} --batch-size 4" in reason  # half of the 8 it ran out with
    assert ("OutOfMemoryError" if error == "cuda" else "MemoryError") in st["traceback_tail"]
    assert store.get(run_id)["reason"] == reason


# ------------------------------------------------------------------ atomicity --
CHURN = textwrap.dedent('''
    """Forks a child per line on stdin; the child creates runs, rewrites status.json, appends metrics and
    updates the registry as fast as it can until it is SIGKILLed; the parent reports it dead."""
    import json, os, random, sys
    from studio.base import runfolder
    from studio.config import RunConfig
    from studio.runs.store import Store, process_start_time
    import studio.data, studio.models  # what create() imports, before forking
    import studio.training.memory

    root, cfg = sys.argv[1], RunConfig.from_dict(json.loads(sys.argv[2]))
    studio.training.memory.estimate(cfg)  # what its memory estimate imports too: else each child imports it anew
    for line in sys.stdin:
        pid = os.fork()
        if pid == 0:
            me, rng, i = os.getpid(), random.Random(os.getpid()), 0
            store = Store(root)
            start = process_start_time(me)
            run_id = store.create(cfg, start=False, check_data=False)
            print(pid or me, flush=True)
            while True:
                i += 1
                if rng.random() < 0.2:
                    run_id = store.create(cfg, start=False, check_data=False)
                rd = store.run_dir(run_id)
                runfolder.write_status(rd, rng.choice(("running", "stopping")), pid=me, pid_start=start, step=i,
                                       padding="x" * rng.randint(0, 1_000_000))
                runfolder.MetricsWriter(rd).append({"kind": "train", "step": i, "loss": 1 / i, "pad": "y" * rng.randint(0, 5000)})
                store.sync(run_id)
                if rng.random() < 0.1:
                    store.list()
        os.waitpid(pid, 0)
        print("dead", flush=True)
''')  # noqa: E501


def check_consistent(root: Path) -> dict[str, str]:
    """Registry opens and is intact; every run folder's files parse; every row has its folder."""
    con = sqlite3.connect(root / "registry.sqlite")
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = dict(con.execute("SELECT id, status FROM runs").fetchall())
    finally:
        con.close()
    folders = {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")}
    assert set(rows) <= folders, "a registry row without its folder"
    for name in folders:
        st = json.loads((root / name / "status.json").read_text())  # strict: a torn file fails here
        assert st["status"] in runfolder.STATUSES
        json.loads((root / name / "config.json").read_text())
        runfolder.read_metrics(root / name)
    return rows


def test_a_crash_at_any_moment_leaves_a_registry_that_opens_and_true_statuses(tmp_path, tiny_bert, separable_csv):
    root = tmp_path / "runs"
    Store(root)
    config = cfg(tiny_bert, separable_csv).to_dict()
    proc = subprocess.Popen([sys.executable, "-c", CHURN, str(root), json.dumps(config)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=str(ROOT),
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    rng = random.Random(0)
    try:
        for _ in range(12):
            proc.stdin.write("go\n")
            proc.stdin.flush()
            child = int(proc.stdout.readline())
            end = time.time() + rng.uniform(0.05, 0.6)
            while time.time() < end:  # meanwhile a reader never sees half a file
                for p in root.glob("*/status.json"):
                    try:
                        json.loads(p.read_text())
                    except FileNotFoundError:  # a .creating- folder renamed meanwhile
                        pass
            os.kill(child, signal.SIGKILL)
            assert proc.stdout.readline().strip() == "dead"
            check_consistent(root)
            # Read through the store: the killed writer's runs read failed, with a reason (reading writes nothing);
            # the store's upkeep (Store.reap, part of every dispatch) then records it in the files and the registry.
            store = Store(root)
            listed = {r["id"]: r for r in store.list()}
            for run_id, row in listed.items():
                assert row["status"] in ("queued", "failed"), row
                if row["status"] == "failed":  # killed while running, or before its worker started (a busy machine)
                    assert "ended without reporting" in row["reason"] or "never started" in row["reason"], row
            store.reap()
            rows = check_consistent(root)
            for run_id, row in listed.items():
                st = runfolder.read_status(root / run_id)
                assert st["status"] == rows[run_id] == row["status"], (st, rows[run_id], row)
            assert set(listed) == set(rows)
    finally:
        proc.kill()
        proc.wait()
    assert len(listed) >= 12
