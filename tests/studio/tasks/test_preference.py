"""Preference tuning (task `preference`): the published data shapes read the same, bad records are named in one
sentence before a run exists, DPO/ORPO/KTO runs complete through trl with the reward metrics in metrics.jsonl,
the test report puts held-out preference accuracy beside the base's, the playground chats with the run, the
memory estimate counts both answers, and the reproduce script retrains the run, all on a tiny random Llama."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from studio.base import runfolder
from studio.base.errors import ConfigError
from studio.base.runfolder import RunFolder
from studio.config import DataConfig, RunConfig
from studio.data import DataError
from studio.serve import inference
from studio.tasks import chat, get_task
from studio.tasks.preference import report as pref_report
from studio.tasks.preference import tokens as pref_tokens
from studio.training import memory
from tests.support import (
    chat_exports_match_the_run,
    read_jsonl,
    run_reproduce_script,
    train_to_completion,
    write_jsonl,
)

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "assets" / "samples" / "preference_sample.jsonl"
TASK = get_task("preference")


def prepare(path: Path, **data):
    return TASK.prepare_data(DataConfig(train=str(path), **data))


def pairs(n: int) -> list[dict]:
    return [{"prompt": f"What is {i} plus one?", "chosen": f"{i + 1}.", "rejected": f"{i + 7}."} for i in range(n)]


def cfg(model: Path, train: Path, **training) -> RunConfig:
    return RunConfig.from_dict({"task": "preference", "model": str(model), "method": "lora",
                                "data": {"train": str(train)},
                                "training": {"epochs": 1, "batch_size": 8, "max_length": 64, "max_new_tokens": 8,
                                             "logging_steps": 2, **training}})


# ------------------------------------------------------------------------------------------- data --
def test_strings_conversations_hh_transcripts_and_unpaired_answers_read_the_same(tmp_path):
    strings = prepare(write_jsonl(tmp_path / "a.jsonl", pairs(30)))
    row = strings.splits["train"].iloc[0]
    assert json.loads(row["prompt"])[-1]["role"] == "user" and row["text"].startswith("What is")

    user = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of Peru?"}]
    conv = [{"chosen": [*user, {"role": "assistant", "content": f"Lima{i}."}],
             "rejected": [*user, {"role": "assistant", "content": f"Quito{i}."}]} for i in range(30)]
    got = prepare(write_jsonl(tmp_path / "b.jsonl", conv)).splits["train"].iloc[0]
    assert (json.loads(got["prompt"]) == user and got["chosen"].startswith("Lima")
            and got["rejected"].startswith("Quito"))

    hh = [{"chosen": f"\n\nHuman: Name a fruit {i}.\n\nAssistant: An apple.",
           "rejected": f"\n\nHuman: Name a fruit {i}.\n\nAssistant: I will not."} for i in range(30)]
    got = prepare(write_jsonl(tmp_path / "c.jsonl", hh)).splits["train"].iloc[0]
    assert got["text"].startswith("Name a fruit") and got["chosen"] == "An apple." and got["rejected"] == "I will not."

    kto = [{"prompt": f"Say hi {i}", "completion": "Hi!" if i % 2 else "Go away.", "label": bool(i % 2)}
           for i in range(30)]
    prepared = prepare(write_jsonl(tmp_path / "d.jsonl", kto))
    counts = prepared.report.label_counts
    assert sum(c["pairs"] for c in counts.values()) == 0
    assert sum(c["good only"] for c in counts.values()) == 15 and sum(c["bad only"] for c in counts.values()) == 15
    assert any("KTO learns from them" in w for w in prepared.report.warnings)

    sample = prepare(SAMPLE)
    assert sum(sample.report.rows.values()) == 106 and not sample.report.warnings


@pytest.mark.parametrize("records, says", [
    ([{"prompt": "a", "chosen": "b"}], "there is no 'rejected' field"),
    ([{"question": "a", "answer": "b"}], "found neither chosen and rejected answers"),
    ([{"prompt": "Hi", "chosen": "Hello.", "rejected": " Hello. "}],
     "the same chosen and rejected answer (first: line 1)"),
    ([{"prompt": "Hi", "chosen": "", "rejected": "No."}], "the 'chosen' answer is empty"),
    ([{"prompt": "", "chosen": "Yes.", "rejected": "No."}], "'prompt' is empty"),
    ([{"prompt": "Hi", "completion": "Yo", "label": "maybe"}], "give true for a good answer and false for a bad one"),
    ([{"chosen": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
       "rejected": [{"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]}],
     "differ before their last answer"),
])
def test_bad_records_are_named_in_one_sentence(tmp_path, records, says):
    with pytest.raises(DataError) as e:
        prepare(write_jsonl(tmp_path / "bad.jsonl", records * 3))
    assert says in str(e.value) and "\n" not in str(e.value)


def test_dpo_on_unpaired_answers_is_refused_before_a_run_exists(store, tiny_llama, tmp_path):
    kto = write_jsonl(tmp_path / "kto.jsonl", [{"prompt": f"Q{i}", "completion": f"A{i}", "label": i % 2 == 0}
                                               for i in range(30)])
    with pytest.raises(DataError, match="DPO learns from pairs.*preference_loss to kto"):
        store.create(cfg(tiny_llama, kto), start=False)
    assert store.list() == []
    with pytest.raises(ConfigError, match="preference_loss"):
        cfg(tiny_llama, kto, preference_loss="ppo").validate()


def test_the_memory_estimate_counts_both_answers_of_a_pair(tiny_llama, tmp_path):
    data = write_jsonl(tmp_path / "p.jsonl", pairs(30))
    p = memory.estimate(cfg(tiny_llama, data)).parts["activations"]
    sft = RunConfig.from_dict({**cfg(tiny_llama, data).to_dict(), "task": "sft", "task_args": {}})
    assert p == 2 * memory.estimate(sft).parts["activations"] > 0


# ------------------------------------------------------------------------------------------- runs --
@pytest.fixture(scope="module")
def dpo_run(tmp_path_factory, tiny_llama):
    from studio.runs.store import Store

    store = Store(tmp_path_factory.mktemp("runs"))
    run_id = train_to_completion(store, cfg(tiny_llama, SAMPLE, epochs=3, learning_rate=0.01))
    return store, store.run_dir(run_id)


def test_a_dpo_run_logs_rewards_and_its_test_report_shows_the_base_beside_it(dpo_run):
    _, rd = dpo_run
    evals = [r for r in runfolder.read_metrics(rd) if r["kind"] == "eval"]
    assert len(evals) == 3
    assert all({"eval_loss", "eval_reward_accuracy", "eval_reward_margin", "eval_reward_chosen",
                "eval_reward_rejected"} <= set(r) for r in evals)
    report = json.loads((RunFolder(rd).report).read_text())
    tuned, base = report["metrics"], report["base"]["metrics"]
    assert set(tuned) == set(base) == {"preference_accuracy", "logp_margin"}
    assert all(0 <= m["preference_accuracy"] <= 1 and math.isfinite(m["logp_margin"]) for m in (tuned, base))
    # On the pairs it trains on, DPO rewards the chosen answers above the rejected ones and its loss falls below
    # ln 2 (where it starts). Whether a random tiny model carries that to held-out pairs is noise (11 of them: it
    # flipped with unrelated changes), so the held-out effect is measured on real data instead (bench/RESULTS.md,
    # "Preference tuning": accuracy 0.62 -> 0.98 on 90 held-out Banking77 pairs).
    steps = [r for r in runfolder.read_metrics(rd) if r["kind"] == "train" and "reward_chosen" in r]
    later = steps[len(steps) // 2:]
    assert later and np.mean([r["reward_chosen"] - r["reward_rejected"] for r in later]) > 0
    assert np.mean([r["loss"] for r in later]) < math.log(2)
    rows = read_jsonl(RunFolder(rd).predictions)
    assert rows and {"text", "chosen", "rejected", "output", "chosen_logp", "rejected_logp", "correct"} <= set(rows[0])


def test_the_playground_chats_with_a_preference_run_and_its_base(dpo_run):
    _, rd = dpo_run
    chat = [{"role": "user", "content": "What is the capital of Peru?"}]
    tuned = list(inference.stream(rd, chat, max_new_tokens=6))
    base = list(inference.stream(rd, chat, base=True, max_new_tokens=6))
    assert tuned and base and isinstance(tuned[-1], str)


def test_the_reproduce_script_retrains_a_dpo_run_to_its_scores(dpo_run, tmp_path):
    _, rd = dpo_run
    got, want, _ = run_reproduce_script(rd, tmp_path)
    assert set(got) == {"preference_accuracy", "logp_margin"}
    assert got["logp_margin"] == pytest.approx(want["logp_margin"], abs=2e-3), (got, want)


@pytest.mark.parametrize("loss", ["orpo", "kto"])
def test_orpo_and_kto_runs_complete_with_their_own_metrics(store, tiny_llama, tmp_path, loss):
    data = write_jsonl(tmp_path / "p.jsonl", pairs(24))
    rd = store.run_dir(train_to_completion(store, cfg(tiny_llama, data, preference_loss=loss, score_base=False)))
    evals = [r for r in runfolder.read_metrics(rd) if r["kind"] == "eval"]
    assert evals and {"eval_reward_margin", "eval_reward_chosen", "eval_reward_rejected"} <= set(evals[-1])
    if loss == "orpo":  # ORPO also learns the chosen answers: its loss carries their likelihood
        assert "eval_nll_loss" in evals[-1] and "eval_reward_accuracy" in evals[-1]
    assert json.loads((RunFolder(rd).report).read_text())["metrics"]["preference_accuracy"] >= 0


def test_preference_scores_pairs_and_unpaired_rows():
    nan = float("nan")
    assert pref_report.preference_scores([-1.0, -2.0], [-3.0, -1.0]) == {"preference_accuracy": 0.5, "logp_margin": 0.5}
    # Unpaired: every good answer against every bad one.
    got = pref_report.preference_scores([-1.0, -4.0, nan], [nan, nan, -2.0])
    assert got["preference_accuracy"] == 0.5 and got["logp_margin"] == pytest.approx(-0.5)


def test_merged_and_adapter_exports_score_like_the_run(dpo_run, tmp_path):
    card = chat_exports_match_the_run(dpo_run[1], tmp_path, "What is the capital of Peru?")
    assert "preference-tuned language model" in card and "Preference accuracy" in card


def test_the_example_config_and_sample_pass_the_checks():
    cfg = RunConfig.load(ROOT / "examples" / "smollm2-dpo-lora.yaml")
    assert ((cfg.task, cfg.method, cfg.task_args.preference_loss, cfg.selection_metric())
            == ("preference", "lora", "dpo", "loss"))
    assert TASK.prepare_data(cfg.data).report.rows == {"train": 84, "validation": 11, "test": 11}


def test_prompts_longer_than_max_length_are_left_out_and_all_of_them_is_one_clear_error(tiny_llama, tmp_path):
    tok = TASK.load_tokenizer(tiny_llama)
    long = [{"prompt": "word " * 200 + str(i), "chosen": "yes", "rejected": "no"} for i in range(3)]
    frame = prepare(write_jsonl(tmp_path / "p.jsonl", pairs(27) + long)).splits
    cfg = RunConfig.from_dict({"task": "preference", "data": {"train": "x"}, "training": {"max_length": 64}})
    kept = pref_tokens.with_room_for_answers(pd.concat(frame.values()), "train", tok, 64)
    assert len(kept) == 27 and not kept["text"].str.startswith("word").any()  # the three long prompts left out
    only_long = {k: v[v["text"].str.startswith("word")] for k, v in frame.items()}
    with pytest.raises(DataError, match="prompt is at least max_length=64 tokens long"):
        TASK.tokenize({"train": pd.concat(only_long.values())}, tok, [], cfg)


def test_the_data_check_counts_the_records_whose_prompt_fills_max_length(tiny_llama):
    tok = chat.load_tokenizer(tiny_llama)
    frame = TASK.prepare_data(DataConfig(train=str(SAMPLE))).splits["train"]
    prompts = TASK.length_series(frame, tok)["prompt"]
    cut = sorted(prompts)[len(prompts) // 2]  # about half the prompts fill it
    full = sum(n >= cut for n in prompts)
    warnings = TASK.prepare_data(DataConfig(train=str(SAMPLE)), tokenizer=tok, max_length=cut).report.warnings
    [said] = [w for w in warnings if "have prompts of max_length" in w]
    assert said.startswith(f"{full} of {len(prompts)} training records") and "leaves them out" in said
    assert not [w for w in TASK.prepare_data(DataConfig(train=str(SAMPLE)), tokenizer=tok,
                                             max_length=max(prompts) + 1).report.warnings if "prompts of" in w]
