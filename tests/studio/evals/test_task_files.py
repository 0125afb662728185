"""Local benchmark files: the shapes C-Eval, CMMLU and MMLU publish, generation files, and what is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.data import DataError
from studio.evals.task_files import read_task_file, task_name


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


CEVAL = ("id,question,A,B,C,D,answer,explanation\n"
         "0,下列哪个是水果？,胡萝卜,土豆,苹果,洋葱,C,\n"
         "1,一年有几个月？,十,十二,十一,九,B,一年十二个月\n")


def test_ceval_csv_reads_as_multiple_choice_with_a_chinese_prompt(tmp_path):
    tf = read_task_file(write(tmp_path / "ceval-val.csv", CEVAL))
    assert tf.name == "local_ceval_val_csv" and tf.kind == "multiple_choice" and tf.chinese
    assert tf.rows[0] == {"question": "下列哪个是水果？", "choices": ["胡萝卜", "土豆", "苹果", "洋葱"],
                          "letters": ["A", "B", "C", "D"], "answer": 2}
    assert tf.rows[1]["answer"] == 1
    config = (tf.write(tmp_path / "tasks")).read_text(encoding="utf-8")
    assert "答案：" in config and "output_type: multiple_choice" in config


def test_cmmlu_and_mmlu_shapes(tmp_path):
    cmmlu = read_task_file(write(tmp_path / "cmmlu.csv", ",Question,A,B,C,D,Answer\n0,2+2=?,3,4,5,6,B\n"))
    assert cmmlu.rows == [{"question": "2+2=?", "choices": ["3", "4", "5", "6"], "letters": list("ABCD"),
                           "answer": 1}]
    # MMLU's own CSVs have no header: question, four choices, the answer letter
    raw = read_task_file(write(tmp_path / "anatomy_test.csv", '"Which organ pumps blood?",lung,heart,liver,skin,B\n'
                                                              '"How many lungs do people have?",1,2,3,4,B\n'))
    assert raw.kind == "multiple_choice" and raw.rows[0]["choices"] == ["lung", "heart", "liver", "skin"]
    assert [r["answer"] for r in raw.rows] == [1, 1] and not raw.chinese
    # the hub's copy: a list of choices and a 0-based answer
    hub = read_task_file(write(tmp_path / "mmlu.jsonl", json.dumps(
        {"question": "Pick the prime.", "subject": "math", "choices": ["4", "6", "7", "9"], "answer": 2}) + "\n"))
    assert hub.rows[0]["answer"] == 2 and hub.rows[0]["letters"] == list("ABCD")


def test_generation_file(tmp_path):
    tf = read_task_file(write(tmp_path / "qa.jsonl", json.dumps({"prompt": "Capital of France?",
                                                                 "reference": "Paris"}) + "\n"))
    assert tf.kind == "generation" and tf.rows == [{"question": "Capital of France?", "reference": "Paris"}]
    config = tf.write(tmp_path / "tasks").read_text()
    assert "generate_until" in config and "exact_match" in config and "chrf" in config


def test_the_written_task_is_one_lm_eval_reads(tmp_path):
    from lm_eval.tasks import TaskManager

    tf = read_task_file(write(tmp_path / "ceval.csv", CEVAL))
    tf.write(tmp_path / "tasks")
    tm = TaskManager(include_path=str(tmp_path / "tasks"), include_defaults=False)
    task = tm.load([tf.name])["tasks"][tf.name]
    doc = list(task.test_docs())[0]
    assert task.doc_to_text(doc) == "下列哪个是水果？\nA. 胡萝卜\nB. 土豆\nC. 苹果\nD. 洋葱\n答案："
    assert task.doc_to_choice(doc) == ["A", "B", "C", "D"] and task.doc_to_target(doc) == 2


@pytest.mark.parametrize("text, name, says", [
    ("question,A,B,C,D\nq,1,2,3,4\n", "x.csv", "no answer column"),
    ("question,A,B,C,D,answer\nq,1,2,3,4,E\n", "x.csv", "x.csv, question 1: answer 'E' is not one of the choices"),
    ("question,A,B,C,D,answer\nq,1,,3,4,A\n", "x.csv", "question 1: choice B is empty"),
    ("question,A,B,D,answer\nq,1,2,3,A\n", "x.csv", "without a gap"),
    ("text,label\nhello,1\n", "x.csv", "has no question column"),
    ('{"question": "q", "choices": "not a list", "answer": 0}\n', "x.jsonl", "choices is not a list"),
    ('{"question": "Say hi"}\n', "x.jsonl", "neither choices"),
    ('{"question": "Say hi", "reference": ""}\n', "x.jsonl", "the reference answer is empty"),
])
def test_malformed_files_get_a_sentence(tmp_path, text, name, says):
    with pytest.raises(DataError, match=says):
        read_task_file(write(tmp_path / name, text))


def test_task_names_are_lm_eval_names():
    assert task_name("C-Eval (val) 高中.csv") == "local_c_eval_val_csv"
    assert task_name("../../etc/passwd") == "local_passwd"
