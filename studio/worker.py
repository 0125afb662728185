"""`python -m studio.worker RUN_DIR [--resume]`: one run, in its own process group.

Waits in `queued` until its device is free and it is first in line, then
trains. Every way out writes a final status: completed, stopped, or failed
with the reason and the traceback tail. SIGTERM asks for a graceful stop.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from studio import runlog


def _oom_hint(exc: BaseException) -> str | None:
    text = f"{type(exc).__name__}: {exc}"
    low = text.lower()
    if "out of memory" in low or "cannot allocate memory" in low or isinstance(exc, MemoryError) or "OutOfMemoryError" in text:
        return ("Out of memory: lower training.batch_size (raise gradient_accumulation_steps to keep the effective batch), "
                "lower training.max_length, or use a LoRA-family method instead of full fine-tuning.")
    return None


DISK_FULL_TEXT = ("no space left on device", "file too large", "disk quota exceeded", "os error 27", "os error 28",
                  "unexpected pos")  # the last: torch.save's own words for a short write


def _disk_full_hint(exc: BaseException) -> str | None:
    """A failed write for want of space (ENOSPC, EDQUOT) or a file-size limit (EFBIG), however it was wrapped.

    Python raises OSError with the errno; safetensors and torch.save wrap it in their own exceptions
    (SafetensorError "... File too large (os error 27)", RuntimeError "... unexpected pos ...").
    """
    seen = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            break
        if any(t in str(e).lower() for t in DISK_FULL_TEXT):
            break
        e = e.__cause__ or e.__context__
    else:
        return None
    detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return (f"Disk full or file too large while writing ({detail}): free space on the runs folder's disk (or raise "
            "the file-size limit), then resume from the last checkpoint.")


def failure_reason(exc: BaseException) -> str:
    """The one sentence a failed run shows: what to change for known causes, else the exception's first line."""
    return (_oom_hint(exc) or _disk_full_hint(exc)
            or f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else 'no message'}")


def train_run(run_dir: Path, device: str, resume: bool) -> dict:
    """Train in this process, or, for several processes, through accelerate launch (studio.distributed)."""
    from studio import distributed, train
    from studio.runs import load_config

    t = load_config(run_dir).training
    if not distributed.is_multi_process(t):
        return train.run(run_dir, resume=resume)
    return distributed.run_launched(run_dir, t, device, train.pick_precision(t.precision, device), resume)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m studio.worker")
    ap.add_argument("run_dir")
    ap.add_argument("--registry", default=None)
    ap.add_argument("--resume", action="store_true")
    a = ap.parse_args(argv)
    run_dir = Path(a.run_dir).resolve()

    from studio.runs import Store, process_start_time

    store = Store(run_dir.parent, registry=Path(a.registry) if a.registry else None)
    run_id = run_dir.name
    me = os.getpid()
    runlog.write_status(run_dir, "queued", pid=me, pid_start=process_start_time(me))
    store.sync(run_id)

    signal.signal(signal.SIGTERM, lambda *_: runlog.request_stop(run_dir))
    if hasattr(signal, "SIGXFSZ"):
        # Past a file-size limit the kernel sends SIGXFSZ, whose default kills us without a word;
        # ignored, the write fails with EFBIG instead and the run ends failed with that reason.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    try:
        cfg_raw = __import__("json").loads((run_dir / runlog.CONFIG_FILE).read_text())
        training = cfg_raw.get("training", {})
        device = training.get("device", "auto")
        if device == "auto":
            from studio.train import resolve_device

            device = resolve_device(device)
        several = int(training.get("num_processes") or 1) > 1 or int(training.get("num_machines") or 1) > 1
        if device.startswith("cuda:") and not several:  # several processes take one visible GPU each
            os.environ.setdefault("CUDA_VISIBLE_DEVICES", device.split(":", 1)[1])
        runlog.write_status(run_dir, "queued", device=device)
        per_device = int(os.environ.get("STUDIO_RUNS_PER_DEVICE", "1"))
        announced = False
        while not store.try_claim(run_id, device, per_device):
            if runlog.stop_requested(run_dir):
                runlog.write_status(run_dir, "stopped", reason="Stopped while queued; it never started.", finished_at=time.time())
                store.sync(run_id)
                return 0
            if not announced:
                print(f"[studio] queued: waiting for {device} to be free", flush=True)
                announced = True
            time.sleep(0.5)
        store.sync(run_id)
        print(f"[studio] run {run_id} started on {device}", flush=True)

        result = train_run(run_dir, device, a.resume)
        status = result.pop("status")
        runlog.write_status(run_dir, status, finished_at=time.time(), **result)
        runlog.clear_stop(run_dir)  # a stop asked for after the last step has nothing left to stop
        store.sync(run_id)
        print(f"[studio] run {run_id} {status}", flush=True)
        return 0
    except BaseException as exc:  # every exit path leaves a true status behind
        tb = traceback.format_exc()
        print(tb, file=sys.stderr, flush=True)
        from studio.distributed import LaunchFailed

        reason = str(exc) if isinstance(exc, LaunchFailed) else failure_reason(exc)
        try:
            runlog.write_status(run_dir, "failed", reason=reason, traceback_tail=tb[-4000:], finished_at=time.time())
        except OSError:  # a full disk may refuse even this: try the reason alone, smaller
            try:
                runlog.write_status(run_dir, "failed", reason=reason, finished_at=time.time())
            except OSError as e:
                print(f"[studio] could not record the failure: {e}", file=sys.stderr, flush=True)
        store.sync(run_id)
        return 1


if __name__ == "__main__":
    sys.exit(main())
