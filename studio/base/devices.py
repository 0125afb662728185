"""The devices a run trains on: what this server has (one line for the UI and the CLI), which device and
number format a run's `auto` settings become."""

from __future__ import annotations

import functools
import os
from collections import Counter

from studio.base.text import Text


@functools.lru_cache(maxsize=1)
def describe_devices() -> str:
    """e.g. "This server: 2 GPUs (2 × NVIDIA H100 80GB HBM3)" or "This server: no GPU, 16 CPU cores"."""
    import torch

    if torch.cuda.is_available():
        n = torch.cuda.device_count()
        names = Counter(torch.cuda.get_device_name(i) for i in range(n))
        kinds = ", ".join(f"{c} × {name}" if c > 1 else name for name, c in names.items())
        return Text(f"This server: {n} GPU{'s' if n != 1 else ''} ({kinds})", f"本服务器：{n} 块 GPU（{kinds}）")
    cores = os.cpu_count() or 1
    return Text(f"This server: no GPU, {cores} CPU core{'s' if cores != 1 else ''}",
                f"本服务器：没有 GPU，{cores} 个 CPU 核心")


def describe_run_devices(num_processes: int, num_machines: int = 1) -> str:
    """How a run with these settings spreads out, next to what the server has."""
    if num_processes <= 1 and num_machines <= 1:
        return describe_devices()
    where = f" on {num_machines} machines" if num_machines > 1 else ""
    where_zh = f"，分布在 {num_machines} 台机器上" if num_machines > 1 else ""
    here = describe_devices()
    return Text(f"{here} · this run: {num_processes} processes{where}",
                f"{here.zh} · 此运行：{num_processes} 个进程{where_zh}")


def run_devices(device: str, processes: int = 1) -> list[str]:
    """The devices a queued run may take, in order of preference. On auto or cuda: any GPU of the box for a run
    of one process (so two queued runs train at once on a two-GPU box); for a run of several, a group of as many
    neighbouring GPUs ("cuda:0,cuda:1": it holds each of them, and its ranks see them as cuda:0, cuda:1, ...);
    else the one named, or the CPU."""
    if device in ("auto", "cuda"):
        n = gpu_count()
        if not n:
            return ["cpu"] if device == "auto" else ["cuda:0"]
        size = min(max(1, processes), n)  # more processes than GPUs: the launcher refuses, naming both
        return [",".join(f"cuda:{i}" for i in range(start, start + size)) for start in range(n - size + 1)]
    return [resolve_device(device)]


def ranks_here(num_processes, num_machines) -> int:
    """The processes a run starts on this machine (a GPU each): its num_processes spread over num_machines."""
    return max(1, int(num_processes or 1) // max(1, int(num_machines or 1)))


def gpus_in(device: str) -> list[str]:
    """The devices a run's device stands for: a group "cuda:0,cuda:1" holds both; anything else is one."""
    return [d.strip() for d in device.split(",") if d.strip()]


def gpu_count() -> int:
    """GPUs on this machine, counted without initialising CUDA in this process (a worker still has to choose its
    GPU through CUDA_VISIBLE_DEVICES): STUDIO_GPU_COUNT, else nvidia-smi, else 0."""
    import shutil
    import subprocess

    if os.environ.get("STUDIO_GPU_COUNT"):
        return int(os.environ["STUDIO_GPU_COUNT"])
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))


def pin_gpu(device: str) -> None:
    """Make `device` (cuda:K of this machine, or a group of them) the only GPUs this process and its children see,
    as cuda:0 (and cuda:1, ... for a group: one per rank)."""
    if not device.startswith("cuda:"):
        return
    visible = [d.strip() for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    indices = [device_index(d) for d in gpus_in(device)]
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(visible[i] if i < len(visible) else str(i) for i in indices)
    os.environ["STUDIO_RUN_DEVICE"] = device


def process_device(device: str) -> str:
    """The device as this process addresses it: a worker pinned to one GPU (pin_gpu) sees it as cuda:0."""
    if os.environ.get("STUDIO_RUN_DEVICE", "").startswith("cuda") and device.startswith("cuda"):
        return "cuda:0"
    return resolve_device(device)


def resolve_device(device: str) -> str:
    """`auto` -> the first GPU when there is one, else cpu; any other value as given."""
    if device != "auto":
        return device
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


# The torch dtype each compute format (training.precision, a Plan's `compute`) stands for, by name.
COMPUTE_DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


def pick_precision(precision: str, device: str) -> str:
    """`auto` -> bf16 on a GPU with bf16 units (Ampere, compute capability 8.0, and later), fp16 on older ones
    (Volta, Turing: torch.cuda.is_bf16_supported() says True there by emulation, which is slow), fp32 on a CPU;
    any other value as given."""
    if precision != "auto":
        return precision
    capability = gpu_capability(device)
    if capability is None:
        return "fp32"
    return "bf16" if capability >= (8, 0) else "fp16"


def gpu_capability(device: str) -> tuple[int, int] | None:
    """The CUDA compute capability of a device ("cuda", "cuda:1"), or None for a CPU."""
    if not device.startswith("cuda"):
        return None
    import torch

    if not torch.cuda.is_available():
        return None
    return tuple(torch.cuda.get_device_capability(device_index(device)))


def device_index(device: str) -> int:
    """K of cuda:K (of a group's first GPU)."""
    first = gpus_in(device)[0] if device else device
    return int(first.split(":", 1)[1]) if ":" in first else 0
