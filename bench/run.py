"""Run the whole benchmark suite, one bench after another, and collect their JSON results.

    .venv/bin/python bench/run.py --quick          # CI-sized: minutes on 2 CPU cores (see bench/RESULTS.md)
    .venv/bin/python bench/run.py --full           # everything at full size, Banking77 quality bench included: hours \
on CPU
    .venv/bin/python bench/run.py --quick --only startup,playground
    .venv/bin/python bench/run.py --full --skip banking77_vs_trainer
    .venv/bin/python bench/run.py --quick --dry-run   # print the commands only

Each bench runs as its own subprocess (never two at once: they would skew each other's timings), with its
output streamed; a failing bench is recorded and the suite goes on. The JSON files each bench wrote to
bench/results/ during this suite are gathered into bench/results/suite_{quick,full}.json with every
bench's command, exit status and wall time (a run with --only or --skip updates the entries of the benches it
ran and keeps the others). Exit status: 0 when every bench in this invocation succeeded, else 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PY = sys.executable

# name -> (quick args or None to skip in quick mode, full args)
SUITE: dict[str, tuple[list[str] | None, list[str]]] = {
    "throughput": ([], ["--full"]),
    "banking77_vs_trainer": (None, ["--per-class", "30", "--epochs", "3"]),
    "startup": (["--quick"], ["--full"]),
    "playground": (["--quick"], ["--full"]),
    "scale": (["--quick"], ["--full"]),
    "ui_latency": ([], []),
    "load": ([], []),
    # Each task against its untrained base on real data, and generation speed: SmolLM2 trains for many minutes.
    "generation": (None, ["--max-new-tokens", "48", "--rounds", "3"]),
    "sft_before_after": (None, ["--intents", "6", "--per-intent", "12", "--val-per-intent", "1",
                                "--test-per-intent", "10", "--epochs", "1", "--learning-rate", "2e-3"]),
    "seq2seq_before_after": (None, []),
    "ner_before_after": (None, []),
    # Better settings and better data, on Banking77 (each tens of minutes on CPU).
    "sweep_banking77": (None, ["--per-class", "10", "--trials", "8"]),
    "label_noise_banking77": (None, ["--per-class", "20", "--noise", "0.05", "0.10"]),
    "active_learning_banking77": (None, []),
    "preference_banking77": (None, ["--intents", "6", "--per-intent", "30", "--test-per-intent", "15"]),
    # More from little data (augment_ner_hironsan.py needs the corpus downloaded: see its docstring).
    "augment_banking77": (None, ["--per-intent", "5", "--seeds", "0", "1", "2"]),
    "distill_banking77": (None, ["--per-intent", "20", "--seeds", "0", "1", "2"]),
    # Resources: the memory estimate against measured peaks, and two runs sharing one CPU.
    "memory_estimate": (None, []),
    "cpu_share": ([], []),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--quick", action="store_true", help="CI-sized (minutes)")
    mode.add_argument("--full", action="store_true", help="full sizes (hours on CPU)")
    ap.add_argument("--only", default=None, help=f"comma-separated subset of: {', '.join(SUITE)}")
    ap.add_argument("--skip", default="", help="comma-separated benches to leave out")
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per bench (default: none)")
    a = ap.parse_args()
    name = "full" if a.full else "quick"
    wanted = [s.strip() for s in a.only.split(",")] if a.only else list(SUITE)
    unknown = [w for w in wanted + [s for s in a.skip.split(",") if s] if w not in SUITE]
    if unknown:
        raise SystemExit(f"unknown bench(es): {', '.join(unknown)}; choose from {', '.join(SUITE)}")
    skip = {s.strip() for s in a.skip.split(",") if s.strip()}
    plan = []
    for bench in wanted:
        quick_args, full_args = SUITE[bench]
        args = full_args if a.full else quick_args
        if bench in skip or args is None:
            continue
        plan.append((bench, [PY, str(ROOT / "bench" / f"{bench}.py"), *args]))
    if a.dry_run:
        for bench, cmd in plan:
            print(" ".join(cmd))
        return

    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    RESULTS.mkdir(parents=True, exist_ok=True)
    suite: dict = {"mode": name,
                   "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                   "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "benches": {}}
    for bench, cmd in plan:
        print(f"\n=== {bench}: {' '.join(cmd)}", flush=True)
        before = {p: p.stat().st_mtime for p in RESULTS.glob("*.json")}
        t0 = time.time()
        try:
            rc = subprocess.run(cmd, cwd=str(ROOT), env=env, timeout=a.timeout).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        wall = time.time() - t0
        written = sorted(p for p in RESULTS.glob("*.json")
                         if p.name.startswith(bench) and p.stat().st_mtime > before.get(p, 0)
                         and p.stat().st_mtime >= t0)
        results = {}
        for p in written:
            try:
                results[p.name] = json.loads(p.read_text())
            except ValueError:
                results[p.name] = "unreadable"
        suite["benches"][bench] = {"command": " ".join(cmd), "returncode": rc, "wall_s": round(wall, 1),
                                   "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)),
                                   "results": results}
        print(f"=== {bench}: rc {rc}, {wall:.0f}s, wrote {', '.join(p.name for p in written) or 'nothing'}", flush=True)
    suite["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out = RESULTS / f"suite_{name}.json"
    if (a.only or skip) and out.exists():
        # A partial suite updates the benches it ran and keeps the latest entry of the others.
        try:
            old = json.loads(out.read_text())
            suite["benches"] = {**old.get("benches", {}), **suite["benches"]}
        except ValueError:
            pass
    out.write_text(json.dumps(suite, indent=2))
    failed = [b for b, _ in plan if suite["benches"][b]["returncode"] != 0]
    print(f"\nsuite {name}: {len(plan) - len(failed)} of {len(plan)} benches succeeded; results in {out}")
    for b, _ in plan:
        r = suite["benches"][b]
        print(f"  {b:22s} rc {r['returncode']!s:8s} {r['wall_s']:8.0f}s")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
