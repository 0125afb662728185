"""`python -m studio.worker RUN_DIR [--resume]`: one run, in its own process group.

Waits in `queued` until its device is free and it is first in line, then
trains. Every way out writes a final status: completed, stopped, or failed
with the reason and the traceback tail. SIGTERM asks for a graceful stop.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from studio import runlog


def _oom_hint(exc: BaseException) -> str | None:
    text = f"{type(exc).__name__}: {exc}"
    if "out of memory" in text.lower() or isinstance(exc, MemoryError) or "OutOfMemoryError" in text:
        return ("Out of memory: lower training.batch_size (raise gradient_accumulation_steps to keep the effective batch), "
                "lower training.max_length, or use a LoRA-family method instead of full fine-tuning.")
    return None


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

    try:
        cfg_raw = __import__("json").loads((run_dir / runlog.CONFIG_FILE).read_text())
        device = cfg_raw.get("training", {}).get("device", "auto")
        if device == "auto":
            from studio.train import resolve_device

            device = resolve_device(device)
        if device.startswith("cuda:"):
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

        from studio import train

        result = train.run(run_dir, resume=a.resume)
        status = result.pop("status")
        runlog.write_status(run_dir, status, finished_at=time.time(), **result)
        runlog.clear_stop(run_dir)  # a stop asked for after the last step has nothing left to stop
        store.sync(run_id)
        print(f"[studio] run {run_id} {status}", flush=True)
        return 0
    except BaseException as exc:  # every exit path leaves a true status behind
        tb = traceback.format_exc()
        print(tb, file=sys.stderr, flush=True)
        reason = _oom_hint(exc) or f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else 'no message'}"
        if isinstance(exc, OSError) and getattr(exc, "errno", None) in (28, 27):  # ENOSPC, EFBIG
            reason = f"Disk full or file too large while writing ({exc}); free space and resume from the last checkpoint."
        runlog.write_status(run_dir, "failed", reason=reason, traceback_tail=tb[-4000:], finished_at=time.time())
        store.sync(run_id)
        return 1


if __name__ == "__main__":
    sys.exit(main())
