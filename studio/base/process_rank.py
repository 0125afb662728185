"""Who this process is in a run trained by several processes: rank, world size, how it was launched.

torchrun (under `accelerate launch`) sets RANK and WORLD_SIZE; studio.runs.distributed hands every rank
the launch record in STUDIO_LAUNCH. A run trained by one process is rank 0 of a world of 1. The
recipe asks these questions; the launching itself lives in studio.runs.distributed.
"""

from __future__ import annotations

import json
import os
from typing import Any

LAUNCH_ENV = "STUDIO_LAUNCH"  # the launch record, handed by the worker to every rank


def is_multi_process(training) -> bool:
    return training.num_processes > 1 or training.num_machines > 1


def world_rank() -> int:
    """This process's rank over all machines (torchrun sets RANK); 0 when not launched."""
    return int(os.environ.get("RANK", "0"))


def is_main_process() -> bool:
    return world_rank() == 0


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def shards_model(training) -> bool:
    """FSDP and DeepSpeed split the weights over the ranks, so saving them is a collective."""
    return is_multi_process(training) and training.distributed in ("fsdp", "deepspeed")


def weights_from_rank_0(quantized: bool = False) -> bool:
    """This process builds its model without weights (on the meta device) and receives rank 0's as FSDP shards it:
    under FSDP with accelerate's low-memory loading (the launch sets ACCELERATE_USE_FSDP and
    FSDP_CPU_RAM_EFFICIENT_LOADING, studio.runs.distributed joins the process group first) on every process but
    each machine's first, the condition transformers itself uses (is_fsdp_enabled, is_local_dist_rank_0).
    transformers 5.23 under that condition only skips the random initialisation and still reads the checkpoint on
    every rank, so host memory would hold the model once per rank. A quantized base loads on every rank
    (bitsandbytes quantizes while loading; transformers leaves quantized models out of this path too)."""
    if quantized:
        return False
    from transformers.modeling_utils import is_fsdp_enabled, is_local_dist_rank_0

    return is_fsdp_enabled() and not is_local_dist_rank_0()


def launch_record() -> dict[str, Any]:
    """How this process was launched, for the start record and status.json."""
    raw = os.environ.get(LAUNCH_ENV)
    if raw:
        return json.loads(raw)
    return {"launcher": "none", "num_processes": 1, "num_machines": 1}


def any_rank(flag: bool, device) -> bool:
    """True on every rank when any rank says so: every rank must take a stop at the same step,
    or the others wait forever in the next step's gradient exchange."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return flag
    t = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())
