"""Benchmark jobs on a finished chat run: base and tuned scored by lm-eval in the job's own process, who may start
and stop one, and the sentences for what cannot be scored."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from studio.base.access import Person
from studio.base.errors import RunError
from studio.config import RunConfig
from studio.evals import BenchmarkConfig, jobs, results
from studio.evals.harness import Progress, score
from studio.runs.store import Store, process_start_time
from tests.support import train_to_completion

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "assets" / "samples" / "sft_sample.jsonl"
MC = ("id,question,A,B,C,D,answer\n"
      "0,Which colour is the sky on a clear day?,green,blue,red,black,B\n"
      "1,How many legs does a cat have?,two,six,four,eight,C\n"
      "2,What do bees make?,honey,milk,silk,wool,A\n"
      "3,Which is a fruit?,carrot,potato,onion,apple,D\n")


@pytest.fixture(scope="module")
def chat_run(tmp_path_factory, tiny_llama):
    """alice's LoRA run on a tiny Llama, trained hard enough that the adapter changes its answers."""
    store = Store(tmp_path_factory.mktemp("eval-runs")).as_person(Person("alice"))
    cfg = RunConfig.from_dict({"task": "sft", "model": str(tiny_llama), "method": "lora",
                               "data": {"train": str(SAMPLE), "max_rows": 16},
                               "training": {"epochs": 2, "batch_size": 8, "max_length": 48, "device": "cpu",
                                            "learning_rate": 5e-2, "max_new_tokens": 8, "sample_prompts": 0}})
    return store, train_to_completion(store, cfg)


@pytest.fixture
def files(tmp_path):
    mc = tmp_path / "quiz.csv"
    mc.write_text(MC)
    gen = tmp_path / "answers.jsonl"
    gen.write_text("".join(json.dumps({"question": q, "reference": r}) + "\n"
                           for q, r in (("Name a colour.", "blue"), ("Say yes.", "yes"))))
    return [(mc, "quiz.csv"), (gen, "answers.jsonl")]


def test_a_local_file_scores_the_tuned_model_and_its_base(chat_run, files, tiny_llama):
    store, run_id = chat_run
    rd = store.run_dir(run_id)
    seen = []
    st = jobs.start(store, run_id, files, None, {"batch_size": 4})
    assert st["state"] in jobs.ACTIVE and [t["source"] for t in st["tasks"]] == ["quiz.csv", "answers.jsonl"]
    st = jobs.wait(rd, timeout=300, poll=0.3, on_progress=seen.append)
    assert st["state"] == "completed", (st, jobs.log_tail(rd, 40))
    found = jobs.read_results(rd)["benchmarks"]
    quiz, answers = found["local_quiz_csv"], found["local_answers_jsonl"]
    assert quiz["questions"] == 4 and answers["questions"] == 2
    for entry, metrics in ((quiz, {"acc"}), (answers, {"exact_match", "chrf"})):
        assert metrics <= set(entry["tuned"]) and metrics <= set(entry["base"])
        assert all(0 <= entry["tuned"][m] <= (100 if m == "chrf" else 1) for m in metrics)

    # The base column is the base model's own score (the adapter off), as lm-eval gives it for the base alone.
    from lm_eval.tasks import TaskManager

    from studio.tasks import chat

    tok = chat.load_tokenizer(tiny_llama)
    tm = TaskManager(include_path=str(jobs.job_folder(rd) / "tasks"), include_defaults=False)
    alone = score(
        chat.load_model(tiny_llama, [], tok), tok, ["local_quiz_csv", "local_answers_jsonl"], tm,
        BenchmarkConfig(batch_size=4), Progress(["base"], lambda p: None))
    assert alone["scores"]["local_quiz_csv"]["acc"] == quiz["base"]["acc"]
    assert alone["scores"]["local_answers_jsonl"]["chrf"] == pytest.approx(answers["base"]["chrf"])
    # ... and the tuned column is not that model: the adapter was on (its chrF of the same answers differs).
    assert answers["tuned"]["chrf"] != pytest.approx(answers["base"]["chrf"]) or \
        quiz["tuned"]["acc"] != quiz["base"]["acc"]

    # The table people read, and the card of the exported model
    rows = results.rows(jobs.read_results(rd))
    assert ["quiz.csv", 4, "accuracy"] == rows[-1][:3] and rows[-1][3].endswith("%") and "pts" in rows[-1][5]
    from studio.export.bundle import model_card

    card = model_card(rd, "adapter")
    assert "## Benchmarks" in card and "| quiz.csv | 4 | accuracy |" in card

    # Progress reached the status file while it ran, phase by phase
    phases = {(s.get("progress") or {}).get("phase") for s in seen}
    assert phases & {"tuned", "base", "loading"}, seen

    # Scored again without the base: the base's scores of the same questions stay
    st = jobs.start(store, run_id, files[:1], None, {"batch_size": 4, "with_base": False})
    assert jobs.wait(rd, timeout=300, poll=0.3)["state"] == "completed"
    assert jobs.read_results(rd)["benchmarks"]["local_quiz_csv"]["base"] == quiz["base"]


def test_who_may_start_and_one_job_per_run(chat_run, files):
    store, run_id = chat_run
    bob = store.as_person(Person("bob"))
    with pytest.raises(RunError, match=f"No run {run_id}"):  # another's run reads like a missing one
        jobs.start(bob, run_id, files, None, None)
    store.share(run_id, ("bob",))
    try:
        with pytest.raises(RunError, match="shared with you to look at, not to change"):
            jobs.start(bob, run_id, files, None, None)
        assert bob.run_dir(run_id)  # bob may read the scores, not start or stop a job
        with pytest.raises(RunError):
            jobs.stop(bob, run_id)
    finally:
        store.share(run_id, ())
    rd = store.run_dir(run_id)
    jobs.start(store, run_id, files[:1], None, {"batch_size": 4})
    try:
        with pytest.raises(RunError, match="under way"):
            jobs.start(store, run_id, files[:1], None, None)
    finally:
        st = jobs.stop(store, run_id)
    assert st["state"] == "stopped" and jobs.read_state(rd)["state"] == "stopped"


def test_a_persons_running_benchmarks_are_limited(chat_run, files, monkeypatch):
    store, run_id = chat_run
    monkeypatch.setenv("STUDIO_POLICY", "public")
    monkeypatch.setattr(jobs, "running_jobs", lambda s: ["another-run"])
    with pytest.raises(RunError, match="1 benchmark"):
        jobs.start(store, run_id, files, None, None)


def test_the_server_runs_few_benchmarks_at_once_and_each_for_a_bounded_time(chat_run, tmp_path, monkeypatch):
    store, run_id = chat_run
    rd = store.run_dir(run_id)
    # someone else's job under way in another run of the folder (this process stands in for its worker)
    other = store.root / "20261207-000000-0ther0" / "benchmarks"
    other.mkdir(parents=True)
    (other / "status.json").write_text(json.dumps({"state": "running", "pid": os.getpid(), "by": "carol",
                                                   "pid_start": process_start_time(os.getpid())}))
    monkeypatch.setenv(jobs.AT_ONCE_ENV, "1")
    many = tmp_path / "many.jsonl"
    many.write_text("".join(json.dumps({"question": f"Count to {i}.", "reference": str(i)}) + "\n"
                            for i in range(200)))
    try:
        with pytest.raises(RunError, match="This server is scoring 1 benchmarks, as many as it runs at once"):
            jobs.start(store, run_id, [(many, "many.jsonl")], None, None)
    finally:
        (other / "status.json").unlink()
    monkeypatch.setenv("STUDIO_POLICY", "public")
    monkeypatch.setenv("STUDIO_LIMITS", json.dumps({"benchmark_minutes": 0.1}))
    jobs.start(store, run_id, [(many, "many.jsonl")], None, {"max_new_tokens": 64})
    st = jobs.wait(rd, timeout=300, poll=0.3)
    assert st["state"] == "failed" and "Stopped after 0.1 minutes, the longest a benchmark may run" in st["reason"]


def test_what_cannot_be_scored_gets_a_sentence(chat_run, files, finished_run, tmp_path):
    store, run_id = chat_run
    with pytest.raises(RunError, match="Give a benchmark"):
        jobs.start(store, run_id, [], "", None)
    with pytest.raises(RunError, match="is not a benchmark name"):
        jobs.start(store, run_id, [], "mmlu; rm -rf /", None)
    with pytest.raises(Exception, match="num_fewshot"):
        jobs.start(store, run_id, files, None, {"num_fewshot": 99})
    bad = tmp_path / "bad.csv"
    bad.write_text("question,A,B,answer\nq,1,2,Z\n")
    with pytest.raises(Exception, match="bad.csv, question 1: answer 'Z'"):
        jobs.start(store, run_id, [(bad, "bad.csv")], None, None)
    assert jobs.read_state(store.run_dir(run_id)).get("state") not in jobs.ACTIVE, "nothing started"
    classifier_store, classifier, _ = finished_run  # a text classifier on a tiny BERT
    with pytest.raises(RunError, match="benchmarks score chat models"):
        jobs.start(classifier_store, classifier, files, None, None)


def test_an_unknown_or_unreachable_hub_benchmark_fails_with_a_sentence(chat_run, monkeypatch):
    store, run_id = chat_run
    rd = store.run_dir(run_id)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the worker inherits it: this machine has no hub
    jobs.start(store, run_id, None, "arc_easy, mmlux", None)
    st = jobs.wait(rd, timeout=300, poll=0.3)
    assert st["state"] == "failed", st
    # both problems in one sentence, so the person fixes them at once
    assert "Unknown benchmark 'mmlux'; close names: mmlu" in st["reason"], st
    assert "arc_easy read their questions from the Hugging Face hub, which this machine cannot reach, and they " \
           "are not in its cache; give local files" in st["reason"], st
    assert results.state_text(st).startswith("Benchmark failed: Unknown benchmark 'mmlux'")


def test_progress_says_how_long_is_left(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("studio.evals.harness.time.time", lambda: now[0])
    written = []
    p = Progress(["tuned", "base"], written.append)
    p.start_phase(0)
    p.begin(100)
    now[0] += 10
    p.advance(50)  # 50 requests in 10 s: 10 s for the rest of this phase, 20 s for the base
    assert written[-1]["eta_s"] == pytest.approx(30.0) and written[-1]["phase"] == "tuned"
    now[0] += 10
    p.advance(50)
    p.start_phase(1)  # the tuned phase took 20 s: the base takes as long
    p.begin(100)
    now[0] += 5
    p.advance(25)
    assert written[-1]["eta_s"] == pytest.approx(15.0) and written[-1]["phase_index"] == 1
    assert "about 15 s left" in results.state_text({"state": "running", "progress": written[-1]})
    assert "预计还需约 15 s" in results.state_text({"state": "running", "progress": written[-1]}, zh=True)
