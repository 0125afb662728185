"""`python -m studio.runs.worker RUN_DIR --device DEVICE [--resume]`: one run, in its own process group.

Started once the run was claimed on its device (Store.dispatch: queued runs wait in the registry, not in
processes), it trains on that device. Every way out writes a final status: completed, stopped, or failed
with the reason and the traceback tail; then it starts whatever queued run may go next. SIGTERM asks for
a graceful stop.
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
from studio.base.cluster_address import ray_address
from studio.base.devices import gpus_in, pick_precision, pin_gpu, process_device
from studio.base.errors import LaunchFailed, failure_reason
from studio.base.heap import freeze_imports
from studio.base.process_rank import is_multi_process
from studio.base.runfolder import RunFolder
from studio.config import load_run_config
from studio.runs import spare_client
from studio.runs.store import Store, process_start_time


def train_run(run_dir: Path, device: str, resume: bool) -> dict:
    """Train in this process, or, for several processes, through accelerate launch (studio.runs.distributed)."""
    t = load_run_config(run_dir).training
    if is_multi_process(t) and ray_address() is not None:
        from studio.runs.cluster import train  # Ray Train's workers on the cluster's nodes

        return train.run_on_workers(run_dir, t, device, resume)
    if not is_multi_process(t):
        from studio.training import recipe  # torch and transformers load here, once the run has its device
        from studio.training.tracking import finish_trackers

        freeze_imports()  # this process trains once and exits
        try:
            return recipe.run(run_dir, resume=resume)
        finally:
            finish_trackers()
    from studio.runs import distributed

    return distributed.run_launched(run_dir, t, device, pick_precision(t.precision, process_device(device)), resume)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m studio.runs.worker")
    ap.add_argument("run_dir")
    ap.add_argument("--registry", default=None)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--device", default=None, help="The device Store.dispatch claimed for the run (default: the one "
                                                   "its status.json names).")
    ap.add_argument("--forked", action="store_true", help="Set by studio.runs.prewarm: forked from a spare worker.")
    ap.add_argument("--on-cluster", action="store_true", help="Set by studio.runs.cluster.node: started on a Ray "
                    "node, which claimed the run; Ray, not this worker, starts the next one.")
    a = ap.parse_args(argv)
    if a.on_cluster:
        from studio.runs.distributed import die_with_parent

        die_with_parent()  # killing the run's actor (a kill, a lost node) ends this worker too
    run_dir = Path(a.run_dir).resolve()
    # The worker's one Store: it claims, records each change of state in the registry, and starts the next run.
    store = Store(run_dir.parent, registry=Path(a.registry) if a.registry else None)
    run_id = run_dir.name
    me = os.getpid()
    claimed = runfolder.read_status(run_dir)
    st = runfolder.write_status(run_dir, claimed.get("status", "running"), if_active=True, pid=me,
                                pid_start=process_start_time(me))
    if st.get("status") == "queued":  # started by hand, not by Store.dispatch: it claims its device itself
        if store.claim(run_id) is None:
            runfolder.write_status(run_dir, "stopped", if_active=True, reason="Stopped while queued; it never started.",
                                   finished_at=time.time())
            store.sync(run_id)
            return 0
        st = runfolder.write_status(run_dir, "running", if_active=True, pid=me, pid_start=process_start_time(me))
    if st.get("status") not in ("running", "stopping"):  # stopped or killed between its claim and this start
        return 0
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
        device = a.device or st.get("device") or "cpu"
        if runfolder.stop_requested(run_dir):  # a stop asked for before it began: nothing trained, nothing saved
            runfolder.write_status(run_dir, "stopped", reason="Stopped before it started; it never trained.",
                                   finished_at=time.time())
            runfolder.clear_stop(run_dir)
            store.sync(run_id)
            return 0
        if not several or len(gpus_in(device)) > 1:  # its GPU, or its group: one GPU for each of its ranks
            pin_gpu(device)
        if a.on_cluster and not several:
            # The server that queued it may have no GPU or package this node has (or lack one it has): what the run
            # needs is checked here, where it trains (a run over several nodes meets its nodes in its ranks: their own
            # errors say what is missing).
            load_run_config(run_dir).check_this_machine()
        # Not a state change (no field the registry mirrors): the row is in step since the sync above.
        runfolder.write_status(run_dir, st["status"], if_active=True, forked=a.forked)
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
    finally:
        if not a.on_cluster:
            start_next(store)


def start_next(store: Store) -> None:
    """The device this run held is free: start the queued run whose turn it is (forked from the app's spare when
    the app lent it; else a fresh process)."""
    try:
        spare_client.borrow(store)
        store.dispatch()
    except Exception as e:  # noqa: BLE001 - the app's own dispatcher starts it a moment later
        print(f"[studio] could not start the next queued run: {type(e).__name__}: {e}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
