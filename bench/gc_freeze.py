"""What freezing a worker's imports (studio.base.heap.freeze_imports) saves on one run's training.

    .venv/bin/python bench/gc_freeze.py              # 3 trials each way, the bundled MiniLM, LoRA, the bundled sample
    .venv/bin/python bench/gc_freeze.py --trials 5

Each trial is a fresh Python process that imports what the spare worker imports (studio.runs.prewarm), makes a
run of the bundled MiniLM with LoRA on assets/samples/support_tickets.csv (the defaults, 2 epochs), then times
`recipe.run` (CPU seconds of the process and wall seconds), with or without `freeze_imports()` just before it, as
the studio's workers now do. Trials alternate between the two ways. Writes bench/results/gc_freeze.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "assets" / "samples" / "support_tickets.csv"

TRIAL = r"""
import json, os, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, {root!r})
from studio.runs.prewarm import _import_heavy
_import_heavy()
from studio.base import runfolder
from studio.base.heap import freeze_imports
from studio.config import RunConfig
from studio.runs.store import Store
from studio.training import recipe
store = Store(Path(tempfile.mkdtemp()) / "runs")
cfg = {{"task": "text-classification", "model": "minilm", "method": "lora", "data": {{"train": {sample!r}}},
        "training": {{"device": "cpu", "epochs": 2}}}}
run_id = store.create(RunConfig.from_dict(cfg), start=False)
rd = store.run_dir(run_id)
runfolder.write_status(rd, "running", device="cpu")
if {freeze}:
    freeze_imports()
c0, w0 = time.process_time(), time.time()
recipe.run(rd, resume=False)
print(json.dumps({{"cpu_s": time.process_time() - c0, "wall_s": time.time() - w0}}))
"""


def trial(freeze: bool) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    code = TRIAL.format(root=str(ROOT), sample=str(SAMPLE), freeze=freeze)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=900)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=3)
    a = ap.parse_args()
    rows = {"plain": [], "frozen": []}
    for _ in range(a.trials):
        for name, freeze in (("plain", False), ("frozen", True)):
            rows[name].append(trial(freeze))
            print(name, rows[name][-1], flush=True)
    summary = {name: {k: round(statistics.median(r[k] for r in rs), 3) for k in ("cpu_s", "wall_s")}
               for name, rs in rows.items()}
    result = {"command": "python bench/gc_freeze.py " + " ".join(sys.argv[1:]), "date": time.strftime("%Y-%m-%d %H:%M"),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, no GPU", "trials": rows,
              "median": summary}
    (ROOT / "bench" / "results" / "gc_freeze.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
