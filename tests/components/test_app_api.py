"""Drive the running app through gradio_client, the way a script would.

One app, one tiny BERT: upload data, start a run, poll it to completion, read
its metrics and charts, predict (one text and a file), open its report, export
it, try the hub offline; then a second session starts two runs at once and
sees the second one queued, not refused.
"""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.components.ui_support import SAMPLE, running_app

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

pytestmark = pytest.mark.slow
FAST = {"epochs": 1, "max_length": 32, "logging_steps": 2, "learning_rate": 3e-3, "batch_size": 16}


def wait_for(client: Client, run_id: str, statuses=("completed", "failed", "stopped"), timeout: float = 240) -> dict:
    end = time.time() + timeout
    while time.time() < end:
        st = client.predict(run_id, api_name="/run_status")
        if st["status"] in statuses:
            return st
        time.sleep(1)
    raise AssertionError(f"run {run_id} still {st['status']} after {timeout}s")


def plot_traces(plot_value) -> list[dict]:
    """The traces of a gr.Plot output as the browser receives them."""
    fig = json.loads(plot_value["plot"]) if isinstance(plot_value, dict) else plot_value
    return fig.get("data", [])


@pytest.fixture(scope="module")
def trained_run(app, ui_tiny_model, tmp_path_factory):
    """Upload a copy of the sample under a user's name, train the tiny model on it, wait for the end."""
    url, runs_dir = app
    client = Client(url, verbose=False)
    upload = tmp_path_factory.mktemp("user") / "my tickets.csv"
    upload.write_bytes(SAMPLE.read_bytes())
    out = client.predict(handle_file(str(upload)), api_name="/upload_data")
    message, text_col, label_col, summary = out[0], out[1], out[2], out[3]
    assert "Ready" in message and "my tickets.csv" in message
    # Column pickers come back as updates: the file's columns as choices, the detected one chosen.
    assert (text_col["value"], label_col["value"]) == ("text", "label") and text_col["choices"]
    assert "| train | 192 |" in summary and "| test | 24 |" in summary
    started = time.time()
    msg, run_id = client.predict(model_custom=str(ui_tiny_model), run_name="api-run", api_name="/start_run", **FAST)
    assert run_id and run_id in msg
    # The run shows at once: a poll right after Start already knows it.
    first = client.predict(run_id, api_name="/run_status")
    assert first["status"] in ("queued", "running", "completed")
    st = wait_for(client, run_id)
    assert st["status"] == "completed", st.get("reason")
    return client, run_id, runs_dir, upload, time.time() - started


def test_every_public_endpoint_is_named_on_purpose(app):
    url, _ = app
    named = set(Client(url, verbose=False).view_api(return_format="dict", print_info=False)["named_endpoints"])
    assert named == {"/set_task", "/upload_data", "/use_sample", "/check_data", "/read_without_header",
                     "/repair_bio_tags", "/skip_bad_records", "/count_parameters", "/preview_config",
                     "/load_config", "/start_run", "/poll_run", "/stop_run", "/kill_run", "/list_runs",
                     "/compare_runs", "/run_report", "/misclassified", "/resume_run", "/delete_run", "/predict",
                     "/predict_file", "/export_zip", "/push_to_hub", "/run_metrics", "/run_status",
                     "/predict_entities", "/chat", "/generate", "/answer_question",
                     "/start_sweep", "/list_sweeps", "/show_sweep", "/stop_sweep", "/kill_sweep", "/resume_sweep",
                     "/find_label_errors", "/show_more_label_errors", "/save_reviewed_data", "/run_learning_curve",
                     "/create_labelling_project",
                     "/list_labelling_projects", "/show_labelling_project", "/suggest_rows", "/show_round",
                     "/save_labels", "/label_row", "/skip_row", "/retrain_labelled", "/preview_augmentation",
                     "/describe_teacher", "/upload_transfer", "/share_run", "/make_api_key", "/remove_api_key",
                     "/start_benchmark", "/stop_benchmark", "/benchmark_results", "/cluster_state"}


def test_run_ids_never_become_paths(app):
    url, runs_dir = app
    client = Client(url, verbose=False)
    (runs_dir.parent / "train.log").write_text("secret")
    status_html, *_ = client.predict("../", api_name="/poll_run")
    assert "is not a run id" in status_html
    with pytest.raises(Exception, match="is not a run id"):
        client.predict("../", api_name="/run_metrics")
    with pytest.raises(Exception, match="is not a run id"):
        client.predict("../../etc", "hello", api_name="/predict")


def test_upload_is_stored_under_a_generated_name(trained_run):
    _, run_id, runs_dir, upload, _ = trained_run
    stored = list((runs_dir / "uploads").iterdir())
    assert stored and all(upload.name not in p.name and " " not in p.name for p in stored)
    cfg = json.loads((runs_dir / run_id / "config.json").read_text())
    assert Path(cfg["data"]["train"]).parent == (runs_dir / "uploads").resolve()
    assert cfg["model"].endswith("bert") and cfg["method"] == "lora" and cfg["training"]["epochs"] == 1


def test_bad_upload_gives_a_readable_message(app, tmp_path):
    url, _ = app
    client = Client(url, verbose=False)
    bad = tmp_path / "notes.csv"
    bad.write_text("only_one_column\nhello\nworld\n", encoding="utf-8")
    out = client.predict(handle_file(str(bad)), api_name="/upload_data")
    assert "notes.csv: could not find both a text and a label column" in out[0]
    assert "Traceback" not in out[0] and "uploads" not in out[0]
    wrong = tmp_path / "data.xlsx"
    wrong.write_bytes(b"PK\x03\x04")
    out = client.predict(handle_file(str(wrong)), api_name="/upload_data")  # refused by the studio, in words
    assert "studio-msg-error" in out[0] and "data.xlsx: unsupported file type .xlsx" in out[0], out[0]


def test_label_ids_are_named_through_the_data_check(app, tmp_path):
    """A file of class ids (a Hugging Face export) with label_names given: the check reports the names."""
    url, _ = app
    client = Client(url, verbose=False)
    ids = tmp_path / "imdb export.csv"
    ids.write_text("text,label\n" + "".join(f"great film {i},1\nawful film {i},0\n" for i in range(12)))
    out = client.predict(handle_file(str(ids)), label_names="negative, positive", api_name="/upload_data")
    assert "Ready: imdb export.csv has 2 labels" in out[0], out[0]
    bars = json.dumps(plot_traces(out[5]))  # rows per label
    assert '"negative"' in bars and '"positive"' in bars and '"0"' not in bars
    out = client.predict(label_names="negative", api_name="/check_data")
    assert "label id 1 has no name: label_names gives 1 names" in out[0], out[0]


def test_metrics_and_live_charts(trained_run):
    client, run_id, _, _, _ = trained_run
    records = client.predict(run_id, api_name="/run_metrics")
    kinds = [r["kind"] for r in records]
    assert kinds[0] == "start" and "test" in kinds
    train = [r for r in records if r["kind"] == "train"]
    assert len(train) >= 3 and all(r["loss"] > 0 for r in train)
    evals = [r for r in records if r["kind"] == "eval"]
    assert evals and 0 <= evals[-1]["eval_accuracy"] <= 1 and "eval_f1" in evals[-1]
    status_html, loss, scores, lr, log, _empty, _samples, _replies = client.predict(run_id, api_name="/poll_run")
    assert "completed" in status_html and "100%" in status_html
    names = {tr["name"]: tr for tr in plot_traces(loss)}
    assert set(names) == {"training loss", "validation loss"}
    assert len(names["training loss"]["x"]) == len(train)
    assert {tr["name"] for tr in plot_traces(scores)} == {"validation accuracy", "validation F1 (macro)"}
    assert plot_traces(lr)[0]["x"]
    assert f"run {run_id} completed" in log


def test_predict_text_and_file(trained_run, tmp_path):
    client, run_id, _, _, _ = trained_run
    out = client.predict(run_id, "I was charged twice for my subscription", api_name="/predict")
    probs = {c["label"]: c["confidence"] for c in out["confidences"]}
    assert set(probs) == {"account", "billing", "shipping", "technical"}
    assert abs(sum(probs.values()) - 1) < 1e-4 and out["label"] == max(probs, key=probs.get)
    texts = pd.DataFrame({"id": [1, 2, 3],
                          "text": ["Where is my parcel?", "Reset my password", "App crashes on start"]})
    src = tmp_path / "to label.csv"
    texts.to_csv(src, index=False)
    preview, csv_path = client.predict(run_id, handle_file(str(src)), api_name="/predict_file")
    labelled = pd.read_csv(csv_path)
    assert list(labelled["id"]) == [1, 2, 3] and len(preview["data"]) == 3
    assert set(labelled["predicted"]) <= set(probs)
    assert {f"p({lab})" for lab in probs} <= set(labelled.columns)


def test_report_and_misclassified_examples(trained_run):
    client, run_id, *_ = trained_run
    summary, per_class, confusion, _filter, note, errors = client.predict(run_id, api_name="/run_report")
    assert "of 24 test examples" in note or "All 24 test examples" in note
    assert run_id in summary and "test rows" in summary
    # Did it help? The untrained base (prototype head) beside the tuned model, in the report and in the data.
    assert "| fine-tuned |" in summary and "| base (untrained) |" in summary
    report = client.predict(run_id, api_name="/run_status")["test_report"]
    assert set(report["base"]["metrics"]) == set(report["metrics"]) and "prototype head" in report["base"]["what"]
    assert [row[0] for row in per_class["data"]] == ["account", "billing", "shipping", "technical"]
    heat = plot_traces(confusion)[0]
    assert heat["type"] == "heatmap" and sum(map(sum, heat["z"])) == 24
    truth = dict(pd.read_csv(SAMPLE).values.tolist())
    for text, true_label, predicted, _conf in errors["data"]:
        # Each example is shown with its own label (the test predictions line up with their texts).
        assert truth[text] == true_label and predicted != true_label
    _note, only = client.predict(run_id, "billing", api_name="/misclassified")
    assert all(row[1] == "billing" for row in only["data"])


def test_export_zips_and_offline_push(trained_run, tmp_path):
    client, run_id, _, _, _ = trained_run
    path, card = client.predict(run_id, "adapter", api_name="/export_zip")
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        assert {"README.md", "adapter_config.json", "adapter_model.safetensors", "tokenizer.json"} <= names
        assert "library_name: peft" in zf.read("README.md").decode()
    assert "## Results on the held-out test split (24 rows)" in card
    path, card = client.predict(run_id, "merged", api_name="/export_zip")
    with zipfile.ZipFile(path) as zf:
        assert {"config.json", "model.safetensors", "README.md"} <= set(zf.namelist())
        zf.extractall(tmp_path / "merged")
    # The merged model alone gives the run's own probabilities.
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(tmp_path / "merged").eval()
    tok = AutoTokenizer.from_pretrained(tmp_path / "merged")
    text = "The parcel never arrived and tracking has not moved for a week"
    with torch.no_grad():
        probs = torch.softmax(model(**tok([text], return_tensors="pt", truncation=True, max_length=32)).logits, -1)[0]
    merged = {model.config.id2label[i]: float(p) for i, p in enumerate(probs)}
    served = {c["label"]: c["confidence"] for c in client.predict(run_id, text, api_name="/predict")["confidences"]}
    assert merged.keys() == served.keys() and all(abs(merged[k] - served[k]) < 1e-3 for k in merged)
    message, token_field = client.predict(run_id, "adapter", "someone/tickets", "hf_secret_value", True,
                                          api_name="/push_to_hub")
    assert "HF_HUB_OFFLINE" in message and "hf_secret_value" not in message
    assert token_field == ""


def test_config_preview_load_and_parameter_count(app, trained_run, ui_tiny_model, tmp_path):
    url, _ = app
    client = Client(url, verbose=False)
    client.predict("support_tickets.csv", api_name="/use_sample")
    text, download = client.predict(method="dora", dora_r=4, epochs=2, early_stopping_patience=0,
                                    api_name="/preview_config")
    saved = yaml.safe_load(Path(download).read_text())
    assert saved == yaml.safe_load(text)
    assert saved["method"] == "dora" and saved["method_args"]["r"] == 4 and saved["training"]["epochs"] == 2
    assert saved["training"]["early_stopping_patience"] is None  # the form's 0 means unset
    assert saved["data"]["train"].endswith("support_tickets.csv")
    saved["training"]["batch_size"] = 8
    saved["data"]["train"] = "/etc/passwd"  # a config cannot point the server at its own files
    cfg_file = tmp_path / "run.yaml"
    cfg_file.write_text(yaml.safe_dump(saved))
    *values, note = client.predict(handle_file(str(cfg_file)), api_name="/load_config")
    # The form's fields come back in the order Start takes them (Start also takes the run name).
    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    form = dict(zip([p["parameter_name"] for p in api["/start_run"]["parameters"]], values))
    assert (form["method"], form["dora_r"], form["batch_size"], form["epochs"]) == ("dora", 4, 8, 2)
    assert form["early_stopping_patience"] == 0 and form["text_column"] == "text"
    assert "passwd is not on this server" in note
    counted = client.predict(model_custom=str(ui_tiny_model), method="lora", lora_r=8, api_name="/count_parameters")
    assert "trainable of" in counted and "4 labels" in counted
    assert "Peak memory about" in counted and "of available RAM" in counted and "data-verdict='fits'" in counted
    small = client.predict(model_custom="", method="lora", batch_size=16, max_length=128,
                           api_name="/count_parameters")  # MiniLM
    bigger = client.predict(model_custom="", method="full", batch_size=64, max_length=128,
                            api_name="/count_parameters")
    assert _gib(bigger) > _gib(small) + 1  # the estimate follows the batch size and the method


def _gib(text: str) -> float:
    import re

    amount, unit = re.search(r"Peak memory about ([\d.]+) (GiB|MiB)", text).groups()
    return float(amount) / (1024 if unit == "MiB" else 1)


def test_queue_stop_kill_resume_and_a_restarted_server(app, trained_run, ui_tiny_model):
    url, runs_dir = app
    _, first_id, *_ = trained_run
    a, b = Client(url, verbose=False), Client(url, verbose=False)
    table, *_ = b.predict(api_name="/list_runs")
    assert first_id in [row[0] for row in table["data"]]
    for c in (a, b):
        c.predict("sentiment_reviews.jsonl", api_name="/use_sample")
    # run1 is killed while it trains: enough epochs that it is still training when the poll sees it running.
    _, run1 = a.predict(model_custom=str(ui_tiny_model), api_name="/start_run", **{**FAST, "epochs": 40})
    msg2, run2 = b.predict(model_custom=str(ui_tiny_model), api_name="/start_run", **FAST)
    # A second Start while a run trains is queued, not refused.
    assert run1 != run2 and "queued behind 1 other run" in msg2
    assert b.predict(run2, api_name="/run_status")["status"] == "queued"
    # Stop a queued run, kill the running one, resume the stopped one: it trains to the end.
    b.predict(run2, api_name="/stop_run")
    assert b.predict(run2, api_name="/run_status")["status"] == "stopped"
    wait_for(a, run1, statuses=("running",), timeout=120)
    assert "Killed" in a.predict(run1, api_name="/kill_run")
    st1 = a.predict(run1, api_name="/run_status")
    assert st1["status"] == "stopped" and "Killed" in st1["reason"]
    assert "queued again" in b.predict(run2, api_name="/resume_run")
    # A restarted server (a new app on the same runs folder) picks the run up with its whole history.
    with running_app(runs_dir) as url2:
        c = Client(url2, verbose=False)
        assert wait_for(c, run2)["status"] == "completed"
        records = c.predict(run2, api_name="/run_metrics")
        _, loss, *_ = c.predict(run2, api_name="/poll_run")
        train_points = [r for r in records if r["kind"] == "train"]
        assert len(plot_traces(loss)[0]["x"]) == len({r["step"] for r in train_points}) >= 3
        plot, metrics_table, configs = c.predict([first_id, run2], "eval_loss", api_name="/compare_runs")
        assert len(plot_traces(plot)) == 2 and len(metrics_table["data"]) == 2
        assert any(row[0] == "data.train" for row in configs["data"])
        c.predict(run1, api_name="/delete_run")
        table, *_ = c.predict(api_name="/list_runs")
        assert run1 not in [row[0] for row in table["data"]] and not (runs_dir / run1).exists()
