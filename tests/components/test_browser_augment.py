"""Augmentation in headless Chromium: open the Data tab's panel, choose operations, preview new rows beside their
originals, train on them and read the run's report; a task switch offers that task's own operations.
Screenshots land in tests/_artifacts/screenshots/ (augment-*.png)."""

from __future__ import annotations

import re
import time

import pytest

from tests.components.test_browser import (  # noqa: F401
    CHROMIUM,
    SHOTS,
    browser,
    chromium_present,
    open_tab,
    shot,
    wait_for_runs_table,
)
from tests.components.test_browser_tasks import train

pytestmark = pytest.mark.slow


def pick_operations(page, names: list[str]) -> None:
    box = page.locator("#augment-operations")
    remove = box.locator(".token-remove")
    while remove.count():  # clear the task's defaults, one chip at a time
        before = remove.count()
        remove.first.click()
        page.wait_for_function("([n]) => document.querySelectorAll('#augment-operations .token-remove').length < n",
                               arg=[before], timeout=10_000)
    for name in names:
        box.locator("input").click()
        page.get_by_role("option", name=re.compile(rf"^{name}:")).click()
    page.keyboard.press("Escape")


def test_preview_train_and_report(app, browser, ui_tiny_model):  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 1300}, locale="en-US")
    page.goto(app[0])
    page.wait_for_selector("#data-status .studio-msg-ok", timeout=60_000)
    page.locator("#augment-panel").get_by_text("Augment the training split").click()
    copies = page.locator("#augment-copies input").first
    copies.fill("2")
    copies.press("Tab")
    pick_operations(page, ["swap", "synonym"])
    page.locator("#augment-preview-btn").click()
    page.wait_for_selector("#augment-message .studio-msg-ok", timeout=60_000)
    note = page.locator("#augment-message").inner_text()
    assert "New rows made by swap, synonym" in note and "adds up to" in note, note
    cells = page.locator("#augment-preview").inner_text()
    assert "swap" in cells and "original" in cells and "augmented" in cells
    page.locator("#augment-panel").scroll_into_view_if_needed()
    shot(page, "augment-1-preview")

    train(page, ui_tiny_model, "augment", max_length=32)
    open_tab(page, "Runs")
    wait_for_runs_table(page, "completed")
    page.get_by_role("button", name="Open", exact=True).click()
    page.wait_for_selector("#run-summary:has-text('augmented training rows')", timeout=30_000)
    summary = page.locator("#run-summary").inner_text()
    assert re.search(r"Trained with \d+ augmented training rows \(swap \d+, synonym \d+\)", summary), summary
    assert "never augmented" in summary
    shot(page, "augment-2-run")

    open_tab(page, "Data")
    page.locator("#data-task input").click()
    page.get_by_role("option", name="Token classification (NER)", exact=True).click()
    page.wait_for_selector("#data-status:has-text('Ready: ner_sample.conll')", timeout=60_000)
    page.wait_for_function("() => document.querySelector('#augment-operations').innerText.includes('mention')",
                           timeout=30_000)
    page.locator("#augment-preview-btn").click()
    page.wait_for_selector("#augment-message .studio-msg-ok:has-text('mention')", timeout=60_000)
    assert "B-" in page.locator("#augment-preview").inner_text()
    shot(page, "augment-3-ner")
    page.close()


def test_distill_flow(app, browser, ui_tiny_model):  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 1300}, locale="en-US")
    page.goto(app[0])
    page.wait_for_selector("#data-status .studio-msg-ok", timeout=60_000)
    train(page, ui_tiny_model, "distill-teacher", max_length=32)  # the teacher: any completed run of the task
    teacher = re.search(r"Run (\S+) (?:started|queued)", page.locator("#train-message").inner_text()).group(1)

    open_tab(page, "Data")
    page.locator("#distill-panel").get_by_text("Learn from a teacher run").click()
    page.locator("#distill-panel").get_by_role("button", name="Refresh the runs").click()
    page.locator("#distill-teacher input").click()
    page.get_by_role("option", name=re.compile(teacher)).click()
    page.wait_for_selector(f"#distill-message:has-text('Teacher {teacher}')", timeout=30_000)
    page.locator("#distill-panel").scroll_into_view_if_needed()
    shot(page, "distill-1-teacher")

    train(page, ui_tiny_model, "distill-student", max_length=32)
    student = re.search(r"Run (\S+) (?:started|queued)", page.locator("#train-message").inner_text()).group(1)
    open_tab(page, "Runs")
    deadline = time.time() + 300
    while not re.search(r"labels only\s+completed", page.locator("#runs-table").inner_text()):
        assert time.time() < deadline, page.locator("#runs-table").inner_text()
        page.get_by_role("button", name="Refresh", exact=True).click()  # the labels-only run trains after the student
        page.wait_for_timeout(2000)
    page.locator("#runs-run input").click()
    page.get_by_role("option", name=re.compile(student)).click()
    page.wait_for_selector("#run-summary:has-text('Distillation')", timeout=30_000)
    summary = page.locator("#run-summary").inner_text()
    assert "student, distilled" in summary and "student, labels only" in summary and teacher in summary, summary
    assert "queued or running" not in summary, summary
    page.locator("#run-summary").scroll_into_view_if_needed()
    shot(page, "distill-2-report")
    page.close()
