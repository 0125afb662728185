"""The studio started on a Ray cluster (`launch.py --ray ADDRESS`, a subprocess, as an operator starts it) with a
head and a second node on loopback: runs queued from the page's API land on both nodes, their status and metrics
reach the page while they train on a node, stop / resume / kill work from the page, and the Runs tab's Cluster panel
shows the nodes and the runs on them (screenshot: cluster-panel.png)."""

from __future__ import annotations

import concurrent.futures
import time

import pytest

from studio.base import runfolder
from tests.components.ui_support import launch_server, stop_active_runs
from tests.ray_cluster_fixture import studio_on_cluster

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client  # noqa: E402

pytestmark = pytest.mark.slow
SHORT = {"epochs": 1, "max_length": 32, "batch_size": 16}


@pytest.fixture(scope="module")
def cluster():
    with studio_on_cluster() as c:
        yield c


def status(client, run_id) -> dict:
    try:
        return client.predict(run_id, api_name="/run_status")
    except concurrent.futures.CancelledError:
        # Once in a fresh clone's loaded suite gradio_client cancelled one poll of many, the server logging nothing
        # (its reader of the results stream can stop at the server's close_stream as the next poll registers):
        # a person's page polls again, and so does this, once.
        return client.predict(run_id, api_name="/run_status")


def wait_status(client, run_id, want, timeout=300) -> dict:
    end = time.time() + timeout
    while (st := status(client, run_id))["status"] not in want:
        assert time.time() < end, st
        time.sleep(0.5)
    return st


def test_the_page_sends_runs_to_the_cluster_and_controls_them(tmp_path, cluster, ui_tiny_model):
    runs_dir = tmp_path / "runs"
    proc, url = launch_server(runs_dir, tmp_path / "server.log", "--ray", cluster.address)
    try:
        client = Client(url, verbose=False)
        client.predict("support_tickets.csv", api_name="/use_sample")
        ids = [client.predict(model_custom=str(ui_tiny_model), run_name=f"cluster {i}", api_name="/start_run",
                              **SHORT)[1] for i in range(3)]
        done = [wait_status(client, run_id, runfolder.FINISHED) for run_id in ids]
        assert [st["status"] for st in done] == ["completed"] * 3, [st.get("reason") for st in done]
        assert len({st["node"]["node_id"] for st in done}) == 2, "the cluster placed them on both nodes"
        shown = client.predict(api_name="/cluster_state")
        assert "2 nodes alive" in shown and cluster.address in shown, shown  # the local login is the machine's

        # A longer run: its status and metrics reach the page while it trains on a node; stop, resume, kill.
        _, run_id = client.predict(model_custom=str(ui_tiny_model), run_name="long", api_name="/start_run",
                                   epochs=60, max_length=32, batch_size=16, logging_steps=1)
        end = time.time() + 240
        while (st := status(client, run_id)).get("step", 0) < 3:
            assert st["status"] in runfolder.ACTIVE and time.time() < end, st
            time.sleep(0.3)
        assert st["node"]["executor"] == "ray" and st["status"] == "running"
        train = [r for r in client.predict(run_id, api_name="/run_metrics") if r["kind"] == "train"]
        assert train and status(client, run_id)["status"] == "running", "metrics while it trains on its node"
        shot_cluster_panel(url, run_id)
        client.predict(run_id, api_name="/stop_run")
        st = wait_status(client, run_id, runfolder.FINISHED, timeout=120)
        assert st["status"] == "stopped", st.get("reason")
        client.predict(run_id, 0, api_name="/resume_run")
        end = time.time() + 240
        while (st := status(client, run_id))["status"] != "running" or st.get("step", 0) <= 3:
            assert st["status"] in runfolder.ACTIVE and time.time() < end, st
            time.sleep(0.3)
        assert st["cluster"]["attempt"] == 2
        client.predict(run_id, api_name="/kill_run")
        st = status(client, run_id)
        assert st["status"] == "stopped" and "Killed" in st["reason"], st
    finally:
        stop_active_runs(runs_dir)
        proc.kill()
        proc.wait(timeout=30)


def shot_cluster_panel(url: str, run_id: str) -> None:
    from tests.components.test_browser import ARGS, CHROMIUM, SHOTS

    if not CHROMIUM.exists():
        return
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="en-US")
        page.goto(url)
        page.get_by_role("tab", name="Runs", exact=True).click()
        page.locator("#cluster").get_by_text("Cluster", exact=True).click()
        page.locator("#cluster-refresh").click()
        page.wait_for_selector("#cluster-state:has-text('nodes alive')", timeout=60_000)
        page.locator("#cluster-state").scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "cluster-panel.png"))
        text = page.locator("#cluster-state").inner_text()
        browser.close()
    assert "head" in text and "used CPU 1/1" in text and f"{run_id} (running)" in text, text
