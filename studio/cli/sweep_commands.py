"""Commands over sweeps: sweep (following its trials), sweeps, and a sweep's part of show."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from studio import sweeps
from studio.cli.common import load_config, read_mapping, show, show_table
from studio.cli.options import given


def cmd_sweep(a, store) -> int:
    cfg = load_config(a)
    space = read_mapping(Path(a.space), "Space") if a.space else None
    settings = sweeps.settings_from(given(a, sweeps.SweepSettings))
    sweep_id = sweeps.create(store, cfg, space, settings)
    if a.detach:
        show({"sweep": sweep_id}, a.json, sweep_id)
        return 0
    print(f"sweep {sweep_id}: {settings.trials} trials over {', '.join(sweeps.describe(store, sweep_id)['space'])}",
          file=sys.stderr)
    return _follow_sweep(store, sweep_id, a.json)


def _follow_sweep(store, sweep_id: str, as_json: bool) -> int:
    told: set[int] = set()
    try:
        while True:
            d = sweeps.describe(store, sweep_id)
            for r in d["trials"]:
                if r["trial"] not in told and r["state"] != "running":
                    told.add(r["trial"])
                    value = f"{d['metric']} {r['value']:.4f}" if isinstance(r["value"], (int, float)) else ""
                    print(json.dumps(r) if as_json else f"trial {r['trial']} {r['state']} {value} {r['params']} "
                          f"run {r['run'] or '-'}", flush=True)
            if d["status"].get("status") not in sweeps.ACTIVE:
                print(_sweep_end(d), file=sys.stderr)
                return 0 if d["status"].get("status") == "completed" else 1
            time.sleep(1.0)
    except KeyboardInterrupt:
        print(f"\nstopping sweep {sweep_id} (its running trial saves a checkpoint; `studio resume {sweep_id}` "
              "continues)", file=sys.stderr)
        sweeps.stop(store, sweep_id)
        sweeps.wait(store, sweep_id)
        return 130


def _sweep_end(d: dict) -> str:
    st, best = d["status"], d["best"]
    line = f"sweep {d['id']} {st.get('status')}: {st.get('reason') or ''}"
    if best:
        tests = ", ".join(f"{k} {v:.4f}" for k, v in (best.get("test") or {}).items() if isinstance(v, (int, float)))
        line += (f"\nbest trial {best['trial']}: {d['metric']} {best['value']:.4f} with {best['params']} "
                 f"(run {best['run']}" + (f"; test {tests})" if tests else ")"))
    steps = d["trial_steps"]
    if steps["planned"]:
        line += (f"\nsteps trained {steps['ran']} of {steps['planned']} planned (pruning saved "
                 f"{steps['planned'] - steps['ran']})")
    return line


def cmd_sweeps(a, store) -> int:
    def line(r: dict) -> str:
        best = f"{r['best_value']:.4f}" if isinstance(r.get("best_value"), (int, float)) else "-"
        return (f"{r['id']:24} {r['status']:10} {r['trials_done']:>3}/{r['trials'] or '-':<3} {best:>10} "
                f"{r['best_run'] or '-':24} {r['model']}")

    return show_table(sweeps.list_sweeps(store), a.json,
                      "No sweeps yet. Start one with `studio sweep examples/minilm-lora.yaml --trials 8`.",
                      f"{'sweep':24} {'status':10} {'trials':>7} {'best':>10} {'best run':24} model", line)


def show_sweep(a, store) -> int:
    d = sweeps.describe(store, a.run)
    if a.json:
        show(d, True)
        return 0
    print(f"sweep    {d['id']}  ({sweeps.sweep_dir(store, d['id'])})")
    print("space    " + ", ".join(f"{k} {v}" for k, v in d["space"].items()))
    print("settings " + ", ".join(f"{k} {v}" for k, v in d["settings"].items()))
    for r in d["trials"]:
        value = f"{r['value']:.4f}" if isinstance(r["value"], (int, float)) else "-"
        print(f"  trial {r['trial']:3} {r['state']:9} {d['metric']} {value:>8}  {r['params']}  run {r['run'] or '-'}")
    print(_sweep_end(d))
    return 0
