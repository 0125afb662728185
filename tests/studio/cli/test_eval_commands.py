"""`studio eval`: the bundled SmolLM2, tuned with LoRA, scored beside its base on a local multiple-choice file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio import cli
from studio.config import RunConfig
from studio.runs.store import Store
from tests.support import train_to_completion

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "assets" / "samples" / "sft_sample.jsonl"
pytestmark = pytest.mark.slow


def test_studio_eval_scores_smollm2_and_its_base_on_a_local_file(tmp_path, capsys):
    store = Store(tmp_path / "runs")
    cfg = {"task": "sft", "model": "smollm2", "method": "lora", "data": {"train": str(SAMPLE), "max_rows": 8},
           "training": {"epochs": 1, "batch_size": 8, "max_length": 32, "device": "cpu", "learning_rate": 1e-3,
                        "max_new_tokens": 4, "sample_prompts": 0}}
    run_id = train_to_completion(store, RunConfig.from_dict(cfg))
    quiz = tmp_path / "general.csv"  # C-Eval's columns, easy questions a 135M model half knows
    quiz.write_text("id,question,A,B,C,D,answer\n"
                    "0,What is the capital of France?,Berlin,Madrid,Paris,Rome,C\n"
                    "1,How many days are in a week?,five,seven,ten,twelve,B\n"
                    "2,Which animal barks?,dog,cat,fish,bird,A\n"
                    "3,What colour is grass?,red,blue,white,green,D\n"
                    "4,What is 2 + 3?,4,5,6,7,B\n"
                    "5,Water freezes at how many degrees Celsius?,0,10,50,100,A\n")
    runs = ["--runs-dir", str(store.root)]
    assert cli.main([*runs, "eval", run_id, "--tasks", str(quiz), "--batch-size", "6"]) == 0
    out = capsys.readouterr()
    assert "Benchmark of run" in out.err and "Benchmark under way" in out.err
    table = [line for line in out.out.splitlines() if line.startswith("| general.csv")]
    assert len(table) == 1, out.out
    _, name, questions, score, base, tuned, change, _ = table[0].split("|")
    assert questions.strip() == "6" and score.strip() == "accuracy"
    assert base.strip().endswith("%") and tuned.strip().endswith("%") and change.strip().endswith("pts")

    # The saved scores read back as JSON; a malformed file and an unknown run say what is wrong.
    assert cli.main([*runs, "eval", run_id, "--json"]) == 0
    saved = json.loads(capsys.readouterr().out)
    entry = saved["results"]["benchmarks"]["local_general_csv"]
    assert saved["state"]["state"] == "completed" and 0 <= entry["base"]["acc"] <= 1 and entry["chat_template"]
    bad = tmp_path / "broken.csv"
    bad.write_text("question,A,B\nWhich?,x,y\n")
    assert cli.main([*runs, "eval", run_id, "--tasks", str(bad)]) == 2
    assert "broken.csv has choices but no answer column" in capsys.readouterr().err
    assert cli.main([*runs, "eval", "20990101-000000-abcdef", "--tasks", str(quiz)]) == 2
    assert "No run 20990101-000000-abcdef" in capsys.readouterr().err
