"""Commands over runs: train (following the run's progress), runs, show, stop, kill, resume, delete."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from studio import distill, sweeps
from studio.base import files, runfolder
from studio.base.errors import RunError
from studio.base.runfolder import RunFolder
from studio.cli.common import fmt_dur, load_config, show, show_table
from studio.cli.sweep_commands import show_sweep
from studio.tasks import get_task
from studio.training import memory
from studio.training.base_scores import side_by_side


def cmd_train(a, store) -> int:
    cfg = load_config(a)
    run_id = store.create(cfg)
    status = runfolder.read_status(store.run_dir(run_id))
    if status.get("base_picked"):
        print(status["base_picked"], file=sys.stderr)
    fit = status.get("memory")
    if fit:  # on stderr: --detach prints only the run id on stdout, for scripts
        print(f"memory: {memory.Estimate.from_dict(fit).summary()}", file=sys.stderr)
    if a.detach:
        show({"run": run_id, "dir": str(store.run_dir(run_id))}, a.json, run_id)
        return 0
    print(f"run {run_id} queued ({store.run_dir(run_id)})", file=sys.stderr)
    return _follow(store, run_id, a.json)


def _follow(store, run_id: str, as_json: bool) -> int:
    rd = store.run_dir(run_id)
    offset = 0
    stopping = False
    try:
        while True:
            for rec, offset in runfolder.iter_metrics(rd, offset):
                if as_json:
                    print(json.dumps(rec), flush=True)
                else:
                    print(_metric_line(rec), file=sys.stderr, flush=True)
            st = store.sync(run_id)
            if st.get("status") == "queued":
                store.dispatch()  # its turn may have come with nobody else there to start it
            if st.get("status") in runfolder.FINISHED:
                for rec, offset in runfolder.iter_metrics(rd, offset):
                    print(json.dumps(rec) if as_json else _metric_line(rec), file=sys.stdout if as_json else sys.stderr)
                msg = f"run {run_id} {st['status']}" + (f": {st.get('reason')}" if st.get("reason") else "")
                print(msg, file=sys.stderr)
                _print_distillation(store, rd)
                return 0 if st["status"] == "completed" else 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        if not stopping:
            print(f"\nstopping run {run_id} (it saves a checkpoint first; `studio resume {run_id}` continues)",
                  file=sys.stderr)
            store.stop(run_id)
        return _follow(store, run_id, as_json) if not stopping else 130


def _print_distillation(store, rd: Path) -> None:
    """A distilled run: teacher and student side by side (and the labels-only run, once it has finished)."""
    report = files.read_json(RunFolder(rd).report) or {}
    if "distillation" not in report:
        return
    alone = report["distillation"].get("alone")
    alone_report = files.read_json(RunFolder(store.run_dir(alone)).report) if alone else None
    if report["distillation"].get("kind") == "sequence":
        print(distill.sequence_line(report, alone_report), file=sys.stderr)
        return
    metrics = get_task(report.get("task")).metrics.test
    print("\n".join(distill.table_lines(distill.side_by_side(report, alone_report), metrics)), file=sys.stderr)
    if alone and alone_report is None:
        print(f"the labels-only run {alone} is queued; `studio show {rd.name}` shows it here once it has finished",
              file=sys.stderr)


def _metric_line(r: dict) -> str:
    kind = r.get("kind")
    if kind == "start":
        return (f"start: {r.get('trainable_parameters', 0):,} trainable / {r.get('total_parameters', 0):,} parameters, "
                f"{r.get('max_steps')} steps on {r.get('device')} ({r.get('precision')})")
    if kind == "train":
        sps = r.get("samples_per_second")
        # What else the trainer measured at this step (the rewards of reinforcement learning), after the loss.
        extra = "".join(f" {k} {v:.3f}" for k, v in r.items() if k.startswith("reward") and isinstance(v, (int, float)))
        return (f"step {r['step']} epoch {r.get('epoch', 0):.2f} loss {r.get('loss', float('nan')):.4f}{extra} "
                f"lr {r.get('learning_rate', 0):.2e}"
                + (f" {sps:.1f} samples/s eta {fmt_dur(r.get('eta_seconds'))}" if sps else ""))
    if kind == "eval":
        parts = [f"{k[5:]} {v:.4f}" for k, v in r.items() if k.startswith("eval_") and isinstance(v, (int, float))]
        return f"eval step {r['step']}: " + ", ".join(parts)
    if kind == "test":
        parts = [f"{k[5:]} {v:.4f}"
                 + (f" (base {r[f'base_{k}']:.4f})" if isinstance(r.get(f"base_{k}"), (int, float)) else "")
                 for k, v in r.items() if k.startswith("test_") and isinstance(v, (int, float))]
        return "test: " + ", ".join(parts)
    if kind == "samples":  # SFT: the fixed validation prompts' answers at this step
        return f"samples step {r['step']}: " + " | ".join(
            f"{s.get('prompt', '')[:40]!r} -> {s.get('output', '')[:60]!r}" for s in r.get("samples", []))
    return json.dumps(r)


def cmd_runs(a, store) -> int:
    def line(r: dict) -> str:
        best = f"{r['best_metric']:.4f}" if isinstance(r.get("best_metric"), (int, float)) else "-"
        return (f"{r['id']:24} {r['status']:10} {r['task'] or '':20} {(r['model'] or '')[-40:]:40} "
                f"{r['method'] or '':8} {best:>8} {fmt_dur(r.get('duration')):>7} {r.get('owner') or '-'}")

    return show_table(store.list(), a.json, "No runs yet. Start one with `studio train examples/minilm-lora.yaml`.",
                      f"{'run':24} {'status':10} {'task':20} {'model':40} {'method':8} {'best':>8} {'time':>7} owner",
                      line)


def cmd_show(a, store) -> int:
    if sweeps.is_sweep_id(a.run):
        return show_sweep(a, store)
    info = store.get(a.run)
    info["metrics_tail"] = runfolder.read_metrics(Path(info["dir"]))[-5:]
    if a.json:
        show(info, True)
        return 0
    st = info["status_detail"]
    print(f"run      {info['id']}  ({info['dir']})")
    print(f"status   {info['status']}" + (f": {st.get('reason')}" if st.get("reason") else ""))
    print(f"model    {info.get('model')}  method {info.get('method')}  device {st.get('device', '-')}")
    access = info.get("access") or {}
    if access.get("owner"):
        readers = ", ".join("everyone" if r == "*" else r for r in access.get("readers") or []) or "nobody else"
        print(f"owner    {access['owner']}  shared with {readers}")
    if (st.get("launch") or {}).get("launcher") not in (None, "none"):
        print(f"launch   {st['launch'].get('num_processes')} processes: {st['launch'].get('command')}")
    if st.get("max_steps"):
        print(f"progress step {st.get('step', 0)}/{st['max_steps']}  epoch {st.get('epoch', 0)}")
    if st.get("memory"):
        peak = st.get("peak_memory")
        print(f"memory   estimated {memory.gib(st['memory']['total'])}"
              + (f", measured {memory.gib(peak['bytes'])} ({peak['what']})" if peak else ""))
    rep = info.get("test_report")
    if rep:
        print("test     " + ", ".join(f"{k} {v:.4f}" + ("" if b is None else f" (base {b:.4f})")
                                      for k, v, b in side_by_side(rep)))
        if rep.get("base"):
            print(f"base     {rep['base'].get('what')}")
    for r in info["metrics_tail"]:
        print("  " + _metric_line(r))
    return 0


def cmd_simple(action):
    def run(a, store) -> int:
        target = sweeps if sweeps.is_sweep_id(a.run) else None  # a sweep's stop, kill and resume reach its trials
        st = getattr(target, action)(store, a.run) if target else getattr(store, action)(a.run)
        show(st, a.json, f"{a.run}: {st.get('status') if isinstance(st, dict) else action}")
        return 0
    return run


def cmd_resume(a, store) -> int:
    changes = {k: v for k, v in (("batch_size", a.batch_size),
                                 ("gradient_accumulation_steps", a.gradient_accumulation_steps),
                                 ("gradient_checkpointing", a.gradient_checkpointing or None)) if v is not None}
    if sweeps.is_sweep_id(a.run):
        if changes:
            raise RunError("A sweep resumes its trials as they were; --batch-size and the like change one run.")
        return cmd_simple("resume")(a, store)
    st = store.resume(a.run, changes or None)
    show(st, a.json, f"{a.run}: {st.get('status')}" + (f" (resumed with {changes})" if changes else ""))
    return 0


def cmd_delete(a, store) -> int:
    store.delete(a.run)
    show({"deleted": a.run}, a.json, f"deleted {a.run}")
    return 0
