"""CPU cores are shared fairly between the runs training on this machine's CPU at the same time.

Two runs that each use every core on the same machine oversubscribe it: on 2 cores each fell from 71 to
about 8 samples/s. Every process training on a CPU registers itself in a folder of this machine's temp dir
(whatever runs folder or registry it belongs to), and every 20 steps (or 30 seconds) takes cores / \
trainers threads. A run
that starts later makes the earlier ones give up their share within a few steps; one that ends gives them back.
An OMP_NUM_THREADS set by the user is the most a run takes; STUDIO_CPU_SHARE=0 turns sharing off (every run
then takes every core, as torch does by default).
"""

from __future__ import annotations

import atexit
import os
import tempfile
import time
from pathlib import Path

from studio.base import runfolder

EVERY_STEPS = 20
EVERY_SECONDS = 30.0  # slow steps (a large model on a CPU) re-balance on time instead


def share_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"studio-cpu-trainers-{os.getuid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def enabled(device: str) -> bool:
    """Runs on this device share cores: CPU runs, unless STUDIO_CPU_SHARE=0."""
    return device == "cpu" and os.environ.get("STUDIO_CPU_SHARE", "1") != "0"


def join() -> None:
    """Count this process as a CPU trainer until it exits."""
    folder = share_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / str(os.getpid())).touch()
    atexit.register(leave)


def leave() -> None:
    """No longer count this process (its training ended; it may live on, e.g. a test or a notebook)."""
    (share_dir() / str(os.getpid())).unlink(missing_ok=True)


def trainers() -> int:
    """Processes training on this machine's CPU now (at least 1: this one)."""
    count = 0
    for f in share_dir().glob("*") if share_dir().is_dir() else []:
        if f.name.isdigit() and _alive(int(f.name)):
            count += 1
        elif f.name.isdigit():
            f.unlink(missing_ok=True)  # a trainer that died without cleaning up
    return max(1, count)


def fair_threads(cores: int | None = None, others: int | None = None) -> int:
    cores = cores or os.cpu_count() or 1
    cap = int(os.environ.get("OMP_NUM_THREADS") or cores)
    return max(1, min(cap, cores // (others or trainers())))


def callback(run_dir: Path, main: bool = True):
    """A TrainerCallback that re-balances this process's threads every EVERY_STEPS steps and, when the share
    changes, says so in the run's status (cpu_shared_with: runs training on this CPU, cpu_threads: its own)."""
    import torch
    from transformers import TrainerCallback

    class ShareCores(TrainerCallback):
        def __init__(self):
            self.told: tuple[int, int] | None = None
            self.last = 0.0
            self.cores = torch.get_num_threads()  # torch's own choice for this machine (physical cores)

        def _balance(self):
            self.last = time.monotonic()
            shared_with = trainers()
            threads = fair_threads(self.cores, shared_with)
            if threads != torch.get_num_threads():
                torch.set_num_threads(threads)
            if main and (shared_with, threads) != self.told:
                self.told = (shared_with, threads)
                runfolder.write_status(run_dir, "running", if_active=True, cpu_shared_with=shared_with,
                                       cpu_threads=threads)

        def on_train_begin(self, args, state, control, **kw):
            self._balance()

        def on_step_begin(self, args, state, control, **kw):
            if state.global_step % EVERY_STEPS == 0 or time.monotonic() - self.last > EVERY_SECONDS:
                self._balance()

        def on_train_end(self, args, state, control, **kw):
            leave()  # the others take the cores back at their next balance
            torch.set_num_threads(self.cores)

    return ShareCores()


class CpuShare:
    """The run feature: a run training on this machine's CPU takes its fair share of the cores."""

    name = "cpu_share"

    def callbacks(self, run) -> list:
        if not enabled(run.device):
            return []
        join()
        return [callback(run.folder, run.main)]
