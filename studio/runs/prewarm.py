"""A spare worker process that has already imported torch and transformers.

A fresh `python -m studio.runs.worker` spends about 4 of its first 6 seconds importing
torch and transformers' Trainer (bench/RESULTS.md, "Start to first step"). The app
starts this process once; it imports the heavy modules and waits on a Unix socket.
Each run it is handed, it forks: the child becomes an ordinary worker (own session
and process group, output to the run's train.log, `studio.runs.worker.main`) that
skips the imports, and the spare stays ready for the next run.

The fork happens before any model, tokenizer or thread pool is used, the same
situation as a PyTorch DataLoader forking its workers, and before CUDA is initialised:
a process forked after that cannot use CUDA ("Cannot re-initialize CUDA in forked
subprocess"). bitsandbytes initialises it when imported (it reads the GPU's compute
capability), and peft, transformers' Trainer and trl import bitsandbytes where it is
installed; there the spare leaves them to each worker, and a spare that finds CUDA
initialised all the same serves no run (each starts fresh). A worker forked here
behaves exactly like a spawned one: Store.kill reaches its process group, it
outlives the app, and it writes its own pid into status.json.

    python -m studio.runs.prewarm SOCKET_PATH PARENT_PID
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from studio.base.heap import freeze_imports
from studio.runs.spare_client import (  # noqa: F401 - prewarm.lend, prewarm.Borrowed, ... as before
                                      IMPORT_TIME_ENV,
                                      SET_BY_TORCH,
                                      SOCKET_ENV,
                                      Borrowed,
                                      _read_line,
                                      env_fingerprint,
                                      lend,
)
from studio.runs.store import worker_env

DIR_PREFIX = "studio-prewarm-"  # the spare's socket and log live in a temporary folder of this name


def enable(store) -> None:
    """Give a runs.Store a spare worker: its runs start ~4 s sooner (torch and transformers already imported).

    A process started by one that keeps a spare (a sweep's driver started by the app) borrows that spare instead
    of importing everything again in a second one."""
    if store.spare is None:
        lent = os.environ.get(SOCKET_ENV)
        store.spare = Borrowed(Path(lent), store.root) if lent and Path(lent).exists() else Spare(store.root)


class Spare(Borrowed):
    """The app's handle on its spare worker process (one per Store that enables it)."""

    def __init__(self, cwd: Path):
        self.dir = Path(tempfile.mkdtemp(prefix=DIR_PREFIX))  # short path: Unix sockets allow ~100 bytes
        super().__init__(self.dir / "spare.sock", cwd)
        env = worker_env()
        self.proc = subprocess.Popen([sys.executable, "-m", "studio.runs.prewarm", str(self.socket_path),
                                      str(os.getpid())],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(self.dir / "spare.log", "ab"), env=env, cwd=str(self.cwd),
                                     close_fds=True)
        threading.Thread(target=self.proc.wait, daemon=True).start()  # reap it if it ends
        atexit.register(self.close)

    def ready(self) -> bool:
        return self.proc.poll() is None and self.socket_path.exists()

    def wait_ready(self, seconds: float = 30.0) -> bool:
        """Wait for the spare to finish its imports (it imports what a fresh worker would, in the same seconds), so
        that the next run forks from it instead of paying for them again; a spare that ended is not waited for."""
        end = time.time() + seconds
        while not self.ready() and self.proc.poll() is None and time.time() < end:
            time.sleep(0.2)
        return self.ready()

    def close(self) -> None:
        """End the spare (workers it forked keep running) and remove its folder."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


# ------------------------------------------------------------ the spare process --
# What a worker imports first, in order. Those that import bitsandbytes where it is installed (and so initialise
# CUDA) come after PULLS_BITSANDBYTES names them.
HEAVY = ("torch", "datasets", "transformers", "peft", "transformers.trainer", "transformers.training_args",
         "studio.data", "studio.methods", "studio.models", "studio.runs.worker", "studio.training.recipe")
PULLS_BITSANDBYTES = ("peft", "transformers.trainer", "transformers.trainer_utils", "transformers.training_args", "trl")


def heavy_imports() -> list[str]:
    """The modules the spare imports: HEAVY and the tasks' warm imports, less those that would import bitsandbytes
    (and initialise CUDA) where it is installed."""
    from studio.tasks import all_tasks

    names = [*HEAVY, *(name for task in all_tasks() for name in task.warm_imports)]
    if importlib.util.find_spec("bitsandbytes") is not None:
        names = [n for n in names if not any(n == p or n.startswith(p + ".") for p in PULLS_BITSANDBYTES)]
    return names


def _import_heavy() -> None:
    for name in heavy_imports():
        try:
            importlib.import_module(name)
        except ImportError:  # an optional extra: the run that needs it says so itself
            pass


def cuda_initialised() -> bool:
    """CUDA is initialised in this process: a worker forked from it could not use the GPU."""
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_initialized())


def _become_worker(request: dict[str, Any], led: int | None = None) -> None:
    """In the forked child: detach, take the run's log as stdout/stderr, run the worker, never return. `led`: a
    pipe to tell the spare the child leads its own process group (only then is its pid handed out)."""
    code = 1
    try:
        os.setsid()  # own session and process group, like start_new_session=True
        if led is not None:
            os.write(led, b"1")
            os.close(led)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the worker waits on its own children (accelerate)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(null)
        sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
        sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
        argv = [*request["argv"], "--forked"]
        sys.argv = ["studio.runs.worker", *argv]
        from studio.runs import worker

        code = worker.main(argv)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve(socket_path: str, parent_pid: int) -> int:
    _import_heavy()
    if cuda_initialised():
        print("[studio] spare worker: an import initialised CUDA, so workers forked from here could not use the GPU; "
              "runs start fresh workers instead", file=sys.stderr, flush=True)
        return 1
    freeze_imports()  # what every worker forked from here shares: out of the collector's way (studio.base.heap)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forked workers are reaped by the kernel, never zombies
    # A SIGTERM to the app's process group (a service stop, `timeout`) reaches the spare too: leave through
    # `finally`, which removes its folder. Forked workers set their own handler (a graceful stop).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = socket_path + ".tmp"
    if os.path.exists(tmp):
        os.unlink(tmp)
    srv.bind(tmp)
    srv.listen(8)
    os.replace(tmp, socket_path)  # the path appears only once it accepts
    srv.settimeout(1.0)
    try:
        while True:
            if os.getppid() != parent_pid:  # the app is gone: so is the reason to stay
                return 0
            try:
                conn, _ = srv.accept()
            except socket.timeout:
                continue
            with conn:
                conn.settimeout(10)
                try:
                    request = json.loads(_read_line(conn))
                except (OSError, ValueError):
                    continue
                ready, led = os.pipe()
                pid = os.fork()
                if pid == 0:
                    srv.close()
                    conn.close()
                    os.close(ready)
                    _become_worker(request, led)
                os.close(led)
                # The pid goes out once the child leads its own group: a kill sent at once (killpg) reaches it.
                # Before, a loaded machine could hand out the pid of a child still in the spare's group.
                if select.select([ready], [], [], 10.0)[0]:
                    os.read(ready, 1)
                os.close(ready)
                try:
                    conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
                except OSError:
                    pass
    finally:
        srv.close()
        folder = os.path.dirname(os.path.abspath(socket_path))
        if os.path.basename(folder).startswith(DIR_PREFIX):  # the folder Spare made for it, nothing else
            shutil.rmtree(folder, ignore_errors=True)
        else:
            try:
                os.unlink(socket_path)
            except OSError:
                pass


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1], int(sys.argv[2])))
