"""Knowledge distillation (studio.distill): a finished run teaches a new one; the loss, the transfer texts, the
report with teacher and student side by side, the comparison run on labels alone, and the teacher's bad inputs."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import torch

from studio import distill
from studio.base.errors import ConfigError
from studio.base.runfolder import RunFolder
from studio.cli import main as cli
from studio.config import RunConfig
from tests.support import kill_active, separable_rows, tiny_config, train_to_completion, write_csv

LABELS = ("billing", "technical", "shipping")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("distill-data")
    rows = separable_rows(20, LABELS, seed=7, words=(3, 7))
    transfer = [{"text": r["text"]} for r in separable_rows(8, LABELS, seed=99, words=(3, 7))]
    return {"train": write_csv(root / "train.csv", rows), "transfer": write_csv(root / "transfer.csv", transfer),
            "other": write_csv(root / "other.csv", separable_rows(20, ("billing", "technical"), seed=7)),
            "no_text": write_csv(root / "numbers.csv", [{"n": i, "m": i * 2} for i in range(30)])}


@pytest.fixture(scope="module")
def teacher(tmp_path_factory, tiny_bert, data):
    from studio.runs.store import Store

    store = Store(tmp_path_factory.mktemp("distill-runs"))
    run_id = train_to_completion(store, RunConfig.from_dict(tiny_config(tiny_bert, data["train"], "full", epochs=3)))
    return store, run_id


def student(tiny_bert, train, teacher_id, **d) -> RunConfig:
    raw = tiny_config(tiny_bert, train, "lora", epochs=2)
    raw["distill"] = {"teacher": teacher_id, **d}
    return RunConfig.from_dict(raw)


# ----------------------------------------------------------------------------------------- the loss --
def test_the_loss_mixes_the_teachers_softened_probabilities_with_the_labels():
    from transformers import Trainer

    cls = distill.trainer_class(Trainer, temperature=2.0, alpha=0.25)
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    soft = torch.tensor([[1.0, 1.0, 0.0], [0.0, 3.0, 0.0]])
    labels = torch.tensor([0, -100])  # the second row is a transfer text: teacher only

    class Model(torch.nn.Module):
        def forward(self, **kw):
            return type("Out", (), {"logits": logits})()

    loss = cls.compute_loss(object.__new__(cls), Model(), {"labels": labels, "teacher_logits": soft})
    kl = torch.nn.functional.kl_div(torch.log_softmax(logits / 2, -1), torch.softmax(soft / 2, -1),
                                    reduction="batchmean") * 4
    ce = torch.nn.functional.cross_entropy(logits[:1], labels[:1])
    assert loss.item() == pytest.approx((0.25 * kl + 0.75 * ce).item(), rel=1e-6)


def test_the_collator_stacks_the_logits_beside_the_batch():
    collate = distill.Collator(lambda feats: {"input_ids": torch.tensor([f["input_ids"] for f in feats])})
    batch = collate([{"input_ids": [1, 2], "teacher_logits": [0.1, 0.2]},
                     {"input_ids": [3, 4], "teacher_logits": [1.0, 2.0]}])
    assert batch["teacher_logits"].shape == (2, 2) and batch["input_ids"].tolist() == [[1, 2], [3, 4]]
    assert "teacher_logits" not in distill.Collator(lambda f: {})([{"input_ids": [1]}])


# ------------------------------------------------------------------------------------------ bad input --
def test_a_teacher_of_another_label_set_or_an_unfinished_one_is_refused(teacher, tiny_bert, data):
    store, teacher_id = teacher
    with pytest.raises(ConfigError, match="knows other labels than this data.*same label set"):
        store.create(student(tiny_bert, data["other"], teacher_id), start=False)
    with pytest.raises(ConfigError, match="distill.teacher: there is no run 20990101-000000-abcdef"):
        store.create(student(tiny_bert, data["train"], "20990101-000000-abcdef"), start=False)
    queued = store.create(RunConfig.from_dict(tiny_config(tiny_bert, data["train"])), start=False)
    with pytest.raises(ConfigError, match=f"run {queued} is queued; only a completed run can teach"):
        store.create(student(tiny_bert, data["train"], queued), start=False)
    with pytest.raises(ConfigError, match="distill.transfer: .*numbers.csv"):
        store.create(student(tiny_bert, data["train"], teacher_id, transfer=str(data["no_text"])), start=False)
    store.delete(queued)
    assert [r["id"] for r in store.list()] == [teacher_id]  # nothing was created by the refusals


def test_config_checks_need_no_store(data, tiny_bert):
    with pytest.raises(ConfigError, match="distill.transfer: a transfer file is labelled by a teacher"):
        RunConfig.from_dict({"data": {"train": str(data["train"])}, "distill": {"transfer": str(data["transfer"])}})
    with pytest.raises(ConfigError, match=r"distill.teacher: seq2seq runs cannot be distilled yet \(text "
                                          r"classification and SFT can\)"):
        RunConfig.from_dict({"task": "seq2seq", "data": {"train": str(data["train"])}, "distill": {"teacher": "x"}})
    with pytest.raises(ConfigError, match="distill.alpha: 1.5 is above the maximum 1.0"):
        RunConfig.from_dict({"data": {"train": str(data["train"])}, "distill": {"teacher": "x", "alpha": 1.5}})


# ---------------------------------------------------------------------------------------------- a run --
def test_a_distilled_run_reports_teacher_and_student_and_queues_the_labels_only_run(teacher, tiny_bert, data):
    store, teacher_id = teacher
    cfg = student(tiny_bert, data["train"], teacher_id, transfer=str(data["transfer"]), temperature=3.0)
    run_id = store.create(cfg)
    rd = store.run_dir(run_id)
    alone = distill.record(rd)["alone"]
    try:
        for rid in (run_id, alone):  # the labels-only run is queued behind the student
            st = store.wait(rid, timeout=300)
            assert st["status"] == "completed", (st, (RunFolder(store.run_dir(rid)).log).read_text()[-3000:])
    finally:
        kill_active(store)
    rec = distill.record(rd)
    alone_cfg = json.loads((RunFolder(store.run_dir(alone)).config).read_text())
    assert alone_cfg["distill"]["teacher"] is None and alone_cfg["name"].endswith("· labels only")
    assert alone_cfg["training"] == json.loads((RunFolder(rd).config).read_text())["training"]
    n_train = json.loads((RunFolder(rd).data_report).read_text())["rows"]["train"]
    logits = np.load(RunFolder(rd).teacher_logits)["logits"]
    assert logits.shape == (n_train + len(rec["transfer_texts"]), 3) and len(rec["transfer_texts"]) == 24
    log = (RunFolder(rd).log).read_text()
    assert f"logits for {n_train} training rows and 24 transfer texts" in log
    assert f"{n_train + 24} train rows" in log
    report = json.loads((RunFolder(rd).report).read_text())["distillation"]
    assert report["teacher"]["run"] == teacher_id and report["student"]["run"] == run_id and report["alone"] == alone
    for side in ("teacher", "student"):
        assert set(report[side]["metrics"]) == {"accuracy", "f1", "precision", "recall"}
        assert (report[side]["latency_ms"] > 0 and report[side]["texts_per_second"] > 0
                and report[side]["parameters"] > 0)
    teacher_report = json.loads((RunFolder(store.run_dir(teacher_id)).report).read_text())["metrics"]
    assert report["teacher"]["metrics"]["accuracy"] == pytest.approx(teacher_report["accuracy"])  # same test split
    assert report["temperature"] == 3.0 and report["transfer_rows"] == 24


def test_cli_trains_a_student(teacher, tiny_bert, data, tmp_path, capsys):
    store, teacher_id = teacher
    cfg = tmp_path / "student.json"
    raw = tiny_config(tiny_bert, data["train"], "lora", epochs=1)
    raw["distill"] = {"teacher": teacher_id, "compare_alone": False}
    cfg.write_text(json.dumps(raw))
    assert cli(["--runs-dir", str(store.root), "train", str(cfg)]) == 0
    err = capsys.readouterr().err
    run_id = re.search(r"run (\S+) queued", err).group(1)
    rd = store.run_dir(run_id)
    assert "distillation" in json.loads((RunFolder(rd).report).read_text())
    assert "alone" not in (distill.record(rd) or {})
    assert re.search(r"teacher +\d\.\d{4} +\d\.\d{4} +[\d,]+ .* " + teacher_id, err), err
    assert re.search(r"student \(distilled\) +\d\.\d{4} .* " + run_id, err), err


# ------------------------------------------------------------------------------- sequence level (SFT) --
def test_sft_students_learn_the_teachers_answers_and_the_script_reproduces_it(tmp_path_factory, studio_cache, tmp_path):
    from studio.runs.store import Store
    from tests.support import run_reproduce_script
    from tests.tiny_models import make_tiny_llama

    llama = make_tiny_llama(tmp_path_factory.mktemp("distill-llama") / "llama")
    records = [{"instruction": f"Say the number {i}.", "input": "", "output": f"number {i}"} for i in range(30)]
    train = tmp_path / "sft.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    fast = {"epochs": 1, "max_length": 48, "max_new_tokens": 6, "sample_prompts": 0, "score_base": False}
    store = Store(tmp_path / "runs")
    raw = {**tiny_config(llama, train, "lora", **fast), "task": "sft"}
    teacher = train_to_completion(store, RunConfig.from_dict(raw))
    with pytest.raises(ConfigError, match="distill.transfer: sft students learn the teacher's answers"):
        RunConfig.from_dict({**raw, "distill": {"teacher": teacher, "transfer": str(train)}})
    tickets = write_csv(tmp_path / "tickets.csv", separable_rows(10))
    classifier = {**tiny_config(llama, tickets), "distill": {"teacher": teacher}}
    with pytest.raises(ConfigError, match=f"run {teacher} is a sft run; a text-classification student needs a teacher "
                                          "of its own task"):
        store.create(RunConfig.from_dict(classifier), start=False)
    run_id = train_to_completion(store, RunConfig.from_dict({**raw, "distill": {"teacher": teacher,
                                                                                "compare_alone": False}}))
    rd = store.run_dir(run_id)
    answers = pd.read_json(RunFolder(rd).teacher_answers, lines=True)
    own = pd.read_parquet(RunFolder(rd).data / "train.parquet")
    assert len(answers) == len(own) and list(answers["text"]) == list(own["text"])  # same prompts
    assert (answers["reference"] != own["reference"]).any()  # the teacher's answers, not the file's
    for msgs, ref in zip(answers["messages"], answers["reference"]):
        assert json.loads(msgs)[-1] == {"role": "assistant", "content": ref}
    report = json.loads((RunFolder(rd).report).read_text())["distillation"]
    assert (report["kind"] == "sequence" and report["teacher_answers"] == len(own)
            and report["teacher"]["run"] == teacher)
    assert f"answers to {len(own)} training conversations" in (RunFolder(rd).log).read_text()
    _, _, folder = run_reproduce_script(rd, tmp_path / "script")
    exported = [json.loads(line)["reference"] for line in (folder / "data" / "train.jsonl").read_text().splitlines()]
    assert (exported == list(answers["reference"])
            and "reproduces the distillation" in (folder / "README.md").read_text())


def test_a_soft_label_script_says_it_does_not_reproduce_the_teacher(teacher, tiny_bert, data, tmp_path):
    from studio.export.reproduce import script_and_packages, write_bundle

    store, teacher_id = teacher
    run_id = train_to_completion(store, student(tiny_bert, data["train"], teacher_id, compare_alone=False))
    rd = store.run_dir(run_id)
    assert "NOT REPRODUCED: the run also learned from teacher run" in script_and_packages(rd)[0]
    write_bundle(rd, tmp_path / "bundle")
    assert "**Not reproduced: distillation.**" in (tmp_path / "bundle" / "README.md").read_text()
