"""A real Ray cluster on loopback for the tests: a head and nodes started with `ray start`, each with its own CPUs
and custom resources, all under one temporary folder so that stopping it (or one node) touches nothing else on the
machine (`ray stop` would stop every Ray process here)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

RAY = str(Path(sys.executable).with_name("ray"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalCluster:
    def __init__(self, head_cpus: float = 1, head_resources: dict | None = None, health_check_ms: int = 500,
                 env: dict[str, str] | None = None):
        self.temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must stay under 107 bytes
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **(env or {})}  # every node's environment
        # Runs through object storage keep their copies under the cluster's folder, removed with it.
        self.env.setdefault("STUDIO_CLUSTER_SCRATCH", os.path.join(self.temp, "scratch"))
        self.env.pop("RAY_ADDRESS", None)
        # Nodes that die are noticed within a few health checks, not the default half a minute.
        # No idle Python workers started ahead of need: on a small machine they take CPU the tests want.
        system = json.dumps({"health_check_period_ms": health_check_ms, "health_check_failure_threshold": 3,
                             "health_check_initial_delay_ms": 0, "enable_worker_prestart": False})
        self.client_port = free_port()
        self._start(["--head", f"--port={self.port}", f"--temp-dir={self.temp}", "--include-dashboard=false",
                     f"--ray-client-server-port={self.client_port}",
                     f"--system-config={system}"], head_cpus, head_resources)
        self.nodes: dict[str, int] = {}

    def _start(self, args: list[str], cpus: float, resources: dict | None, prefix: list[str] | None = None) -> None:
        # A small object store (the tests pass no large objects): no /dev/shm of a container's default size is
        # too small for it, and each node holds 100 MB, not a third of the machine's memory.
        # No log monitor: it copies the workers' log files to the drivers (the runs write their own train.log) and
        # polled them for about 11 CPU s of the suite (bench/RESULTS.md, the suite's CPU map).
        cmd = [*(prefix or []), RAY, "start", "--node-ip-address=127.0.0.1", f"--num-cpus={cpus:g}",
               "--object-store-memory=100000000", "--disable-usage-stats", "--include-log-monitor=false",
               f"--resources={json.dumps(resources or {})}", *args]
        done = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"ray start failed: {done.stdout[-2000:]}\n{done.stderr[-2000:]}")

    def add_node(self, name: str, cpus: float = 1, resources: dict | None = None,
                 prefix: list[str] | None = None) -> None:
        """A node with its own resources; `prefix` runs `ray start` under another command (a mount namespace)."""
        port = free_port()
        self._start([f"--address={self.address}", f"--node-manager-port={port}"], cpus,
                    {name: 1, **(resources or {})}, prefix)
        self.nodes[name] = port

    def _processes(self, needle: str) -> list[psutil.Process]:
        out = []
        for p in psutil.process_iter(["cmdline"]):
            try:
                if any(needle in part for part in (p.info["cmdline"] or [])):
                    out.append(p)
            except (psutil.Error, TypeError):
                continue
        return out

    def kill_node(self, name: str) -> None:
        """The node's raylet killed, as a machine that dies: its workers go with it."""
        port = self.nodes.pop(name)
        raylets = self._processes(f"--node_manager_port={port}")
        for p in [c for r in raylets for c in r.children(recursive=True)] + raylets:
            try:
                p.kill()
            except psutil.Error:
                continue

    def _ours(self) -> list[psutil.Process]:
        """Every process of this cluster: those naming its folder or client port, and all they started."""
        found = {p.pid: p for p in self._processes(self.temp) + self._processes(f"--port={self.client_port}")}
        for p in list(found.values()):
            try:
                found.update({c.pid: c for c in p.children(recursive=True)})
            except psutil.Error:
                continue
        return list(found.values())

    def stop(self) -> None:
        for _ in range(20):
            procs = self._ours()
            if not procs:
                break
            for p in procs:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.3)
        subprocess.run(["rm", "-rf", self.temp], check=False)
