"""Preference tuning through the app's named API (gradio_client) and the CLI.

gradio_client: pick the task (its bundled sample loads), preview a KTO config with its beta, see the memory
estimate count a pair's two answers, start a DPO run on a tiny Llama, follow it to the end, read its report
(preference accuracy beside the base's) and chat with it. CLI: `studio train` on a pairs file, `studio show`.
The headless-Chromium flow is in test_browser_tasks.py (tasks-preference-*.png).
"""

from __future__ import annotations

import json
import time

import pytest
import yaml

from tests.tiny_models import make_tiny_llama

gradio_client = pytest.importorskip("gradio_client")

pytestmark = pytest.mark.slow
FAST = {"epochs": 1, "max_length": 64, "max_new_tokens": 6, "logging_steps": 2, "learning_rate": 0.01, "batch_size": 8}


@pytest.fixture(scope="module")
def llama(tmp_path_factory, ui_cache):
    return make_tiny_llama(tmp_path_factory.mktemp("pref-models") / "llama")


def test_the_task_its_settings_a_run_its_report_and_a_chat(client, llama):
    out = client.predict("preference", api_name="/set_task")
    assert "Ready: preference_sample.jsonl" in out[0] and "| train | 84 |" in out[3], out[:4]
    text, _ = client.predict(task="preference", model_custom=str(llama), preference_loss="kto", beta=0.3,
                             api_name="/preview_config")
    saved = yaml.safe_load(text)
    assert saved["task"] == "preference" and saved["task_args"]["preference_loss"] == "kto"
    assert saved["task_args"]["beta"] == 0.3 and saved["data"]["train"].endswith("preference_sample.jsonl")
    counted = client.predict(model_custom=str(llama), method="lora", api_name="/count_parameters")
    assert "trainable of" in counted and "Peak memory about" in counted

    msg, run_id = client.predict(task="preference", model_custom=str(llama), run_name="dpo-api", preference_loss="dpo",
                                 api_name="/start_run", **FAST)
    assert run_id and run_id in msg
    end = time.time() + 300
    while (st := client.predict(run_id, api_name="/run_status"))["status"] not in ("completed", "failed", "stopped"):
        assert time.time() < end, st
        time.sleep(1)
    assert st["status"] == "completed", st.get("reason")
    report = client.predict(run_id, api_name="/run_report")
    shown = json.dumps(report)
    assert "preference_accuracy" in shown and "base (untrained)" in shown
    _, tuned, base = client.predict(run_id, "What is the capital of Peru?", [], [], 6, 0, 1, True, api_name="/chat")
    assert [m["role"] for m in tuned] == [m["role"] for m in base] == ["user", "assistant"]  # both answered


def test_cli_trains_and_shows_a_preference_run(tmp_path, llama):
    from studio import cli

    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"Add {i} and 1.", "chosen": f"{i + 1}.",
                                        "rejected": f"{i + 5}."}) + "\n"
                            for i in range(30)))
    cfg = tmp_path / "dpo.yaml"
    cfg.write_text(yaml.safe_dump({"task": "preference", "model": str(llama), "data": {"train": str(data)},
                                   "training": {"epochs": 1, "batch_size": 8, "max_length": 48, "max_new_tokens": 4,
                                                "preference_loss": "orpo", "beta": 0.5}}))
    runs = tmp_path / "runs"
    # The config file names them the old way (training fields), the override the new way (task_args)
    assert cli.main(["--runs-dir", str(runs), "train", str(cfg), "--set", "task_args.beta=0.2"]) == 0
    run_id = next(p.name for p in runs.iterdir() if p.is_dir() and p.name[0].isdigit())
    saved = json.loads((runs / run_id / "config.json").read_text())
    assert saved["task_args"]["preference_loss"] == "orpo" and saved["task_args"]["beta"] == 0.2
    assert "beta" not in saved["training"]
    assert cli.main(["--runs-dir", str(runs), "show", run_id]) == 0
