"""The UI server killed mid-training: the run keeps training; a restarted server shows its whole history.

The real entry point (`python launch.py --port P --runs-dir D`) in a subprocess, driven by gradio_client;
SIGKILL to the server while its run trains; the worker (its own session) goes on alone; a second server
on the same runs folder (built in this process: it starts in a second, not ten) reads the run's status
and every metric line through its API.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from studio.base import runfolder
from studio.runs.store import process_alive
from tests.components.ui_support import launch_server, running_app, stop_active_runs

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client  # noqa: E402

pytestmark = pytest.mark.slow
# The sample's 192 training rows in batches of 8, 2 epochs: 48 steps, a line each.
LONGER = {"epochs": 2, "max_length": 32, "logging_steps": 1, "learning_rate": 3e-3, "batch_size": 8}


def kill_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def test_a_killed_server_leaves_the_run_training_and_a_new_one_shows_its_whole_history(tmp_path, ui_tiny_model):
    runs_dir = tmp_path / "runs"
    first, url = launch_server(runs_dir, tmp_path / "server1.log")
    try:
        client = Client(url, verbose=False)
        client.predict("support_tickets.csv", api_name="/use_sample")
        _, run_id = client.predict(model_custom=str(ui_tiny_model), run_name="survivor", api_name="/start_run",
                                   **LONGER)
        rd = runs_dir / run_id
        end = time.time() + 240
        while True:
            st = client.predict(run_id, api_name="/run_status")
            assert st["status"] in ("queued", "running"), st
            if st["status"] == "running" and (st.get("step") or 0) >= 2:
                break
            assert time.time() < end, "the run never started training"
            time.sleep(0.1)

        kill_server(first)
        killed_at = time.time()
        st = runfolder.read_status(rd)
        assert st["status"] == "running" and st["step"] < st["max_steps"], "the kill landed mid-training"
        assert process_alive(st["pid"], st["pid_start"]), "the worker outlives the server"
        # With no server at all, the run keeps training: its step moves on.
        at_kill, end = st["step"], time.time() + 120
        while runfolder.read_status(rd).get("step", 0) <= at_kill:
            assert runfolder.read_status(rd)["status"] == "running" and time.time() < end, runfolder.read_status(rd)
            time.sleep(0.1)

        with running_app(runs_dir) as url2:
            restarted_at = time.time()
            c2 = Client(url2, verbose=False)
            table, *_ = c2.predict(api_name="/list_runs")
            assert [row[0] for row in table["data"]] == [run_id]
            end = time.time() + 240
            while (st := c2.predict(run_id, api_name="/run_status"))["status"] in runfolder.ACTIVE:
                assert time.time() < end, st
                time.sleep(0.5)
            assert st["status"] == "completed", st.get("reason")
            assert st["step"] == st["max_steps"] == 48

            records = c2.predict(run_id, api_name="/run_metrics")
            assert records == runfolder.read_metrics(rd)  # the whole file, as written
            train = [r for r in records if r["kind"] == "train"]
            assert [r["step"] for r in train] == list(range(1, 49)), "every step once, none lost while no server ran"
            assert any(killed_at < r["time"] < restarted_at for r in train), "it trained while no server was up"
            kinds = [r["kind"] for r in records]
            assert kinds[0] == "start" and kinds[-2:] == ["summary", "test"] and kinds.count("start") == 1
            assert "completed" in c2.predict(run_id, api_name="/poll_run")[0]
    finally:
        kill_server(first)
        stop_active_runs(runs_dir)
