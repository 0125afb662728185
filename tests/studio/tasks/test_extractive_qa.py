"""studio.tasks.extractive_qa: SQuAD-style records in the shapes the field publishes, answers as token spans over
windows of long contexts, the best span back, SQuAD's scores, and a real run that learns the bundled sample."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from studio.base.errors import DataError
from studio.config import DataConfig, RunConfig
from studio.tasks import get_task
from studio.tasks.extractive_qa.data import prepare_data
from studio.tasks.extractive_qa.model import load_tokenizer
from studio.tasks.extractive_qa.tokens import NO_SPAN, tokenize
from studio.tasks.extractive_qa.training import best_spans, normalise, scores
from tests.support import SAMPLES, read_jsonl, tiny_config, train_to_completion, write_csv

CONTEXT = "The Aster kettle costs 40 euros. It is made in Porto. Its warranty lasts two years."


def records(n: int = 12) -> list[dict]:
    out = []
    for i in range(n):
        context = f"The kettle number {i} costs {10 + i} euros. It is made in city{i}."
        answer = f"{10 + i} euros"
        out.append({"id": str(i), "question": f"How much does kettle {i} cost?", "context": context,
                    "answers": {"text": [answer], "answer_start": [context.index(answer)]}})
    return out


def write_jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def prepare(path, **data):
    return prepare_data(DataConfig(train=str(path), **data))


def test_flat_records_become_question_context_answer_rows(tmp_path):
    p = prepare(write_jsonl(tmp_path / "q.jsonl", records()), validation_fraction=0.2, test_fraction=0.2)
    train = p.splits["train"]
    assert list(train.columns) == ["text", "question", "context", "answer", "answer_start", "answers"]
    row = train.iloc[0]
    assert row["context"][row["answer_start"]:row["answer_start"] + len(row["answer"])] == row["answer"]
    assert p.labels == [] and p.report.context_column == "context" and p.report.text_column == "question"


def test_the_nested_squad_json_is_flattened(tmp_path):
    squad = {"version": "1.1", "data": [{"title": "Kettles", "paragraphs": [
        {"context": CONTEXT, "qas": [
            {"id": "a", "question": "Where is it made?", "answers": [{"text": "Porto", "answer_start": 47}]},
            {"id": "b", "question": "How long is the warranty?", "answers": [{"text": "two years", "answer_start": 0}]},
            {"id": "c", "question": "What colour is it?", "answers": []}]}]}]}
    path = tmp_path / "train-v2.0.json"
    path.write_text(json.dumps(squad), encoding="utf-8")
    p = prepare(path, validation_fraction=0.0, test_fraction=0.0)
    rows = p.splits["train"].set_index("question")
    assert rows.loc["Where is it made?", "answer_start"] == CONTEXT.index("Porto")
    # answer_start 0 is wrong for "two years": the answer is found in its context instead
    assert rows.loc["How long is the warranty?", "answer_start"] == CONTEXT.index("two years")
    assert any("1 question(s) without an answer" in w for w in p.report.warnings)


def test_a_table_with_an_answer_column_and_answers_not_in_the_context(tmp_path):
    rows = [{"q": f"Price {i}?", "passage": f"Item {i} costs {i} euros.", "answer": f"{i} euros"} for i in range(10)]
    rows.append({"q": "Colour?", "passage": "Item 11 costs 3 euros.", "answer": "red"})
    path = write_csv(tmp_path / "qa.csv", rows)
    p = prepare(path, text_column="q", context_column="passage", label_column="answer", validation_fraction=0.0,
                test_fraction=0.0)
    assert len(p.splits["train"]) == 10
    assert any("1 question(s) whose answer is not in their context were left out (the first: line 12)" in w
               for w in p.report.warnings)


@pytest.mark.parametrize("rows, message", [
    ([{"query": "x", "passage": "y"}], "no answers field"),
    ([{"question": "x", "context": "y", "answers": {"text": ["z"], "answer_start": [0]}}],
     "no question has an answer found in its context"),
    ([{"question": "", "context": "y", "answers": ["y"]}], "the question or its context is empty"),
])
def test_files_that_cannot_be_answered_from_are_one_sentence(tmp_path, rows, message):
    with pytest.raises(DataError, match=message):
        prepare(write_jsonl(tmp_path / "bad.jsonl", rows))


def test_a_given_column_the_file_lacks_is_named(tmp_path):
    with pytest.raises(DataError, match="no field named 'passage' for the context"):
        prepare(write_jsonl(tmp_path / "q.jsonl", records()), context_column="passage")


def test_the_answer_becomes_its_token_span_and_long_contexts_read_in_windows(tiny_bert):
    tok = load_tokenizer(tiny_bert)
    long_context = " ".join(f"word{i}" for i in range(60)) + " The answer is Porto."
    df = pd.DataFrame([{"question": "Where?", "context": long_context, "answer": "Porto",
                        "answer_start": long_context.index("Porto")}])
    cfg = RunConfig(task="extractive-qa", task_args={"doc_stride": 8})
    cfg.training.max_length = 32
    ds = tokenize({"train": df}, tok, [], cfg)["train"]
    assert len(ds) > 1 and set(ds["example_id"]) == {0}  # one question, several windows
    found = [(s, e, ids) for s, e, ids in zip(ds["start_positions"], ds["end_positions"], ds["input_ids"]) if s]
    assert found and all(tok.decode(ids[s:e + 1]).strip().lower() == "porto" for s, e, ids in found)
    assert 0 in ds["start_positions"]  # a window without the answer points at its first token


def test_the_best_span_respects_the_answer_length_and_the_context():
    offsets = [[list(NO_SPAN), [0, 3], [4, 10], [11, 13], list(NO_SPAN)]]
    start = [np.array([9.0, 1.0, 5.0, 0.0, 8.0])]
    end = [np.array([9.0, 0.0, 1.0, 6.0, 8.0])]
    got = best_spans(start, end, [0], offsets, ["The answer is"], max_answer_length=2)[0]
    assert (got["answer"], got["start"], got["end"]) == ("answer is", 4, 13) and 0 < got["score"] < 1
    assert best_spans(start, end, [0], offsets, ["The answer is"], max_answer_length=1)[0]["answer"] == "answer"


def test_scores_are_squads_exact_match_and_f1():
    assert normalise("The  Porto!") == "porto"
    got = scores(["Porto", "two full years", "red"], [["porto"], ["two years", "2 years"], ["blue"]])
    assert got["exact_match"] == pytest.approx(1 / 3) and got["f1"] == pytest.approx((1 + 0.8 + 0) / 3)


@pytest.fixture(scope="module")
def finished_qa(tmp_path_factory, tiny_bert):
    from studio.runs.store import Store

    store = Store(tmp_path_factory.mktemp("qa-runs"))
    raw = {"task": "extractive-qa", **tiny_config(tiny_bert, SAMPLES / "qa_sample.jsonl", "lora", epochs=2,
                                                  max_length=64, batch_size=16)}
    run_id = train_to_completion(store, RunConfig.from_dict(raw))
    return store, store.run_dir(run_id)


def test_a_run_reports_exact_match_and_f1_and_answers_with_a_span(finished_qa):
    from studio.serve import inference

    _, rd = finished_qa
    report = json.loads((rd / "test_report.json").read_text())
    assert report["task"] == "extractive-qa" and set(report["metrics"]) == {"exact_match", "f1"}
    rows = read_jsonl(rd / "test_predictions.jsonl")
    assert len(rows) == report["n"] and set(get_task("extractive-qa").predictions.columns) <= set(rows[0])
    pred = inference.predict(rd, [{"question": "Where is it made?", "context": CONTEXT}])[0]
    assert CONTEXT[pred["start"]:pred["end"]] == pred["answer"] and 0 <= pred["score"] <= 1


def test_the_cli_asks_for_the_context_and_answers_with_it(finished_qa, capsys):
    from studio import cli

    store, rd = finished_qa
    assert cli.main(["--runs-dir", str(store.root), "predict", rd.name, "Where is it made?"]) == 2
    assert "give the context with --context" in capsys.readouterr().err
    assert cli.main(["--runs-dir", str(store.root), "predict", rd.name, "Where is it made?", "--context", CONTEXT,
                     "--json"]) == 0
    (out,) = json.loads(capsys.readouterr().out)
    assert out["text"] == "Where is it made?" and out["answer"] in CONTEXT
