"""Several processes: a run with training.num_processes 2 trains through accelerate launch on CPU (gloo).

- The same run on one process and on two completes, with one clean metrics log (one writer, every
  step once), the launch recorded in metrics, status and config, and comparable losses and scores.
- A stop reaches both ranks at the same step; resume continues from the checkpoint to the end.
- Kill takes the whole group down, ranks included (torchrun starts them in sessions of their own).
- The launch command, the config checks and the reading of the ranks' outcome, without launching.

Tiny BERT, 40 training rows; two processes with 4 rows each make the same 8-row batches as one
process with 8, so their first steps see the same data.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from studio.base import process_rank, runfolder
from studio.base.errors import ConfigError, LaunchFailed
from studio.base.runfolder import RunFolder
from studio.config import RunConfig, TrainingConfig
from studio.runs import distributed, worker
from studio.runs.store import Store
from studio.training import recipe
from tests.support import ROOT, read_jsonl, tiny_config, wait_for

STEPS = dict(epochs=2, eval_strategy="steps", eval_steps=5, group_by_length=False, logging_steps=1)  # 10 steps


def cfg(tiny_bert, csv, processes: int, **training) -> RunConfig:
    return RunConfig.from_dict(tiny_config(tiny_bert, csv, "lora", batch_size=8 // processes,
                                           num_processes=processes, **{**STEPS, **training}))


def work_in_process(store: Store, run_id: str) -> dict:
    """The real worker inside this process (no second torch import), for the one-process reference."""
    before = signal.getsignal(signal.SIGTERM)
    try:
        worker.main([str(store.run_dir(run_id)), "--registry", str(store.registry)])
    finally:
        signal.signal(signal.SIGTERM, before)
    return store.sync(run_id)


def ranks_of(run_dir: Path) -> list[psutil.Process]:
    """Every process still working for this run: worker, launcher, ranks."""
    out = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if str(run_dir) in " ".join(p.info["cmdline"] or []) and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.Error:
            continue
    return out


def rank_processes(run_dir: Path) -> list[psutil.Process]:
    """The training processes themselves (not the launcher or its helpers, whose command lines name them too)."""
    return [p for p in ranks_of(run_dir) if "rank" in (p.info["cmdline"] or []) and "launch" not in p.info["cmdline"]]


def by_step(records, kind):
    return {r["step"]: r for r in records if r["kind"] == kind}


# ------------------------------------------------------------- one vs two --
@pytest.mark.slow
def test_one_and_two_processes_both_complete_with_one_clean_log_and_comparable_results(store, tiny_bert,
                                                                                      separable_csv):
    one = store.create(cfg(tiny_bert, separable_csv, 1), start=False)
    assert work_in_process(store, one)["status"] == "completed"
    two = store.create(cfg(tiny_bert, separable_csv, 2))
    st = store.wait(two, timeout=400)
    rd = store.run_dir(two)
    assert st["status"] == "completed", (st, runfolder.tail_log(rd, 60))
    wait_for(lambda: not ranks_of(rd), timeout=30, what="every process of the run to exit")

    # How it was launched: in the config, the start record and the status.
    assert json.loads((rd / "config.json").read_text())["training"]["num_processes"] == 2
    records = runfolder.read_metrics(rd)
    starts = [r for r in records if r["kind"] == "start"]
    assert len(starts) == 1
    launch = starts[0]["launch"]
    assert launch == st["launch"]
    assert {k: launch[k] for k in ("launcher", "num_processes", "backend", "distributed")} == {
        "launcher": "accelerate", "num_processes": 2, "backend": "gloo", "distributed": "ddp"}
    assert launch["command"].startswith("accelerate launch --num_processes 2 ") and str(rd) in launch["command"]
    assert runfolder.read_metrics(store.run_dir(one))[0]["launch"]["launcher"] == "none"

    # One writer: each step logged once, in order, and the run folder has no rank leftovers.
    assert [r["step"] for r in records if r["kind"] == "train"] == list(range(1, 11))
    assert [r["step"] for r in records if r["kind"] == "eval"] == [5, 10]
    assert [r["kind"] for r in records][-2:] == ["summary", "test"]
    assert not list(rd.glob(".result-rank*")) and not list(rd.glob(".model-*"))
    log = (RunFolder(rd).log).read_text()
    assert log.count("trainable of") == 1, "rank 1 writes its own log, not a second copy of rank 0's lines"
    assert "trainable of" in distributed.rank_log(rd, 1).read_text()
    assert st["max_steps"] == st["step"] == 10  # the global batch of 2 x 4 rows, as one process's 8

    # Comparable: the first step sees the same 8 rows from the same start, so the same loss (the
    # Trainer must not scale it by the process count); later steps differ by summation order only.
    ref = runfolder.read_metrics(store.run_dir(one))
    ref_train, two_train = by_step(ref, "train"), by_step(records, "train")
    assert two_train[1]["loss"] == pytest.approx(ref_train[1]["loss"], abs=1e-3)
    for step in (5, 10):
        assert by_step(records, "eval")[step]["eval_loss"] == pytest.approx(by_step(ref, "eval")[step]["eval_loss"],
                                                                          rel=0.15)
    ref_test = json.loads((store.run_dir(one) / "test_report.json").read_text())["metrics"]
    two_test = json.loads((rd / "test_report.json").read_text())["metrics"]
    assert two_test["accuracy"] == pytest.approx(ref_test["accuracy"], abs=0.25)
    assert len(read_jsonl(rd / "test_predictions.jsonl")) == json.loads((rd / "test_report.json").read_text())["n"]
    assert (rd / "model" / "adapter_model.safetensors").exists()
    assert recipe.last_checkpoint(rd) is not None


# ------------------------------------------------------------- stop, resume --
@pytest.mark.slow
def test_a_stop_reaches_every_rank_at_the_same_step_and_resume_finishes(store, tiny_bert, separable_csv):
    run_id = store.create(cfg(tiny_bert, separable_csv, 2))
    rd = store.run_dir(run_id)
    # Asked for while the ranks start up: rank 0 reads it after step 1 and every rank stops there.
    wait_for(lambda: runfolder.read_status(rd).get("launch"), timeout=120, poll=0.1, what="the launch")
    store.stop(run_id)
    st = store.wait(run_id, timeout=300)
    assert st["status"] == "stopped", (st, runfolder.tail_log(rd, 60))
    assert "Stopped by the user at step 1" in st["reason"]
    assert recipe.last_checkpoint(rd).name == "checkpoint-1"
    wait_for(lambda: not ranks_of(rd), timeout=30, what="every rank to exit (none left waiting for the others)")

    store.resume(run_id)
    st = store.wait(run_id, timeout=300)
    assert st["status"] == "completed", (st, runfolder.tail_log(rd, 60))
    records = runfolder.read_metrics(rd)
    assert [(r["step"], r["resumed"]) for r in records if r["kind"] == "start"] == [(0, False), (1, True)]
    assert [r["step"] for r in records if r["kind"] == "train"] == list(range(1, 11)), "every step once"


# ------------------------------------------------------------------- kill --
@pytest.mark.slow
def test_kill_takes_down_the_launcher_and_every_rank(store, tiny_bert, separable_csv):
    run_id = store.create(cfg(tiny_bert, separable_csv, 2, epochs=40, eval_steps=100))  # 200 steps
    rd = store.run_dir(run_id)
    # Mid-training, when the ranks talk to each other directly and would train on without the launcher.
    wait_for(lambda: (runfolder.read_status(rd).get("step") or 0) >= 2, timeout=180, poll=0.05, what="training")
    assert len(rank_processes(rd)) == 2
    t0 = time.time()
    st = store.kill(run_id)
    assert st["status"] == "stopped" and "Killed" in st["reason"]
    wait_for(lambda: not ranks_of(rd), timeout=15, poll=0.1, what="every rank to die with the worker")
    assert time.time() - t0 < 15
    time.sleep(1.0)
    assert store.sync(run_id)["status"] == "stopped"  # no orphan rank came back to write a status


# ------------------------------------------------------------ two machines --
@pytest.mark.slow
def test_two_machines_on_one_host_train_one_run(store, tiny_bert, separable_csv):
    """Machine 0 is the studio's worker; "machine 1" joins from a second command, as an operator would."""
    port = distributed.free_port()
    run_id = store.create(cfg(tiny_bert, separable_csv, 2, num_machines=2, main_process_ip="127.0.0.1",
                              main_process_port=port))
    rd = store.run_dir(run_id)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(rd.parent / "machine1.log", "wb") as log:
        joiner = subprocess.Popen([sys.executable, "-m", "studio.runs.distributed", "join", str(rd),
                                   "--machine-rank", "1"],
                                  cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            st = store.wait(run_id, timeout=400)
            code = joiner.wait(timeout=120)
        finally:
            if joiner.poll() is None:
                joiner.kill()
    assert st["status"] == "completed", (st, runfolder.tail_log(rd, 40),
                                         (rd.parent / "machine1.log").read_text()[-3000:])
    assert code == 0
    assert st["launch"]["num_machines"] == 2 and "--main_process_ip 127.0.0.1" in st["launch"]["command"]
    records = runfolder.read_metrics(rd)
    assert [r["kind"] for r in records].count("start") == 1
    assert [r["step"] for r in records if r["kind"] == "train"] == list(range(1, 11))


# ------------------------------------------------- launch command, no launch --
def training(**kw) -> TrainingConfig:
    return TrainingConfig(**kw)


def test_ddp_on_cpu_launches_through_accelerates_torchrun_path(tmp_path):
    args = distributed.accelerate_args(training(num_processes=2), tmp_path, precision="fp32", port=1234)
    assert (args[:8]
            == ["--num_processes", "2", "--num_machines", "1", "--machine_rank", "0", "--main_process_port", "1234"])
    assert "--multi_gpu" in args and "--use_fsdp" not in args and "--main_process_ip" not in args
    assert args[args.index("--mixed_precision") + 1] == "no"
    assert args[-4:] == ["--module", "studio.runs.distributed", "rank", str(tmp_path.resolve())]
    resumed = distributed.accelerate_args(training(num_processes=2), tmp_path, precision="bf16",
                                          resume=True, port=1234)
    assert resumed[-1] == "--resume" and resumed[resumed.index("--mixed_precision") + 1] == "bf16"
    record = distributed.describe_launch(training(num_processes=2), args, on_gpu=False)
    assert record["backend"] == "gloo" and record["command"] == "accelerate launch " + " ".join(args)
    assert distributed.launch_command(args)[1:4] == ["-m", "studio.runs.distributed", "launch"]


def test_fsdp_deepspeed_and_several_machines_reach_accelerate(tmp_path):
    fsdp = distributed.accelerate_args(training(num_processes=4, distributed="fsdp"), tmp_path,
                                       precision="bf16", port=1)
    assert "--use_fsdp" in fsdp and "--multi_gpu" not in fsdp
    assert fsdp[fsdp.index("--fsdp_state_dict_type") + 1] == "FULL_STATE_DICT"
    ds = distributed.accelerate_args(training(num_processes=4, distributed="deepspeed", gradient_accumulation_steps=3),
                                     tmp_path, precision="fp16", port=1)
    assert "--use_deepspeed" in ds and ds[ds.index("--gradient_accumulation_steps") + 1] == "3"
    multi = distributed.accelerate_args(training(num_processes=4, num_machines=2, main_process_ip="10.0.0.1",
                                                 main_process_port=29555), tmp_path, precision="fp32",
                                        machine_rank=1)
    assert multi[multi.index("--machine_rank") + 1] == "1" and multi[multi.index("--main_process_ip") + 1] == "10.0.0.1"
    assert multi[multi.index("--main_process_port") + 1] == "29555"  # the configured port wins
    assert process_rank.is_multi_process(training(num_machines=2, num_processes=2))
    assert not process_rank.is_multi_process(training())
    assert process_rank.shards_model(training(num_processes=2, distributed="fsdp"))
    assert not process_rank.shards_model(training(num_processes=1, distributed="fsdp"))


@pytest.mark.parametrize("settings, message", [
    ({"num_machines": 2, "num_processes": 3, "main_process_ip": "h", "main_process_port": 2}, "does not split evenly"),
    ({"num_machines": 3, "num_processes": 2, "main_process_ip": "h", "main_process_port": 2},
     "at least one process per machine"),
    ({"num_processes": 2, "device": "cuda:1"}, "set device to auto or cuda"),
    ({"num_processes": 2, "distributed": "fsdp", "device": "cpu"}, "use ddp to train on CPU"),
    ({"num_processes": 2, "distributed": "mpi"}, "is not one of ddp, fsdp, deepspeed"),
])
def test_launch_settings_that_cannot_work_are_refused_with_the_fix(separable_csv, settings, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig.from_dict({"data": {"train": str(separable_csv)}, "training": settings})


@pytest.mark.parametrize("settings, message", [
    ({"num_machines": 2, "num_processes": 2}, "main_process_ip: set it"),
    ({"num_machines": 2, "num_processes": 2, "main_process_ip": "10.0.0.1"}, "main_process_port: set a port"),
])
def test_several_machines_on_this_servers_queue_need_a_meeting_point(separable_csv, settings, message, monkeypatch):
    """accelerate's static rendezvous needs machine 0's address and port; on a Ray cluster Ray Train sets it up, so
    the same config is fine there (and reading a run folder's config never asks)."""
    cfg = RunConfig.from_dict({"data": {"train": str(separable_csv)}, "training": {**settings, "device": "cpu"}})
    monkeypatch.delenv("STUDIO_RAY", raising=False)
    with pytest.raises(ConfigError, match=message):
        cfg.check_machine()
    monkeypatch.setenv("STUDIO_RAY", "127.0.0.1:6379")
    cfg.check_machine()


def test_deepspeed_without_the_package_names_the_fix(separable_csv, monkeypatch):
    from studio.config import machine

    monkeypatch.setattr(machine, "_installed", lambda module: module != "deepspeed")
    cfg = RunConfig.from_dict({"data": {"train": str(separable_csv)},  # reading a config never looks at the machine
                               "training": {"num_processes": 2, "distributed": "deepspeed", "device": "auto"}})
    with pytest.raises(ConfigError, match="deepspeed is not installed; `pip install deepspeed`"):
        cfg.check_machine()  # what Store.create and Store.resume ask before a run exists or relaunches


def test_the_outcome_is_rank_0s_result_or_the_first_failure_or_the_log(tmp_path):
    def result(rank, **r):
        (tmp_path / f".result-rank{rank}.json").write_text(json.dumps(r))

    result(0, status="completed", best_metric=0.9)
    result(1, status="completed")
    assert distributed.read_outcome(tmp_path, 0) == {"status": "completed", "best_metric": 0.9}
    assert not list(tmp_path.glob(".result-rank*")), "read once, then removed"

    result(0, status="completed")
    result(3, status="failed", reason="Rank 3: RuntimeError: boom")
    with pytest.raises(LaunchFailed, match="Rank 3: RuntimeError: boom"):
        distributed.read_outcome(tmp_path, 1)

    (tmp_path / "train.log").write_text("noise\nTraceback (most recent call last):\n  x\n"
                                        "torch.distributed.DistBackendError: peer went away\nmore noise\n")
    with pytest.raises(LaunchFailed, match="signal 9 before rank 0 reported: "
                                                       "torch.distributed.DistBackendError: peer went away"):
        distributed.read_outcome(tmp_path, -9)
    (tmp_path / "train.log").write_text("")
    with pytest.raises(LaunchFailed, match="exit code 1 before rank 0 reported; see train.log"):
        distributed.read_outcome(tmp_path, 1)
    distributed.rank_log(tmp_path, 1).write_text("RuntimeError: rank 1 lost its peer\n")
    with pytest.raises(LaunchFailed, match="exit code 1 before rank 0 reported: RuntimeError: rank 1 lost"):
        distributed.read_outcome(tmp_path, 1)


def test_a_rank_that_is_not_rank_0_writes_nothing_and_ignores_the_stop_file(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from studio.training.callbacks import run_log_callback

    RunLogCallback = run_log_callback()
    runfolder.request_stop(tmp_path)
    state = SimpleNamespace(global_step=3, max_steps=10, epoch=0.3)
    args = SimpleNamespace(device="cpu")
    control = SimpleNamespace(should_save=False, should_training_stop=False)
    quiet = RunLogCallback(tmp_path, 8, writer=False)
    quiet.on_train_begin(args, state, control)
    quiet.on_step_end(args, state, control)
    quiet.on_log(args, state, control, logs={"loss": 1.0})
    assert not control.should_training_stop and not quiet.stopped
    assert not (RunFolder(tmp_path).metrics).exists() and not (RunFolder(tmp_path).status).exists()

    loud = RunLogCallback(tmp_path, 8, writer=True)
    loud.on_step_end(args, state, control)
    loud.on_log(args, state, control, logs={"loss": 1.0})
    assert control.should_training_stop and control.should_save and loud.stopped
    assert [r["kind"] for r in runfolder.read_metrics(tmp_path)] == ["train"]


def test_rank_and_launch_record_come_from_the_environment(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv(process_rank.LAUNCH_ENV, raising=False)
    assert process_rank.is_main_process() and process_rank.world_size() == 1
    assert process_rank.launch_record()["launcher"] == "none"
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv(process_rank.LAUNCH_ENV, json.dumps({"launcher": "accelerate", "num_processes": 2}))
    assert not process_rank.is_main_process() and process_rank.world_size() == 2
    assert process_rank.launch_record() == {"launcher": "accelerate", "num_processes": 2}


def test_the_device_line_counts_gpus_or_cpu_cores(monkeypatch):
    import torch

    from studio.base import devices

    devices.describe_devices.cache_clear()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices.os, "cpu_count", lambda: 16)
    assert devices.describe_devices() == "This server: no GPU, 16 CPU cores"
    devices.describe_devices.cache_clear()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: "NVIDIA H100" if i < 2 else "NVIDIA L4")
    assert devices.describe_devices() == "This server: 3 GPUs (2 × NVIDIA H100, NVIDIA L4)"
    assert devices.describe_run_devices(4, 2).endswith("· this run: 4 processes on 2 machines")
    assert devices.describe_run_devices(1) == devices.describe_devices()
    devices.describe_devices.cache_clear()


def test_the_run_page_and_studio_show_say_how_a_run_was_launched():
    from components.tabs.runs_tab import run_summary

    launch = {"launcher": "accelerate", "num_processes": 2, "distributed": "ddp", "backend": "gloo",
              "command": "accelerate launch --num_processes 2 --multi_gpu"}
    info = {"id": "20261123-142455-3fa2b1", "status": "running", "status_detail": {"launch": launch}, "config": {}}
    assert "2 processes · ddp over gloo · `accelerate launch --num_processes 2 --multi_gpu`" in run_summary(info)
    one = {**info, "status_detail": {"launch": {"launcher": "none", "num_processes": 1}}}
    assert "processes" not in run_summary(one)


def test_a_failing_rank_leaves_its_reason_for_the_worker(tmp_path, monkeypatch):
    """Rank 1 fails (here: a run folder without a config); the worker's outcome names that rank and why."""
    monkeypatch.setattr(distributed, "die_with_parent", lambda: None)  # not for the test process itself
    monkeypatch.setattr(distributed, "_write_own_log", lambda run_dir: None)  # nor its stdout and stderr
    monkeypatch.setenv("RANK", "1")
    assert distributed.rank_main(tmp_path, resume=False) == 1
    with pytest.raises(LaunchFailed, match=r"^Rank 1: RunError: .*config.json is missing"):
        distributed.read_outcome(tmp_path, 1)


def test_more_processes_than_gpus_fails_the_run_with_the_fix(store, tiny_bert, separable_csv, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    run_id = store.create(cfg(tiny_bert, separable_csv, 2, device="cuda"), start=False)
    st = work_in_process(store, run_id)
    assert st["status"] == "failed"
    assert st["reason"] == ("training.num_processes asks for 2 processes on this machine but it has 1 visible GPU; "
                            "lower num_processes or train on cpu.")


# ------------------------------------------------------ FSDP's low-memory loading --
def test_only_an_fsdp_launch_asks_for_accelerates_low_memory_loading(tmp_path):
    fsdp = distributed.accelerate_args(training(num_processes=2, distributed="fsdp"), tmp_path, precision="bf16",
                                       port=1)
    assert fsdp[fsdp.index("--fsdp_cpu_ram_efficient_loading") + 1] == "true"
    assert fsdp[fsdp.index("--fsdp_sync_module_states") + 1] == "true"  # accelerate refuses the one without the other
    for other in ("ddp", "deepspeed"):
        args = distributed.accelerate_args(training(num_processes=2, distributed=other), tmp_path, precision="bf16",
                                           port=1)
        assert not any(a.startswith("--fsdp") for a in args)


@pytest.fixture
def fsdp_rank_env(monkeypatch):
    """What `accelerate launch --use_fsdp` hands a rank, for one process of a world of 1 (gloo, this host).
    accelerate's PartialState rewrites RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE and may set the thread
    count: all set here through monkeypatch and put back after, with the process group and accelerate's state."""
    import torch
    import torch.distributed as dist
    from accelerate.state import AcceleratorState

    env = {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(distributed.free_port()), "ACCELERATE_USE_FSDP": "true",
           "FSDP_CPU_RAM_EFFICIENT_LOADING": "true"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(distributed, "die_with_parent", lambda: None)  # not for the test process itself
    monkeypatch.setattr(distributed, "_write_own_log", lambda run_dir: None)
    threads = torch.get_num_threads()
    # A fresh rank process has no accelerate state yet; earlier tests in this one may have left theirs (a Trainer
    # makes a non-distributed PartialState, which PartialState() would hand back instead of joining a group).
    AcceleratorState._reset_state(reset_partial_state=True)
    yield monkeypatch
    if dist.is_initialized():
        dist.destroy_process_group()
    AcceleratorState._reset_state(reset_partial_state=True)
    torch.set_num_threads(threads)


class _ModelBuilt(Exception):
    """Ends the rank once its model is built: the FSDP wrap after it needs GPUs."""


@pytest.mark.parametrize("local_rank", ["0", "1"])
def test_an_fsdp_rank_builds_its_model_inside_the_process_group(store, tiny_bert, separable_csv, fsdp_rank_env,
                                                                local_rank):
    """The rank entry joins the process group before the base loads, so transformers sees FSDP's low-memory
    loading (is_fsdp_enabled) from inside from_pretrained; each machine's first rank reads the base and starts the
    head from prototypes, any other builds the model (adapters too) on the meta device, to receive rank 0's."""
    import torch.distributed as dist
    import transformers.modeling_utils as mu

    from studio.training import parts

    fsdp_rank_env.setenv("LOCAL_RANK", local_rank)
    run_dir = store.run_dir(store.create(cfg(tiny_bert, separable_csv, 1), start=False))
    seen, real = {}, mu.PreTrainedModel.__dict__["from_pretrained"].__func__

    def from_pretrained(cls, *args, **kw):
        seen.update(group=dist.is_initialized(), fsdp=mu.is_fsdp_enabled(), device_map=kw.get("device_map"))
        return real(cls, *args, **kw)

    def built(model):
        seen["devices"] = {p.device.type for p in model.parameters()}
        seen["lora"] = {p.device.type for n, p in model.named_parameters() if "lora_" in n}
        raise _ModelBuilt

    real_init = parts.init_from_prototypes
    fsdp_rank_env.setattr(mu.PreTrainedModel, "from_pretrained", classmethod(from_pretrained))
    fsdp_rank_env.setattr(parts, "init_from_prototypes",
                          lambda *a, **kw: seen.setdefault("prototypes", real_init(*a, **kw)))
    fsdp_rank_env.setattr(recipe, "count_parameters", built)

    assert distributed.rank_main(run_dir, resume=False) == 1
    assert "_ModelBuilt" in json.loads((run_dir / ".result-rank0.json").read_text())["reason"]
    assert seen["group"] and seen["fsdp"], "the process group and FSDP's env exist when the base loads"
    if local_rank == "0":
        assert seen["device_map"] is None and seen["devices"] == {"cpu"} and seen["prototypes"] is True
    else:
        assert seen["device_map"] == {"": "meta"} and seen["devices"] == seen["lora"] == {"meta"}
        assert "prototypes" not in seen, "rank 0's head arrives with its weights"


def test_ddp_and_single_process_ranks_load_as_before(monkeypatch, tmp_path):
    """Without FSDP the rank entry creates no process group (the Trainer does, as it always has), and no process
    builds an empty model."""
    import torch.distributed as dist

    from studio.base.process_rank import weights_from_rank_0

    monkeypatch.delenv("ACCELERATE_USE_FSDP", raising=False)
    distributed._join_process_group(tmp_path)  # no config needed: it returns before reading one
    assert not dist.is_initialized()
    assert not weights_from_rank_0() and not weights_from_rank_0(quantized=True)
