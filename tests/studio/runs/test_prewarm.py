"""studio.runs.prewarm: runs forked from the app's spare worker train, stop and die like spawned ones."""

from __future__ import annotations

import os
import subprocess
import sys

import psutil
import pytest

from studio.base import runfolder
from studio.base.runfolder import RunFolder
from studio.config import RunConfig
from studio.runs import prewarm
from studio.runs.store import Store, worker_env
from tests.support import kill_active, separable_rows, tiny_config, wait_for, write_csv


@pytest.fixture(scope="module")
def spare_store(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("prewarm") / "runs")
    store.spare = None  # this file's own spare, not the one tests/conftest.py lends every Store
    prewarm.enable(store)
    wait_for(store.spare.ready, timeout=300, what="the spare worker to finish its imports")
    yield store
    kill_active(store)
    store.spare.close()


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory):
    return write_csv(tmp_path_factory.mktemp("prewarm-data") / "t.csv",
                     separable_rows(16, ("billing", "technical"), seed=3, words=(2, 6)))


def test_a_run_forked_from_the_spare_completes_like_a_spawned_one(spare_store, tiny_bert, csv_path):
    run_id = spare_store.create(RunConfig.from_dict(tiny_config(tiny_bert, csv_path, "lora", epochs=1)))
    pid = runfolder.read_status(spare_store.run_dir(run_id))["pid"]
    assert spare_store.spare.forked[-1:] == [pid], "the worker was forked by the spare, not spawned"
    st = spare_store.wait(run_id, timeout=300)
    assert st["forked"] is True  # the worker says so in its status
    log = (RunFolder(spare_store.run_dir(run_id)).log).read_text()
    assert st["status"] == "completed", log[-3000:]
    assert f"run {run_id} started" in log and f"run {run_id} completed" in log
    assert (spare_store.run_dir(run_id) / "model" / "studio_model.json").exists()
    assert spare_store.spare.ready(), "the spare stays for the next run"


def test_a_forked_workers_pid_is_handed_out_once_it_leads_its_group(spare_store, tmp_path):
    """A kill sent the moment a run starts (killpg of its pid) must reach it: the spare answers with the pid only
    after the child has its own process group (a loaded machine once handed out a pid still in the spare's)."""
    spare = spare_store.spare
    for i in range(5):
        pid = spare.spawn([str(tmp_path / f"no-run-{i}")], tmp_path / f"{i}.log", worker_env())
        assert pid is not None
        try:
            assert os.getpgid(pid) == pid
        except ProcessLookupError:  # it already ended (no such run): it had its group by then
            pass


def test_kill_reaches_a_forked_worker_and_its_group(spare_store, tiny_bert, csv_path):
    cfg = RunConfig.from_dict(tiny_config(tiny_bert, csv_path, "full", epochs=200))
    run_id = spare_store.create(cfg)
    rd = spare_store.run_dir(run_id)
    wait_for(lambda: runfolder.read_status(rd).get("status") == "running", timeout=300, what="the run to start")
    pid = runfolder.read_status(rd)["pid"]
    assert pid in spare_store.spare.forked
    assert os.getpgid(pid) == pid, "a forked worker leads its own process group, as a spawned one does"
    spare_store.kill(run_id)
    wait_for(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE,
             timeout=30, what="the worker to die")
    st = spare_store.sync(run_id)
    assert st["status"] in ("failed", "stopped"), st
    assert spare_store.spare.ready()


def test_a_changed_import_time_setting_falls_back_to_a_fresh_worker(spare_store, tiny_bert, csv_path, monkeypatch):
    env = dict(os.environ, HF_HUB_OFFLINE="0" if os.environ.get("HF_HUB_OFFLINE") == "1" else "1")
    assert spare_store.spare.spawn(["nothing"], spare_store.root / "x.log", env) is None
    monkeypatch.setenv("TRANSFORMERS_VERBOSITY", "error")  # read when transformers imports
    forked = list(spare_store.spare.forked)
    run_id = spare_store.create(RunConfig.from_dict(tiny_config(tiny_bert, csv_path, "lora", epochs=1)))
    assert spare_store.spare.forked == forked, "a stale spare must not serve the run"
    assert runfolder.read_status(spare_store.run_dir(run_id))["pid"] not in forked
    assert spare_store.wait(run_id, timeout=300)["status"] == "completed"


def test_a_run_under_another_studio_cache_forks_from_the_spare_and_uses_that_cache(spare_store, tiny_bert, csv_path,
                                                                                   tmp_path, monkeypatch):
    # The studio reads STUDIO_CACHE when it needs the folder, never at import: a spare serves such a run (the
    # suite's tests each set their own cache; all their runs used to spawn fresh workers).
    monkeypatch.setenv("STUDIO_CACHE", str(tmp_path / "other-cache"))
    forked = list(spare_store.spare.forked)
    run_id = spare_store.create(RunConfig.from_dict(tiny_config(tiny_bert, csv_path, "lora", epochs=1)))
    assert spare_store.spare.forked != forked, "the spare serves the run"
    assert spare_store.wait(run_id, timeout=300)["status"] == "completed"
    assert list((tmp_path / "other-cache" / "base-scores").glob("*.json")), "its base scores went to the new cache"


def test_a_spare_is_lent_only_under_its_own_settings_and_a_lender_gone_means_fresh_workers(spare_store, tmp_path):
    spare = spare_store.spare
    env = worker_env()
    assert prewarm.lend(spare, env)[prewarm.SOCKET_ENV] == str(spare.socket_path)
    other = {**env, "HF_HUB_OFFLINE": "0" if env.get("HF_HUB_OFFLINE") == "1" else "1"}
    assert prewarm.SOCKET_ENV not in prewarm.lend(spare, other), "a child under other settings starts its own"
    assert prewarm.lend(None, env) == env
    # The lender's spare ends with it: the borrower's Store then starts fresh workers.
    gone = prewarm.Borrowed(tmp_path / "gone.sock", tmp_path)
    assert not gone.ready() and gone.spawn(["nothing"], tmp_path / "x.log", env) is None


def test_a_spare_imports_what_every_tasks_runs_import_first():
    """Each task's warm_imports (its metrics, its trainer classes) are imported by the spare, so a run forked
    from it does not import them itself."""
    from studio.tasks import all_tasks

    wanted = sorted({m for task in all_tasks() for m in task.warm_imports})
    assert "sklearn.metrics" in wanted and "trl.trainer.dpo_trainer" in wanted
    code = ("import sys; from studio.runs.prewarm import _import_heavy; _import_heavy(); "
            f"print([m for m in {wanted!r} if m not in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=worker_env(), timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


STAND_IN = """import os, traceback
with open(os.environ["STAND_IN_RECORD"], "w") as f:  # the real one reads the GPU's compute capability here
    f.write("".join(traceback.format_stack()))
__version__ = "0.49.0"
"""


def test_where_bitsandbytes_is_installed_nothing_the_spare_imports_before_the_fork_imports_it(tmp_path):
    """bitsandbytes initialises CUDA when imported, and a worker forked after that cannot use the GPU. A stand-in
    bitsandbytes records who imports it: the spare's imports must not (peft and transformers' Trainer do, so they
    wait for the worker), and CUDA is not initialised when the spare is ready to fork."""
    (tmp_path / "bitsandbytes").mkdir()
    (tmp_path / "bitsandbytes" / "__init__.py").write_text(STAND_IN)
    record = tmp_path / "imported-by.txt"
    env = worker_env()
    env.update(PYTHONPATH=os.pathsep.join([str(tmp_path), env["PYTHONPATH"]]), STAND_IN_RECORD=str(record))
    code = ("import sys; from studio.runs import prewarm; prewarm._import_heavy(); "
            "print(prewarm.cuda_initialised(), 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert not record.exists(), record.read_text()[-1500:]
    assert out.stdout.split() == ["False", "True"]  # the rest was still imported ahead


def test_a_spare_that_finds_cuda_initialised_serves_no_run(tmp_path, monkeypatch):
    monkeypatch.setattr(prewarm, "_import_heavy", lambda: None)
    monkeypatch.setattr(prewarm, "cuda_initialised", lambda: True)
    sock = tmp_path / "spare.sock"
    assert prewarm.serve(str(sock), os.getpid()) == 1
    assert not sock.exists()  # no socket: Borrowed.spawn says None and the Store starts a fresh worker


def test_the_cache_folder_torch_sets_for_itself_does_not_make_the_spare_stale():
    from studio.runs.prewarm import env_fingerprint

    # Loading a model in the app (the playground) imports torch's compiler, which sets TORCHINDUCTOR_CACHE_DIR in
    # the app's environment; every run after the first prediction would otherwise spawn a fresh worker.
    before = {"HF_HUB_OFFLINE": "1", "PATH": "/bin"}
    assert env_fingerprint({**before, "TORCHINDUCTOR_CACHE_DIR": "/tmp/torchinductor_root"}) == env_fingerprint(before)
    assert env_fingerprint({**before, "TORCH_HOME": "/elsewhere"}) != env_fingerprint(before)


def test_a_closed_spare_leaves_nothing_behind(tmp_path):
    from studio.runs.prewarm import Spare

    spare = Spare(tmp_path)
    spare.close()
    assert spare.proc.poll() is not None and not spare.dir.exists()


def test_a_spare_whose_app_vanished_ends_and_removes_its_folder(tmp_path):
    """An app killed without closing it (no atexit): the spare notices its parent is gone."""
    import subprocess
    import sys
    from pathlib import Path

    from studio.runs.store import worker_env

    code = ("import os, sys; from studio.runs.prewarm import Spare; s = Spare(sys.argv[1]); "
            "print(s.dir, s.proc.pid, flush=True); os._exit(0)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60,
                         env=worker_env()).stdout.split()
    folder, pid = Path(out[0]), int(out[1])
    wait_for(lambda: not folder.exists() and not (psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"),
             timeout=300, what="the orphaned spare to end and remove its folder")


def test_a_terminated_spare_removes_its_folder(tmp_path):
    """SIGTERM to the app's process group (a service stop) reaches the spare: it still cleans up."""
    import signal

    from studio.runs.prewarm import Spare

    spare = Spare(tmp_path)
    wait_for(spare.ready, timeout=300, what="the spare worker to finish its imports")
    os.kill(spare.proc.pid, signal.SIGTERM)
    wait_for(lambda: spare.proc.poll() is not None and not spare.dir.exists(), timeout=60,
             what="the terminated spare to remove its folder")
