"""Several processes (and machines) training one run: the launch command, each rank's entry, the outcome.

A run with training.num_processes or training.num_machines above 1 is trained by `accelerate launch`
(torchrun underneath): the worker claims the device as usual, then starts

    python -m studio.runs.distributed launch <accelerate launch arguments> -m studio.runs.distributed rank RUN_DIR

and waits for it. Every rank runs studio.training.recipe.run; only global rank 0 writes the run folder
(metrics.jsonl, status.json, reports, the model; the Trainer saves checkpoints on rank 0 too).
Each rank leaves a small result file (.result-rank<N>.json) saying how it ended, which the worker
reads to write the final status. The launcher and every rank ask the kernel to kill them when their
parent dies, so Store.kill (SIGKILL to the worker's process group) leaves no rank behind even
though torchrun starts each rank in a session of its own.

Machines other than machine 0 run their share with `python -m studio.runs.distributed join RUN_DIR
--machine-rank K` on a runs folder shared with machine 0.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

from studio.base import files, runfolder
from studio.base.devices import pick_precision, process_device, resolve_device
from studio.base.errors import LaunchFailed, failure_reason
from studio.base.heap import freeze_imports
from studio.base.process_rank import LAUNCH_ENV, is_main_process, world_rank
from studio.config import load_run_config
from studio.training import recipe

RESULT_GLOB = ".result-rank*.json"


# ------------------------------------------------------------- the command --
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accelerate_args(training, run_dir: Path, *, precision: str, resume: bool = False,
                    machine_rank: int = 0, port: int | None = None) -> list[str]:
    """The `accelerate launch` arguments for this run (everything after `accelerate launch`)."""
    t = training
    port = t.main_process_port or port or free_port()
    args = ["--num_processes", str(t.num_processes), "--num_machines", str(t.num_machines),
            "--machine_rank", str(machine_rank), "--main_process_port", str(port),
            "--mixed_precision", precision if precision in ("bf16", "fp16") else "no", "--dynamo_backend", "no"]
    if t.num_machines > 1:
        args += ["--main_process_ip", t.main_process_ip, "--rdzv_backend", "static"]
    if t.distributed == "fsdp":
        # A whole-model state dict on save, so checkpoints and the final model load without accelerate.
        args += ["--use_fsdp", "--fsdp_sharding_strategy", "FULL_SHARD", "--fsdp_auto_wrap_policy",
                 "TRANSFORMER_BASED_WRAP", "--fsdp_state_dict_type", "FULL_STATE_DICT",
                 "--fsdp_use_orig_params", "true", "--fsdp_sync_module_states", "true",
                 # Only each machine's first rank reads the base; sync_module_states copies rank 0's weights to
                 # the others as FSDP shards the model (named, not left to accelerate's default).
                 "--fsdp_cpu_ram_efficient_loading", "true"]
    elif t.distributed == "deepspeed":
        args += ["--use_deepspeed", "--zero_stage", "2",
                 "--gradient_accumulation_steps", str(t.gradient_accumulation_steps)]
    else:
        # --multi_gpu is accelerate's torchrun path; on CPU it is also the one that starts several
        # processes (its --cpu path starts one unless MPI is set up), and the Trainer picks gloo there.
        args += ["--multi_gpu"]
    args += ["--module", "studio.runs.distributed", "rank", str(Path(run_dir).resolve())]
    if resume:
        args.append("--resume")
    return args


def launch_command(accel_args: list[str]) -> list[str]:
    return [sys.executable, "-m", "studio.runs.distributed", "launch", *accel_args]


def describe_launch(training, accel_args: list[str], on_gpu: bool) -> dict[str, Any]:
    return {"launcher": "accelerate", "num_processes": training.num_processes, "num_machines": training.num_machines,
            "distributed": training.distributed, "backend": "nccl" if on_gpu else "gloo",
            "command": "accelerate launch " + shlex.join(accel_args)}


def check_gpus(training, device: str) -> None:
    """On GPUs, each process of this machine needs one of its own."""
    if not device.startswith("cuda"):
        return
    import torch

    per_machine = training.num_processes // training.num_machines
    have = torch.cuda.device_count()
    if per_machine > have:
        raise LaunchFailed(f"training.num_processes asks for {per_machine} processes on this machine but it has "
                           f"{have} visible GPU{'s' if have != 1 else ''}; lower num_processes or train on cpu.")


# ------------------------------------------------------------- worker side --
def clear_results(run_dir: Path) -> None:
    for p in glob.glob(str(Path(run_dir) / RESULT_GLOB)):
        os.unlink(p)


def run_launched(run_dir: Path, training, device: str, precision: str, resume: bool) -> dict[str, Any]:
    """Start every rank through accelerate, wait for them, and return rank 0's result (as train.run does)."""
    run_dir = Path(run_dir)
    check_gpus(training, device)
    on_gpu = device.startswith("cuda")
    accel = accelerate_args(training, run_dir, precision=precision, resume=resume)
    record = describe_launch(training, accel, on_gpu)
    cmd = launch_command(accel)
    clear_results(run_dir)
    runfolder.write_status(run_dir, "running", if_active=True, launch=record)
    print(f"[studio] launching {training.num_processes} processes: {record['command']}", flush=True)
    env = {**os.environ, LAUNCH_ENV: json.dumps(record)}
    # Same process group as the worker (no new session): Store.kill's killpg reaches the launcher.
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL)
    returncode = proc.wait()  # SIGTERM to the worker writes the stop file; rank 0 sees it and all ranks stop
    return read_outcome(run_dir, returncode)


def read_outcome(run_dir: Path, returncode: int) -> dict[str, Any]:
    """Rank 0's result; a failing rank's reason (rank 0's first); else the log's last error line."""
    results = {}
    for p in glob.glob(str(Path(run_dir) / RESULT_GLOB)):
        m = re.search(r"rank(\d+)\.json$", p)
        try:
            results[int(m.group(1))] = json.loads(Path(p).read_text(encoding="utf-8"))
        except (OSError, ValueError, AttributeError):
            continue
    clear_results(run_dir)
    failed = sorted(r for r, res in results.items() if res.get("status") == "failed")
    if failed:
        res = results[failed[0]]
        raise LaunchFailed(res.get("reason") or f"rank {failed[0]} failed")
    if returncode == 0 and 0 in results:
        return results[0]
    raise LaunchFailed(reason_from_log(run_dir, returncode))


def reason_from_log(run_dir: Path, returncode: int) -> str:
    """A rank that died without a word (killed, segfault): name the exit and the log's last error line."""
    tail = runfolder.tail_log(run_dir, lines=200)
    for p in sorted(Path(run_dir).glob("train.rank*.log")):  # the other ranks' own logs (rank 0's last)
        try:
            tail = "\n".join(p.read_text(encoding="utf-8", errors="replace").splitlines()[-200:]) + "\n" + tail
        except OSError:
            continue
    errors = [ln.strip() for ln in tail.splitlines() if re.match(r"^\s*[\w.]+(Error|Exception|Exit)\b.*:", ln)]
    how = f"signal {-returncode}" if returncode < 0 else f"exit code {returncode}"
    detail = f": {errors[-1]}" if errors else "; see train.log (and train.rank*.log)"
    return f"The distributed launch ended with {how} before rank 0 reported{detail}"


# --------------------------------------------------------------- rank side --
def die_with_parent() -> None:
    """Ask Linux to SIGKILL us when our parent dies, so no rank outlives a killed run."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    parent = os.getppid()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def rank_log(run_dir: Path, rank: int) -> Path:
    return Path(run_dir) / f"train.rank{rank}.log"


def _write_own_log(run_dir: Path) -> None:
    """Ranks other than 0 would repeat each of rank 0's lines in train.log: each writes its own file instead
    (file descriptors 1 and 2, so library and C-level output go there too)."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(rank_log(run_dir, world_rank()), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _write_result(run_dir: Path, result: dict[str, Any]) -> None:
    files.atomic_write_json(Path(run_dir) / f".result-rank{world_rank()}.json", result)


def _join_process_group(run_dir: Path) -> None:
    """Under FSDP, join the ranks' process group before the model is built: the low-memory loading (ranks other
    than each machine's first build the model without weights, studio.base.process_rank.weights_from_rank_0)
    needs the group to exist, and the Trainer would create it only after the model is loaded, leaving every rank
    with the whole fp32 model in host memory. This is the group the Trainer would make (same backend; its timeout
    on a GPU); the Trainer's own PartialState finds it initialised and keeps it. DDP and DeepSpeed ranks load
    their models as before."""
    if os.environ.get("ACCELERATE_USE_FSDP", "false").lower() != "true":
        return
    from datetime import timedelta

    from accelerate import PartialState
    from transformers import TrainingArguments

    on_cpu = process_device(load_run_config(run_dir).training.device) == "cpu"
    # As TrainingArguments._setup_devices: gloo on a CPU, and on a GPU its ddp_timeout.
    timeout = TrainingArguments.__dataclass_fields__["ddp_timeout"].default
    PartialState(cpu=on_cpu, **({} if on_cpu else {"timeout": timedelta(seconds=timeout)}))


def rank_main(run_dir: Path, resume: bool) -> int:
    """One rank: train, then leave its result (rank 0's holds the final status fields)."""
    die_with_parent()
    if not is_main_process():
        _write_own_log(run_dir)
    try:
        _join_process_group(run_dir)
        freeze_imports()  # a rank trains once and exits (studio.base.heap)
        result = recipe.run(run_dir, resume=resume)
    except BaseException as exc:
        tb = traceback.format_exc()
        print(f"[studio] rank {world_rank()} failed:\n{tb}", file=sys.stderr, flush=True)
        try:
            _write_result(run_dir, {"status": "failed", "reason": f"Rank {world_rank()}: {failure_reason(exc)}",
                                    "traceback_tail": tb[-4000:]})
        except OSError:
            pass
        return 1
    if is_main_process():
        _write_result(run_dir, result)
    return 0


def launch_main(argv: list[str]) -> int:
    """`accelerate launch` itself, bound to die with the worker that started it."""
    die_with_parent()
    from accelerate.commands.launch import launch_command as accelerate_launch
    from accelerate.commands.launch import launch_command_parser

    try:
        accelerate_launch(launch_command_parser().parse_args(argv))
    except Exception as exc:  # torchrun's ChildFailedError: the ranks' own output already says why
        print(f"[studio] launch ended: {type(exc).__name__}", file=sys.stderr, flush=True)
        return 1
    return 0


def join_main(run_dir: Path, machine_rank: int) -> int:
    """Run machine K's share of a several-machine run that machine 0's worker has started."""
    t = load_run_config(run_dir).training
    if not 0 < machine_rank < t.num_machines:
        print(f"--machine-rank must be between 1 and {t.num_machines - 1} for this run.", file=sys.stderr)
        return 2
    device = resolve_device(t.device)
    check_gpus(t, device)
    resume = bool(runfolder.read_status(run_dir).get("resumed_at"))  # Store.resume marks a resumed run
    accel = accelerate_args(t, run_dir, precision=pick_precision(t.precision, device), resume=resume,
                            machine_rank=machine_rank)
    env = {**os.environ, LAUNCH_ENV: json.dumps(describe_launch(t, accel, device.startswith("cuda")))}
    return subprocess.call(launch_command(accel), env=env)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["launch"]:
        return launch_main(argv[1:])
    ap = argparse.ArgumentParser(prog="python -m studio.runs.distributed")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("rank", help="one training process (started by accelerate launch)")
    r.add_argument("run_dir")
    r.add_argument("--resume", action="store_true")
    j = sub.add_parser("join", help="this machine's share of a run on several machines")
    j.add_argument("run_dir")
    j.add_argument("--machine-rank", type=int, required=True)
    a = ap.parse_args(argv)
    if a.cmd == "rank":
        return rank_main(Path(a.run_dir), a.resume)
    return join_main(Path(a.run_dir), a.machine_rank)


if __name__ == "__main__":
    sys.exit(main())
