"""The devices a run trains on: what this server has (one line for the UI and the CLI), which device and
number format a run's `auto` settings become."""

from __future__ import annotations

import functools
import os
from collections import Counter


@functools.lru_cache(maxsize=1)
def describe_devices() -> str:
    """e.g. "This server: 2 GPUs (2 × NVIDIA H100 80GB HBM3)" or "This server: no GPU, 16 CPU cores"."""
    import torch

    if torch.cuda.is_available():
        n = torch.cuda.device_count()
        names = Counter(torch.cuda.get_device_name(i) for i in range(n))
        kinds = ", ".join(f"{c} × {name}" if c > 1 else name for name, c in names.items())
        return f"This server: {n} GPU{'s' if n != 1 else ''} ({kinds})"
    cores = os.cpu_count() or 1
    return f"This server: no GPU, {cores} CPU core{'s' if cores != 1 else ''}"


def describe_run_devices(num_processes: int, num_machines: int = 1) -> str:
    """How a run with these settings spreads out, next to what the server has."""
    if num_processes <= 1 and num_machines <= 1:
        return describe_devices()
    where = f" on {num_machines} machines" if num_machines > 1 else ""
    return f"{describe_devices()} · this run: {num_processes} processes{where}"


def resolve_device(device: str) -> str:
    """`auto` -> the first GPU when there is one, else cpu; any other value as given."""
    if device != "auto":
        return device
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


def pick_precision(precision: str, device: str) -> str:
    """`auto` -> bf16 (or fp16) on a GPU that supports it, fp32 elsewhere; any other value as given."""
    if precision != "auto":
        return precision
    if device.startswith("cuda"):
        import torch

        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"
