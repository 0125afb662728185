"""The Sweep tab through gradio_client and in headless Chromium; a sweep survives a server restart.

gradio_client: start a sweep with a space, stop the server mid-sweep, start a new server on the same runs
folder: the sweep finishes on its own and the new server shows every trial. Chromium: tick fields, start,
watch Optuna's figures draw, open the best trial in the Runs tab. Screenshots: sweep-*.png.
"""

from __future__ import annotations

import re
import time

import pytest
import yaml

from tests.components.test_browser import (  # noqa: F401
    CHROMIUM,
    SHOTS,
    browser,
    chromium_present,
    open_tab,
    open_with_model,
    set_number,
    shot,
)
from tests.components.ui_support import SAMPLE, running_app, stop_active_runs

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

pytestmark = pytest.mark.slow
FAST = {"epochs": 2, "max_length": 32, "logging_steps": 2, "batch_size": 16}
SPACE = yaml.safe_dump({"training.learning_rate": {"low": 1e-3, "high": 1e-2, "log": True}})


def test_a_sweep_started_through_the_api_survives_a_server_restart(tmp_path_factory, ui_tiny_model):
    runs_dir = tmp_path_factory.mktemp("sweep-api-runs")
    try:
        with running_app(runs_dir) as url:
            client = Client(url, verbose=False)
            client.predict(handle_file(str(SAMPLE)), api_name="/upload_data")
            note, sweep_id = client.predict(SPACE, 2, 0, "tpe", True, model_custom=str(ui_tiny_model),
                                            api_name="/start_sweep", **FAST)
            assert "started" in note and re.match(r"^s\d{8}-\d{6}-[0-9a-f]{6}$", sweep_id), note
            status, *_ = client.predict(sweep_id, api_name="/show_sweep")
            assert sweep_id in status
        # The server is gone; the sweep's driver and its trials train on.
        from studio import sweeps
        from studio.runs.store import open_store

        store = open_store(runs_dir)
        assert sweeps.sync(store, sweep_id)["status"] in sweeps.ACTIVE
        with running_app(runs_dir) as url:
            client = Client(url, verbose=False)
            deadline = time.time() + 400
            while sweeps.sync(store, sweep_id)["status"] in sweeps.ACTIVE and time.time() < deadline:
                time.sleep(2)
            status, table, history, *_ = client.predict(sweep_id, api_name="/show_sweep")
            assert "completed" in status and "2 of 2 trials" in status, status
            assert len(table["data"]) == 2 and {row[1] for row in table["data"]} <= {"complete", "pruned"}
            assert "Best:" in status
            listed, _empty = client.predict(None, api_name="/list_sweeps")
            assert sweep_id in str(listed)
    finally:
        stop_active_runs(runs_dir)


def test_the_sweep_tab_draws_optunas_figures_and_opens_the_best_trial(app, browser, ui_tiny_model):  # noqa: F811
    url, _ = app
    page = open_with_model(browser, url, ui_tiny_model)
    page.locator("#more-settings").get_by_text("More training settings").click()
    for field, value in {"epochs": 2, "max_length": 32}.items():
        set_number(page, field, value)
    open_tab(page, "Sweep")
    # Opening the tab drafts the space for the ticked fields, around the Model tab's values as typed there.
    page.wait_for_function("() => document.querySelector('#sweep-space').innerText.includes('training.epochs')",
                           timeout=20_000)
    page.locator("#sweep-fields").get_by_label("Warm-up share").check()  # one more field: its range joins the space
    page.wait_for_function("() => document.querySelector('#sweep-space').innerText.includes('warmup_ratio')",
                           timeout=20_000)
    trials = page.locator("#sweep-trials input").first
    trials.fill("2")
    trials.press("Tab")
    shot(page, "sweep-1-setup")
    page.locator("#sweep-start").click()
    page.wait_for_selector("#sweep-message .studio-msg-ok", timeout=60_000)
    page.wait_for_selector("#sweep-status .studio-run[data-status='completed']", timeout=400_000)
    page.wait_for_selector("#sweep-history .js-plotly-plot", timeout=30_000)
    page.wait_for_selector("#sweep-parallel .js-plotly-plot", timeout=30_000)
    shot(page, "sweep-2-done")
    table = page.locator("#sweep-trials-table").inner_text()
    assert len(re.findall(r"\b(complete|pruned)\b", table)) == 2, table
    best = re.search(r"(\d{8}-\d{6}-[0-9a-f]{6})",
                     page.locator("#sweep-status .studio-run-result").inner_text()).group(1)
    page.locator("#sweep-open-runs").click()
    page.wait_for_selector(f"#run-summary:has-text('{best}')", timeout=30_000)
    assert page.get_by_role("tab", name="Runs", exact=True).get_attribute("aria-selected") == "true"
    shot(page, "sweep-3-best-in-runs")
    page.close()
