"""bench/suite_cpu.py gives a process's CPU to the test file its test process was running, and folds command lines
so that runs of one kind add up."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _module():
    spec = importlib.util.spec_from_file_location("suite_cpu", ROOT / "bench" / "suite_cpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_child_processs_cpu_lands_on_the_file_its_test_process_runs(tmp_path, monkeypatch):
    sc = _module()
    monkeypatch.setattr(sc, "MARKS", tmp_path)
    (tmp_path / "gw0").write_text(f"{os.getpid()} tests/studio/test_x.py")
    sampler = sc.Sampler()
    sampler.look()  # what every process had spent before counts for nobody
    # The child spends 1.5 s of CPU, however long a loaded machine takes to give it that, then says so and waits.
    child = subprocess.Popen([sys.executable, "-c", "import time\nwhile time.process_time() < 1.5: pass\n"
                              "print('spent', flush=True)\ntime.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "spent"
        sampler.look()
    finally:
        child.kill()
        child.wait()
    assert sampler.by_file["tests/studio/test_x.py"] >= 1.0, sampler.by_file
    assert sc._command("/usr/lib/chromium/chromium --type=renderer") == "chromium"
    assert sc._command("python -m studio.runs.worker /tmp/pytest-of-root/pytest-41/run --port 40123") == \
        "python -m studio.runs.worker TMP --port N"


def test_the_machine_speed_is_steps_per_cpu_second_of_a_fixed_loop():
    sc = _module()
    short, long = sc.machine_speed(steps=200_000, repeats=3), sc.machine_speed(steps=800_000, repeats=3)
    assert 0.5 < short < 500, short  # millions of steps per CPU second: about 17 on the 2-core VM
    assert 0.5 < long / short < 2, (short, long)  # a rate: four times the steps, about the same number
