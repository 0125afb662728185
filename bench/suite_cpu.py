"""Where the test suite's CPU goes: the README's test command run once while /proc is sampled every second.

    .venv/bin/python bench/suite_cpu.py                 # the whole suite
    .venv/bin/python bench/suite_cpu.py -- tests/components/test_browser_tasks.py   # arguments go to the suite

On two cores the suite is CPU-bound (vmstat: about 2% idle), so its minutes are its CPU seconds over two: a test that
waits cheaply costs little, one that keeps Chromium, Ray or a worker busy costs its share. Each process's CPU is
given to the test file its pytest process was running (found by walking up its parents; this file is also the
pytest plugin that says which file that is), else to the kind of process it is: a Ray node's own processes
(started by `ray start`, outside any test's tree), Chromium, or other (collection before the first test, the kernel's
threads, detached workers). A second table adds the CPU up by command line. Writes bench/results/suite_cpu.json.

Processes that live less than a second between two looks are missed; their CPU is a small part here.

This VM's CPU second is not a fixed amount of work: the same code's suite took 1,601 CPU s at 15:11 and 2,149 at
17:25 on 2026-12-07 (bench/RESULTS.md). The run also times a fixed pure-Python loop before and after the suite
(`machine_speed`, millions of loop steps per CPU second; 17.2-18.0 at rest that evening) and records it beside the
CPU seconds. It does not explain that day's spread (16.4 on a run of 2,303 CPU s), so it is a fact to read beside
a row, not a factor to scale by.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKS = Path(os.environ.get("SUITE_CPU_MARKS", "/tmp/suite-cpu-marks"))  # main() gives each run its own
HZ = os.sysconf("SC_CLK_TCK")


def machine_speed(steps: int = 2_000_000, repeats: int = 7) -> float:
    """Millions of steps of a fixed pure-Python loop per CPU second, the best of `repeats` (about a second)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        total = 0
        for i in range(steps):
            total += i * i % 7
        best = min(best, time.process_time() - start)
    return round(steps / best / 1e6, 2)


# -- the plugin: each test process writes its pid and the file it is running -------------------------------------
def pytest_runtest_setup(item):
    MARKS.mkdir(parents=True, exist_ok=True)
    who = os.environ.get("PYTEST_XDIST_WORKER", "main")
    (MARKS / who).write_text(f"{os.getpid()} {item.nodeid.split('::')[0]}")


# -- the sampler ----------------------------------------------------------------------------------------------------
def _stat(pid: str) -> tuple[int, int]:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[1]), int(fields[11]) + int(fields[12])  # parent, user + system ticks


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _command(cmd: str) -> str:
    """A command line with its temporary paths and numbers folded, so that runs of one kind add up."""
    if "chrom" in cmd:
        return "chromium"
    cmd = re.sub(r"/tmp/\S+", "TMP", cmd)
    cmd = re.sub(r"\S*/site-packages/", "", cmd)
    return re.sub(r"\d{3,}", "N", cmd)[:100] or "kernel threads"


class Sampler:
    def __init__(self):
        self.by_file: collections.Counter = collections.Counter()
        self.by_command: collections.Counter = collections.Counter()
        self.seen: dict[int, int] = {}
        self.stop = threading.Event()
        self.first = True

    def look(self) -> None:
        running = {}
        for mark in MARKS.glob("*"):
            try:
                pid, test_file = mark.read_text().split(" ", 1)
                running[int(pid)] = test_file
            except (OSError, ValueError):
                continue
        table = {}
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    table[int(pid)] = _stat(pid)
                except (OSError, IndexError, ValueError):
                    continue
        for pid, (parent, ticks) in table.items():
            before = self.seen.get(pid, ticks if self.first else 0)
            self.seen[pid] = ticks
            if ticks < before:  # a pid used again by a new process
                before = 0
            spent = (ticks - before) / HZ
            if not spent:
                continue
            owner, p, hops = None, pid, 0
            while p in table and hops < 40:
                if p in running:
                    owner = running[p]
                    break
                p, hops = table[p][0], hops + 1
            cmd = _cmdline(pid)
            if owner is None:
                ray = any(k in cmd for k in ("ray::", "raylet", "gcs_server", "/ray/", "ray start", "default_worker"))
                owner = "Ray nodes (ray start)" if ray else "Chromium (no test)" if "chrom" in cmd else "other"
            self.by_file[owner] += spent
            self.by_command[_command(cmd)] += spent
        self.first = False

    def run(self) -> None:
        while not self.stop.wait(1.0):
            self.look()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "suite_cpu.json"))
    ap.add_argument("suite_args", nargs="*", help="after --: arguments for scripts/run-tests.sh")
    a = ap.parse_args()
    global MARKS
    speed_before = machine_speed()
    MARKS = Path(tempfile.mkdtemp(prefix="suite-cpu-"))  # this run's own: two runs at once do not mix their marks
    sampler = Sampler()
    sampler.look()
    thread = threading.Thread(target=sampler.run, daemon=True)
    thread.start()
    env = {**os.environ, "SUITE_CPU_MARKS": str(MARKS), "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "bench"),
                                                                     os.environ.get("PYTHONPATH")]))}
    start = time.time()
    done = subprocess.run(["bash", str(ROOT / "scripts" / "run-tests.sh"), "-p", "suite_cpu", *a.suite_args],
                          cwd=ROOT, env=env)
    wall = time.time() - start
    sampler.stop.set()
    thread.join()
    sampler.look()
    shutil.rmtree(MARKS, ignore_errors=True)
    speed = round((speed_before + machine_speed()) / 2, 2)
    total = sum(sampler.by_file.values())
    result = {"command": "bench/suite_cpu.py " + " ".join(a.suite_args), "exit_status": done.returncode,
              "wall_s": round(wall, 1), "cpu_s": round(total, 1), "cores": os.cpu_count(),
              "machine_speed": speed,
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "by_test_file": {k: round(v, 1) for k, v in sampler.by_file.most_common()},
              "by_command": {k: round(v, 1) for k, v in sampler.by_command.most_common(60)}}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(f"\nwall {wall:.0f} s, CPU {total:.0f} s over {os.cpu_count()} cores (machine speed {speed}); by test "
          "file:")
    for name, cpu in sampler.by_file.most_common(30):
        print(f"{cpu:8.1f}  {name}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
