"""The side of a spare worker (studio.runs.prewarm) that asks it for workers: a handle on a spare another process
keeps (`Borrowed`), lending one to a child process through the environment (`lend`), and which settings a forked
worker must share with the spare (`env_fingerprint`).

A worker that ends starts the next queued run (studio.runs.worker) from the spare the app lent it, through this
module; the spare process itself (prewarm) imports the worker, so the worker must not import prewarm.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

from studio.base.secrets import SECRET_NAMES
from studio.runs.store import worker_env

# Variables read while transformers, torch or huggingface_hub import: a spare started under other values would
# run workers with stale settings, so a change makes the Store spawn fresh workers instead.
# (STUDIO_CACHE is not one: the studio reads it when it needs the folder, studio.base.cache.)
IMPORT_TIME_ENV = ("HF_", "TRANSFORMERS_", "TORCH", "PYTORCH_", "CUDA_", "OMP_", "MKL_", "TOKENIZERS_", "PYTHONPATH")


# ...except those torch sets in its own process once its compiler is imported (loading a model does): caches that a
# worker finds or sets again for itself. Counting them would leave the app's spare stale after its first prediction.
SET_BY_TORCH = ("TORCHINDUCTOR_CACHE_DIR",)


def env_fingerprint(env: dict[str, str]) -> dict[str, str]:
    # Secrets are read when used, not at import: a run given its owner's token forks from the spare all the same.
    return {k: v for k, v in sorted(env.items())
            if k.startswith(IMPORT_TIME_ENV) and k not in SET_BY_TORCH and k not in SECRET_NAMES}


SOCKET_ENV = "STUDIO_SPARE_SOCKET"  # a spare's socket lent to a child process (a sweep's driver) by its parent


def lend(spare, env: dict[str, str]) -> dict[str, str]:
    """`env` for a child process that should borrow `spare` (one that serves under these settings), else as is."""
    if spare is None or not spare.ready() or env_fingerprint(env) != spare.fingerprint:
        return env
    return {**env, SOCKET_ENV: str(spare.socket_path)}


class Borrowed:
    """A handle on a spare worker that another process keeps: forks as a Spare does, owns nothing. When that
    process has gone, so has its spare: spawn says None and the Store starts fresh workers."""

    def __init__(self, socket_path: Path, cwd: Path):
        self.socket_path, self.cwd = Path(socket_path), Path(cwd)
        self.lock = threading.Lock()
        self.forked: list[int] = []  # pids of the workers forked so far (the Store falls back when it is not used)
        # The settings the spare imported under: its own process's, or (borrowed) the lender's, which checked in
        # lend() that they are this process's. A run under other settings gets a fresh worker.
        self.fingerprint = env_fingerprint(worker_env())

    def ready(self) -> bool:
        return self.socket_path.exists()

    def wait_ready(self, seconds: float = 30.0) -> bool:
        return self.ready()

    def spawn(self, argv: list[str], log_path: Path, env: dict[str, str], timeout: float = 10.0,
              cwd: Path | None = None) -> int | None:
        """Fork a worker for `argv` (studio.runs.worker's arguments) in `cwd` (the runs folder; default the one
        the spare started in); its pid, or None when the spare cannot serve (not ready yet, gone, or started
        under other import-time settings): the caller then spawns one itself."""
        if not self.ready() or env_fingerprint(env) != self.fingerprint:
            return None
        request = {"argv": argv, "log": str(log_path), "env": env, "cwd": str(cwd or self.cwd)}
        try:
            with self.lock, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(timeout)
                s.connect(str(self.socket_path))
                s.sendall(json.dumps(request).encode() + b"\n")
                reply = json.loads(_read_line(s))
        except (OSError, ValueError):
            return None
        if not reply.get("pid"):
            return None
        self.forked.append(int(reply["pid"]))
        return self.forked[-1]

    def lend(self, env: dict[str, str]) -> dict[str, str]:
        """`env` for a worker that should start the next queued run from this spare too, when it ends."""
        return lend(self, env)

    def close(self) -> None:
        """Nothing to end: the spare is its lender's."""


def _read_line(s: socket.socket) -> bytes:
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


def borrow(store) -> bool:
    """Give a runs.Store the spare its parent process lent this one (SOCKET_ENV), if any; whether it got one."""
    lent = os.environ.get(SOCKET_ENV)
    if store.spare is None and lent and Path(lent).exists():
        store.spare = Borrowed(Path(lent), store.root)
    return store.spare is not None
