"""`python -m studio.runs.worker RUN_DIR [--resume]`: one run, in its own process group.

Waits in `queued` until its device is free and it is first in line, then
trains. Every way out writes a final status: completed, stopped, or failed
with the reason and the traceback tail. SIGTERM asks for a graceful stop.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from studio.base import runfolder
from studio.base.devices import pick_precision, pin_gpu, process_device, run_devices
from studio.base.errors import LaunchFailed, failure_reason
from studio.base.process_rank import is_multi_process
from studio.base.runfolder import RunFolder
from studio.config import load_run_config
from studio.runs.store import ANY_GPU, Store, process_start_time


def train_run(run_dir: Path, device: str, resume: bool) -> dict:
    """Train in this process, or, for several processes, through accelerate launch (studio.runs.distributed)."""
    t = load_run_config(run_dir).training
    if not is_multi_process(t):
        from studio.training import recipe  # torch and transformers load here, once the run has its device
        from studio.training.tracking import finish_trackers

        try:
            return recipe.run(run_dir, resume=resume)
        finally:
            finish_trackers()
    from studio.runs import distributed

    return distributed.run_launched(run_dir, t, device, pick_precision(t.precision, process_device(device)), resume)


def wait_for_device(store: Store, run_id: str, devices: list[str], poll: float = 0.5) -> str | None:
    """Wait in the queue until one of `devices` is free and the run is first in line for it; the device it got,
    or None when a stop was asked for first."""
    run_dir = store.run_dir(run_id)
    runfolder.write_status(run_dir, "queued", device=devices[0] if len(devices) == 1 else ANY_GPU)
    per_device = int(os.environ.get("STUDIO_RUNS_PER_DEVICE", "1"))
    announced = False
    while True:
        got = next((d for d in devices if store.try_claim(run_id, d, per_device)), None)
        if got is not None:
            return got
        if runfolder.stop_requested(run_dir):
            return None
        if not announced:
            print(f"[studio] queued: waiting for {' or '.join(devices) if len(devices) < 4 else 'a GPU'} to be free",
                  flush=True)
            announced = True
        time.sleep(poll)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m studio.runs.worker")
    ap.add_argument("run_dir")
    ap.add_argument("--registry", default=None)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--forked", action="store_true", help="Set by studio.runs.prewarm: forked from a spare worker.")
    a = ap.parse_args(argv)
    run_dir = Path(a.run_dir).resolve()
    store = Store(run_dir.parent, registry=Path(a.registry) if a.registry else None)
    run_id = run_dir.name
    me = os.getpid()
    runfolder.write_status(run_dir, "queued", pid=me, pid_start=process_start_time(me))
    store.sync(run_id)

    signal.signal(signal.SIGTERM, lambda *_: runfolder.request_stop(run_dir))
    if hasattr(signal, "SIGXFSZ"):
        # Past a file-size limit the kernel sends SIGXFSZ, whose default kills us without a word;
        # ignored, the write fails with EFBIG instead and the run ends failed with that reason.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    try:
        cfg_raw = json.loads((RunFolder(run_dir).config).read_text())
        training = cfg_raw.get("training", {})
        several = int(training.get("num_processes") or 1) > 1 or int(training.get("num_machines") or 1) > 1
        device = wait_for_device(store, run_id, run_devices(training.get("device", "auto"), several))
        if device is None:
            runfolder.write_status(run_dir, "stopped", reason="Stopped while queued; it never started.",
                                   finished_at=time.time())
            store.sync(run_id)
            return 0
        if not several:  # several processes take one visible GPU each
            pin_gpu(device)
        # Said once the device is ours, not with the first write above: the Store may rewrite the queued status
        # from what it read just before this process wrote.
        runfolder.write_status(run_dir, "queued", if_active=True, forked=a.forked)
        store.sync(run_id)
        print(f"[studio] run {run_id} started on {device}", flush=True)

        result = train_run(run_dir, device, a.resume)
        status = result.pop("status")
        runfolder.write_status(run_dir, status, finished_at=time.time(), **result)
        runfolder.clear_stop(run_dir)  # a stop asked for after the last step has nothing left to stop
        store.sync(run_id)
        print(f"[studio] run {run_id} {status}", flush=True)
        return 0
    except BaseException as exc:  # every exit path leaves a true status behind
        tb = traceback.format_exc()
        print(tb, file=sys.stderr, flush=True)
        reason = str(exc) if isinstance(exc, LaunchFailed) else failure_reason(exc)
        try:
            runfolder.write_status(run_dir, "failed", reason=reason, traceback_tail=tb[-4000:], finished_at=time.time())
        except OSError:  # a full disk may refuse even this: try the reason alone, smaller
            try:
                runfolder.write_status(run_dir, "failed", reason=reason, finished_at=time.time())
            except OSError as e:
                print(f"[studio] could not record the failure: {e}", file=sys.stderr, flush=True)
        store.sync(run_id)
        return 1


if __name__ == "__main__":
    sys.exit(main())
