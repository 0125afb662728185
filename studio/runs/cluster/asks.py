"""What a run asks the cluster for, read from its config and the estimate made when it was created; Ray places each
process where that is free."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from studio.base.cluster_address import parse_resources


@dataclass(frozen=True)
class Asks:
    processes: int                # training processes (Ray Train workers when above 1)
    cpus: float                   # per process
    gpus: float                   # per process: 0 or 1
    memory: int = 0               # bytes of host memory per process (a CPU run's estimate); 0 asks none
    resources: dict[str, float] = field(default_factory=dict)  # custom resources per process
    accelerator_type: str | None = None
    machines: int = 1             # above 1: the processes spread over that many nodes at least

    @property
    def across_nodes(self) -> bool:
        return self.processes > 1

    def per_process(self) -> dict[str, float]:
        """As Ray's resources_per_worker / a node's resource table names them."""
        out = {"CPU": self.cpus}
        if self.gpus:
            out["GPU"] = self.gpus
        if self.accelerator_type:
            out[f"accelerator_type:{self.accelerator_type}"] = 0.001
        if self.memory:
            out["memory"] = float(self.memory)
        return {**out, **self.resources}

    def describe(self) -> str:
        """e.g. "1 CPU, 1 GPU (A100), 2.0 GiB memory, a100_pool 1 per process; 2 processes over 2 nodes"."""
        parts = [f"{self.cpus:g} CPU"]
        if self.gpus:
            parts.append(f"{self.gpus:g} GPU" + (f" ({self.accelerator_type})" if self.accelerator_type else ""))
        if self.memory:
            parts.append(f"{self.memory / 2**30:.1f} GiB memory")
        parts += [f"{k} {v:g}" for k, v in self.resources.items()]
        text = ", ".join(parts)
        if self.processes > 1:
            return f"{text} per process; {self.processes} processes" + (
                f" over {self.machines} nodes" if self.machines > 1 else "")
        return text

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "described": self.describe()}


def asks_for(training: dict[str, Any], status: dict[str, Any], cluster_has_gpus: bool) -> Asks:
    """The run's asks: its processes, cluster_cpus each, a GPU each where its device wants one (auto: where the
    cluster has GPUs), a CPU run's host memory from its estimate, its custom resources and GPU type."""
    device = str(training.get("device") or "auto")
    gpus = 0.0 if device == "cpu" else 1.0 if device.startswith("cuda") or cluster_has_gpus else 0.0
    processes = max(1, int(training.get("num_processes") or 1))
    memory = 0
    estimate = status.get("memory") or {}
    if not gpus and estimate.get("total") and str(estimate.get("where", "")).endswith("RAM"):
        memory = int(estimate["total"])
    return Asks(processes=processes, cpus=float(training.get("cluster_cpus", 1.0)), gpus=gpus, memory=memory,
                resources=parse_resources(training.get("cluster_resources") or ""),
                accelerator_type=(training.get("accelerator_type") or None) if gpus else None,
                machines=max(1, int(training.get("num_machines") or 1)))


def fits_somewhere(asks: Asks, nodes: list[dict[str, float]]) -> str | None:
    """None when some alive node's total resources hold one process's asks; else what no node has."""
    want = asks.per_process()
    for total in nodes:
        if all(total.get(k, 0.0) >= v for k, v in want.items()):
            return None
    short = [k for k, v in want.items() if not any(t.get(k, 0.0) >= v for t in nodes)]
    return ", ".join(f"{want[k]:g} {k.removeprefix('accelerator_type:')}" for k in short) or "its resources together"
