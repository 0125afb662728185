"""Where a run's logs go besides its metrics file: TensorBoard event files in the run folder, Weights & Biases
when asked for."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def tracking_integrations(training, tensorboard_available: bool | None = None) -> list[str]:
    """The Trainer's logging integrations for a run: TensorBoard unless turned off, W&B when turned on."""
    if tensorboard_available is None:
        from transformers.integrations import is_tensorboard_available

        tensorboard_available = is_tensorboard_available()
    out = []
    if training.tensorboard:
        if tensorboard_available:
            out.append("tensorboard")
        else:  # a tracking extra, not a reason to fail the run
            print("[studio] tensorboard is not installed; no event files are written (pip install tensorboard)",
                  flush=True)
    if training.wandb:
        out.append("wandb")
    return out


def point_tensorboard_at(trainer, folder: Path, resumed_at: int | None = None, main: bool = True) -> None:
    """Event files go into the run folder (the Trainer's default is under the checkpoints).

    A resumed run repeats the steps after its checkpoint: its writer tells TensorBoard (purge_step) to drop
    what the interrupted attempt logged from there on, or both attempts' curves would show."""
    for cb in trainer.callback_handler.callbacks:
        if type(cb).__name__ == "TensorBoardCallback":
            cb.logging_dir = str(folder)
            if resumed_at is not None and main and getattr(cb, "_SummaryWriter", None) is not None:
                _wait_past_event_files(folder)
                cb.tb_writer = cb._SummaryWriter(log_dir=str(folder), purge_step=resumed_at + 1)


def _wait_past_event_files(folder: Path) -> None:
    """TensorBoard reads event files in name order, and a name starts with its creation second then the pid.

    A resume within the same second as the killed attempt could sort first (a lower pid), so its purge would
    land before the steps it should drop; waiting out that second keeps the files in the order they were made."""
    seconds = []
    for f in Path(folder).glob("events.out.tfevents.*"):
        try:
            seconds.append(int(f.name.split(".")[3]))
        except (IndexError, ValueError):
            continue
    if seconds and time.time() < max(seconds) + 1:
        time.sleep(max(seconds) + 1 - time.time())


def wandb_env(t, run_dir: Path) -> None:
    if t.wandb and t.wandb_project:
        os.environ["WANDB_PROJECT"] = t.wandb_project
    if t.wandb:
        os.environ.setdefault("WANDB_DIR", str(run_dir))  # wandb's files live (and are deleted) with the run


def finish_trackers() -> None:
    """Close the W&B run that the Trainer opened. wandb writes its log when the run finishes, which it leaves to
    an atexit hook; a worker forked from the spare leaves through os._exit, past every such hook, and its offline
    log stayed an empty header."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        try:
            wandb.finish()
        except Exception as e:  # a tracker that fails to close must not hide how the run itself ended
            print(f"[studio] Weights & Biases did not close its run: {type(e).__name__}: {e}", file=sys.stderr,
                  flush=True)
