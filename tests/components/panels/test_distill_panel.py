"""Distillation through the app's named API (gradio_client): a teacher run, its description, a student that learns
from it with transfer texts, the labels-only run queued behind it, and the report's side-by-side table.
The headless-Chromium flow is in test_browser_augment.py (distill-*.png)."""

from __future__ import annotations

import time

import pytest
from gradio_client import handle_file

from tests.support import separable_rows, write_csv

gradio_client = pytest.importorskip("gradio_client")

pytestmark = pytest.mark.slow
FAST = {"epochs": 1, "max_length": 32}


def finish(client, run_id: str) -> dict:
    end = time.time() + 300
    while (st := client.predict(run_id, api_name="/run_status"))["status"] not in ("completed", "failed", "stopped"):
        assert time.time() < end, st
        time.sleep(1)
    assert st["status"] == "completed", st.get("reason")
    return st


def test_a_teacher_teaches_a_student_and_the_report_shows_all_three(client, ui_tiny_model, tmp_path):
    _, teacher = client.predict(model_custom=str(ui_tiny_model), method="full", run_name="teacher",
                                api_name="/start_run", **FAST)
    finish(client, teacher)
    about = client.predict(teacher, api_name="/describe_teacher")
    assert f"Teacher {teacher}" in about and "4 labels" in about and "test accuracy" in about, about

    transfer = write_csv(tmp_path / "more.csv", [{"text": r["text"]} for r in separable_rows(5, seed=3)])
    # The upload stays in the session (its state, never a path the client sends): the next Start uses it.
    note = client.predict(handle_file(str(transfer)), api_name="/upload_transfer")
    assert "more.csv" in note and "uploads" not in note
    msg, student = client.predict(model_custom=str(ui_tiny_model), distill_teacher=teacher, distill_alpha=0.7,
                                  api_name="/start_run", **FAST)
    assert student, msg
    finish(client, student)
    summary = client.predict(student, api_name="/run_report")[0]
    assert "Distillation" in summary and "teacher weight 0.7" in summary and "10 transfer texts" in summary, summary
    assert f"`{teacher}`" in summary and f"`{student}`" in summary and "student, labels only" in summary
    alone = [r for r in client.predict(api_name="/list_runs")[0]["data"] if "labels only" in str(r)]
    assert alone, "the labels-only run is listed"
    finish(client, alone[0][0])
    summary = client.predict(student, api_name="/run_report")[0]
    assert "queued or running" not in summary, summary


def test_a_teacher_that_cannot_teach_is_one_sentence(client, ui_tiny_model):
    with pytest.raises(Exception, match="distill.teacher: there is no run 20990101-000000-abcdef"):
        client.predict(model_custom=str(ui_tiny_model), distill_teacher="20990101-000000-abcdef", api_name="/start_run")
