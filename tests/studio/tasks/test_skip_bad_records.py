"""One malformed record does not cost a file, in every task: without data.skip_bad_records the file is refused
with how many of its records cannot be read, where and why, and the fix that goes on without them (the Data tab's
one click, `studio data --skip-bad-records`, a run config's data.skip_bad_records); with it the rest is read and
the data report counts what was left out. A file none of whose records can be read is refused either way.

The files (tests/studio/tasks/bad_records/) hold one bad record each among good ones; preference.jsonl is the
common chosen/rejected transcript shape, two of whose conversations end with an empty chosen reply (a silent
refusal), which is read as an answer, not a bad record.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from studio import cli
from studio.config import DataConfig, RunConfig
from studio.data import DataError
from studio.tasks import get_task
from studio.tasks.preference import tokens as pref_tokens
from studio.tasks.preference import training as pref_training

FILES = Path(__file__).resolve().parent / "bad_records"

# task: (file, the unit its error counts, records in the file, where the bad one sits, why)
CASES = {
    "text-classification": ("text_classification.csv", "row", 29, "line 12",
                            "line 12 has 3 fields where the header has 2"),
    "token-classification": ("token_classification.conll", "sentence", 24, "line 13",
                             "line 14 has a single field 'lives'"),
    "extractive-qa": ("extractive_qa.jsonl", "record", 24, "line 9", "line 9: the question or its context is empty"),
    "seq2seq": ("seq2seq.jsonl", "row", 30, "line 7", "line 7 is not valid JSON (Unterminated string starting at)"),
    "sft": ("sft.jsonl", "record", 24, "line 5", "line 5: turn 2 (assistant) of 'messages' has no text"),
    "preference": ("preference.jsonl", "record", 30, "line 11", "line 11: turn 1 (user) of 'chosen' has no text"),
}

# task: a file of which no record can be read
ALL_BAD = {
    "text-classification": ("all.csv", "text,label\na,b,c\nd,e,f,g\n"),
    "token-classification": ("all.conll", "Alice\n\nBob\n\nCarla\n"),
    "extractive-qa": ("all.jsonl", "".join(json.dumps({"question": "", "context": "c", "answers": ["c"]}) + "\n"
                                           for _ in range(3))),
    "seq2seq": ("all.jsonl", '{"source": "a"\n{"source": "b"\n'),
    "sft": ("all.jsonl", "".join(json.dumps({"messages": [{"role": "user", "content": ""},
                                                          {"role": "assistant", "content": "x"}]}) + "\n"
                                 for _ in range(3))),
    "preference": ("all.jsonl", "not json\n[1, 2]\n"),
}


def prepare(task: str, path: Path, **data):
    return get_task(task).prepare_data(DataConfig(train=str(path), **data))


@pytest.mark.parametrize("task", list(CASES))
def test_one_bad_record_is_counted_named_and_offered_to_be_left_out(task):
    name, unit, total, where, why = CASES[task]
    with pytest.raises(DataError) as err:
        prepare(task, FILES / name)
    msg = str(err.value)
    assert err.value.fix == "skip_bad_records", msg
    assert f"1 of the {total} {unit}s of {name} cannot be read" in msg, msg
    assert why in msg and "turn on data.skip_bad_records (the Data tab offers it)" in msg, msg
    assert "\n" not in msg


@pytest.mark.parametrize("task", list(CASES))
def test_with_skip_bad_records_the_rest_is_read_and_the_report_counts_what_was_left_out(task):
    name, unit, total, where, why = CASES[task]
    report = prepare(task, FILES / name, skip_bad_records=True).report
    assert sum(report.rows.values()) == total - 1
    assert report.skipped_records == 1
    assert report.skipped_examples == [f"{name} {why}"]
    said = [w for w in report.warnings if "could not be read and were left out" in w]
    assert said == [f"1 {unit}(s) could not be read and were left out (data.skip_bad_records): {name} {why}."]
    assert "无法读取" in said[0].zh
    assert report.to_dict()["skipped_records"] == 1


@pytest.mark.parametrize("task", list(ALL_BAD))
def test_a_file_of_bad_records_only_is_refused_either_way(task, tmp_path):
    name, text = ALL_BAD[task]
    count = len([line for line in text.split("\n\n" if name.endswith(".conll") else "\n") if line.strip()])
    count -= name.endswith(".csv")  # the header
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    for skip in (False, True):
        with pytest.raises(DataError) as err:
            prepare(task, path, skip_bad_records=skip)
        assert err.value.fix is None and f"None of the {count} " in str(err.value)
        assert f"of {name} can be read" in str(err.value)


def test_the_error_counts_every_bad_record_and_names_the_first_five(tmp_path):
    lines = [json.dumps({"messages": [{"role": "user", "content": f"Q{i}?"},
                                      {"role": "assistant", "content": "" if i % 3 == 0 else f"A{i}."}]})
             for i in range(30)]
    path = tmp_path / "chat.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        prepare("sft", path)
    msg = str(err.value)
    assert msg.startswith("chat.jsonl line 1: turn 2 (assistant) of 'messages' has no text; give every turn")
    assert "10 of the 30 records of chat.jsonl cannot be read (line 1: turn 2" in msg
    assert "line 13: turn 2 (assistant) of 'messages' has no text; and 5 more)" in msg
    report = prepare("sft", path, skip_bad_records=True).report
    assert report.skipped_records == 10 and len(report.skipped_examples) == 5


def test_validation_files_are_read_the_same_way(tmp_path):
    name, *_ = CASES["sft"]
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps({"instruction": f"Say {i}", "output": f"{i}"}) + "\n" for i in range(20)))
    with pytest.raises(DataError, match=r"sft.jsonl line 5: .* 1 of the 24 records of sft.jsonl cannot be read"):
        prepare("sft", train, validation=str(FILES / name))
    report = prepare("sft", train, validation=str(FILES / name), skip_bad_records=True).report
    assert report.rows["validation"] == 23 and report.skipped_records == 1


# ------------------------------------------------------------------------------------- preference --
def test_an_empty_final_chosen_reply_is_an_answer_not_a_bad_record(tmp_path):
    """The issue's public set: conversations ending with an empty assistant reply load without the setting."""
    good = [line for n, line in enumerate((FILES / "preference.jsonl").read_text().splitlines(), 1) if n != 11]
    path = tmp_path / "refusals.jsonl"
    path.write_text("\n".join(good) + "\n", encoding="utf-8")
    prepared = prepare("preference", path)
    rows = [r for split in prepared.splits.values() for _, r in split.iterrows()]
    silent = [r for r in rows if r["chosen"] == ""]
    assert len(rows) == 29 and len(silent) == 2 and all(r["rejected"].startswith("Sure") for r in silent)
    assert sum(c["pairs"] for c in prepared.report.label_counts.values()) == 29
    assert not prepared.report.skipped_records
    # An empty rejected reply reads the same; an empty turn anywhere else stays a bad record.
    rec = json.loads(good[0])
    rec["rejected"][-1]["content"] = ""
    empty_rejected = tmp_path / "r.jsonl"
    empty_rejected.write_text(json.dumps(rec) + "\n" + "\n".join(good[1:]) + "\n", encoding="utf-8")
    assert sum(r["rejected"] == "" for s in prepare("preference", empty_rejected).splits.values()
               for _, r in s.iterrows()) == 1
    rec["chosen"][-1]["content"] = rec["rejected"][-1]["content"] = ""
    both = tmp_path / "both.jsonl"
    both.write_text(json.dumps(rec) + "\n" + "\n".join(good[1:]) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="the same chosen and rejected answer"):
        prepare("preference", both)


def test_a_plain_text_answer_still_needs_text(tmp_path):
    path = tmp_path / "plain.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"Hi {i}", "chosen": "" if i == 2 else "Hello.", "rejected": "No."})
                            + "\n" for i in range(10)), encoding="utf-8")
    with pytest.raises(DataError, match="line 3: the 'chosen' answer is empty.* 1 of the 10 records"):
        prepare("preference", path)


@pytest.mark.parametrize("loss", ["dpo", "kto", "orpo"])
def test_trl_trains_on_an_empty_reply_as_its_end_of_turn(loss, tiny_llama, tmp_path):
    """What the trainer gets from an empty chosen reply: the end of the turn alone (prompt + EOS), and a step."""
    from transformers import AutoModelForCausalLM

    from studio.tasks import chat

    tok = chat.load_tokenizer(tiny_llama)
    prompt = json.dumps([{"role": "user", "content": "Say something rude."}])
    df = pd.DataFrame([{"text": "x", "prompt": prompt, "chosen": "" if i % 2 else "No.", "rejected": f"You fool {i}."}
                       for i in range(8)])
    cfg = RunConfig.from_dict({"task": "preference", "model": str(tiny_llama), "method": "full",
                               "data": {"train": "x.jsonl"}, "task_args": {"preference_loss": loss},
                               "training": {"max_length": 64, "batch_size": 4}})
    rows = pref_tokens.preference_rows(df, unpaired=loss == "kto")
    assert {"role": "assistant", "content": ""} in (rows[1].get("chosen") or rows[2]["completion"])
    ds = pref_tokens.tokenize({"train": df}, tok, [], cfg)
    trainer_cls, args_cls = pref_training.trainer_classes(loss)
    args = args_cls(output_dir=str(tmp_path), max_steps=1, per_device_train_batch_size=4, report_to=[],
                    max_length=64, use_cpu=True, save_strategy="no")
    trainer = trainer_cls(model=AutoModelForCausalLM.from_pretrained(tiny_llama), args=args,
                          train_dataset=ds["train"], processing_class=tok)
    if loss == "dpo":
        assert trainer.train_dataset[1]["chosen_ids"] == [tok.eos_token_id]
    loss_value = trainer.train().training_loss
    assert loss_value == loss_value and loss_value > 0  # a number: not NaN


# -------------------------------------------------------------------------------------------- CLI --
def test_studio_data_takes_skip_bad_records(tmp_path, capsys):
    name, unit, total, where, why = CASES["preference"]
    runs = ["--runs-dir", str(tmp_path / "runs")]
    assert cli.main([*runs, "data", str(FILES / name), "--task", "preference"]) == 2
    err = capsys.readouterr().err
    assert "1 of the 30 records of preference.jsonl cannot be read" in err and "skip_bad_records" in err
    assert cli.main([*runs, "data", str(FILES / name), "--task", "preference", "--skip-bad-records"]) == 0
    out = capsys.readouterr().out
    assert f"warning: 1 record(s) could not be read and were left out (data.skip_bad_records): {name} {why}." in out
    assert "--skip-bad-records" in _help(capsys)


def _help(capsys) -> str:
    with pytest.raises(SystemExit):
        cli.main(["data", "--help"])
    return capsys.readouterr().out


def test_a_run_config_takes_data_skip_bad_records(tmp_path):
    name, *_ = CASES["sft"]
    cfg = RunConfig.from_dict({"task": "sft", "data": {"train": str(FILES / name), "skip_bad_records": True}})
    assert cfg.data.skip_bad_records is True
    assert get_task("sft").prepare_data(cfg.data).report.skipped_records == 1
