"""Reinforcement learning with rewards (task `rl`): prompts read in their shapes, each reward scores right and
wrong replies apart, bad settings and bad records are named in one sentence before a run exists, and a GRPO run
through trl completes on a tiny random Llama with its rewards in metrics.jsonl and a test report that puts the
held-out rewards beside the base's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.base import runfolder
from studio.base.errors import ConfigError
from studio.base.runfolder import RunFolder
from studio.config import DataConfig, RunConfig
from studio.data import DataError
from studio.tasks import get_task
from studio.tasks.rl import rewards
from studio.tasks.rl.training import eval_batch, rename_metrics, steps_per_generation
from tests.support import read_jsonl, train_to_completion, write_jsonl

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "assets" / "samples" / "rl_sample.jsonl"
TASK = get_task("rl")


def prepare(path: Path, **data):
    return TASK.prepare_data(DataConfig(train=str(path), **data))


def problems(n: int) -> list[dict]:
    return [{"prompt": f"What is {i} plus {i}? End with 'Answer: <number>'.", "answer": str(2 * i)} for i in range(n)]


def cfg(model: Path, train: Path, task_args: dict | None = None, **training) -> RunConfig:
    return RunConfig.from_dict({"task": "rl", "model": str(model), "method": "lora", "data": {"train": str(train)},
                                "task_args": {"num_generations": 2, "max_new_tokens": 8, **(task_args or {})},
                                "training": {"epochs": 1, "batch_size": 4, "max_length": 64, "logging_steps": 1,
                                             **training}})


def replies(*texts: str) -> list[list[dict]]:
    """trl's conversational completions."""
    return [[{"role": "assistant", "content": t}] for t in texts]


# ---------------------------------------------------------------------------------------- rewards --
def test_the_answer_reward_finds_the_final_answer_and_compares_it_as_a_number_or_text():
    got = rewards.answer_reward(
        replies("7 boxes of 6 is 42.\nAnswer: 42", "First 40, then 2 more: 41", "Answer: 1,000.",
                "So the answer is \\boxed{\\frac{1}{2}}", "<answer>Paris</answer>", "I think it is 12",
                "Answer: 12", "no idea"),
        reference=["42", "42", "1000", "0.5", "paris", "#### 12", "", "7"])
    assert got == [1.0, 0.0, 1.0, 1.0, 1.0, 1.0, None, 0.0]
    assert rewards.answer_reward(["Answer: 3"], reference=["3.0"]) == [1.0]  # plain-text completions too
    # The shapes replies state answers in, and look-alikes that are not the answer.
    cases = [("**Answer:** 42", "42", 1.0), ("The final answer is: 42", "42", 1.0), ("Answer: 12 apples.", "12", 1.0),
             ("\\boxed{\\frac{1}{2}}", "0.5", 1.0), ("Answer: 1 1/2", "11/2", 0.0), ("Answer: 12, 13", "1213", 0.0),
             ("Answer: .5", "5", 0.0), ("Answer: -3.5", "-3.50", 1.0), ("It is 7. Answer: 8", "7", 0.0),
             ("To answer this: 3 + 4 = 7", "7", 1.0)]
    got = rewards.answer_reward([c for c, _, _ in cases], reference=[r for _, r, _ in cases])
    assert got == [want for _, _, want in cases], list(zip(cases, got))


def test_the_format_length_and_json_rewards_score_right_and_wrong_replies_apart():
    fmt = rewards.format_reward_for(rewards.DEFAULT_FORMAT)
    assert fmt(replies("Six times seven.\nAnswer: 42", "The answer is 42", "answer:   7")) == [1.0, 0.0, 1.0]
    assert rewards.format_reward_for(r"^<think>.*</think>")(replies("<think>x</think> 4", "4")) == [1.0, 0.0]
    length = rewards.length_reward_for(4)
    assert length(replies("one two three four", "one", "", "a b c d e f g h")) == [1.0, 0.25, 0.0, 0.0]
    plain = rewards.json_reward_for("")
    assert plain(replies('{"a": 1}', 'Here:\n```json\n[1, 2]\n```', "{'a': 1}", "", "0")) == [1.0, 1.0, 0.0, 0.0, 0.0]
    schema = rewards.json_reward_for(json.dumps({"type": "object", "required": ["name"]}))
    assert schema(replies('{"name": "x"}', '{"age": 3}', "nope")) == [1.0, 0.5, 0.0]


def test_reward_functions_are_named_for_their_reward_and_weighted_in_order():
    own = TASK.settings(rewards="format, answer", reward_weights="0.5, 2")
    assert [f.__name__ for f in rewards.reward_functions(own)] == ["format", "answer"]
    assert rewards.reward_weights(["format", "answer"], own.reward_weights) == [0.5, 2.0]
    assert rewards.reward_weights(["format"], "") == [1.0]


@pytest.mark.parametrize("task_args, says", [
    ({"rewards": "answer,politeness"},
     "unknown reward(s) 'politeness'; the rewards are answer, format, length, classifier, code, json"),
    ({"rewards": ""}, "name at least one reward"),
    ({"rewards": "format,format"}, "each reward once"),
    ({"rewards": "answer,format", "reward_weights": "1"}, "1 weight(s) for 2 reward(s)"),
    ({"rewards": "format", "reward_weights": "high"}, "is not a list of numbers"),
    ({"rewards": "format", "format_pattern": "(unclosed"}, "is not a regular expression"),
    ({"rewards": "json", "json_schema": "{not json"}, "task_args.json_schema: not JSON"),
    ({"rewards": "json", "json_schema": '{"type": "foo"}'}, "task_args.json_schema: not a JSON Schema"),
])
def test_bad_reward_settings_are_named_in_one_sentence_before_a_run_exists(store, tiny_llama, tmp_path, task_args,
                                                                            says):
    data = write_jsonl(tmp_path / "p.jsonl", problems(30))
    with pytest.raises(ConfigError) as e:
        store.create(cfg(tiny_llama, data, task_args), start=False)
    assert says in str(e.value) and "\n" not in str(e.value)
    assert store.list() == []


def test_the_answer_reward_without_references_and_vllm_where_it_is_missing_are_refused(store, tiny_llama, tmp_path):
    bare = write_jsonl(tmp_path / "bare.jsonl", [{"prompt": f"Tell me a joke about {i}."} for i in range(30)])
    with pytest.raises(ConfigError, match="The answer reward compares replies with reference answers, and bare.jsonl "
                                          "has none"):
        store.create(cfg(tiny_llama, bare), start=False)
    data = write_jsonl(tmp_path / "p.jsonl", problems(30))
    with pytest.raises(ConfigError, match="vLLM is not installed here"):
        store.create(cfg(tiny_llama, data, {"vllm_generation": True}), start=False)
    # Validation prompts without references, where every reward needs one: nothing could pick the best checkpoint.
    val = write_jsonl(tmp_path / "val.jsonl", [{"prompt": f"Say {i}."} for i in range(10)])
    with pytest.raises(ConfigError, match="No validation prompt has a reference answer"):
        store.create(RunConfig.from_dict({**cfg(tiny_llama, data, {"rewards": "answer"}).to_dict(),
                                          "data": {"train": str(data), "validation": str(val)}}), start=False)
    assert store.list() == []


# ------------------------------------------------------------------------------------------- data --
def test_prompts_as_text_as_chat_and_as_an_answered_chat_read_the_same(tmp_path):
    sample = prepare(SAMPLE)
    assert sum(sample.report.rows.values()) == 320 and not sample.report.warnings
    system = [{"role": "system", "content": "Be brief."}]
    chats = [{"messages": [*system, {"role": "user", "content": f"Double {i}?"},
                           {"role": "assistant", "content": str(2 * i)}]} for i in range(30)]
    row = prepare(write_jsonl(tmp_path / "chat.jsonl", chats)).splits["train"].iloc[0]
    assert json.loads(row["prompt"])[-1]["role"] == "user" and row["reference"] == str(2 * int(row["text"][7:-1]))
    (tmp_path / "q.csv").write_text("question,solution\n" + "".join(f"Half of {2 * i}?,{i}\n" for i in range(30)))
    csv = prepare(tmp_path / "q.csv")
    assert csv.report.text_column == "question" and csv.report.label_column == "solution"
    open_ended = prepare(write_jsonl(tmp_path / "open.jsonl", [{"prompt": f"Write about {i}."} for i in range(30)]))
    assert any("30 prompts have no reference answer" in str(w) for w in open_ended.report.warnings)


@pytest.mark.parametrize("records, says", [
    ([{"text_only": "a"}], "found no prompt among the fields ['text_only']"),
    ([{"prompt": "  ", "answer": "1"}], "'prompt' is empty"),
    ([{"prompt": "Hi", "answer": {"value": 1}}], "'answer' holds a dict, not an answer"),
    ([{"prompt": [{"role": "bot", "content": "x"}]}], "unknown roles ('bot')"),
])
def test_bad_records_are_named_in_one_sentence(tmp_path, records, says):
    with pytest.raises(DataError) as e:
        prepare(write_jsonl(tmp_path / "bad.jsonl", records * 3))
    assert says in str(e.value) and "\n" not in str(e.value)


def test_trls_names_become_the_studios_and_evaluation_batches_hold_whole_groups():
    logs = {"reward": 0.5, "rewards/answer/mean": 0.25, "rewards/answer/std": 0.1, "completions/mean_length": 9.0,
            "eval_rewards/format/mean": 1.0, "completions/max_length": 12, "kl": 0.0}
    assert rename_metrics(logs) == {"reward": 0.5, "reward_answer": 0.25, "reward_answer_std": 0.1,
                                    "completion_length": 9.0, "eval_reward_format": 1.0, "kl": 0.0}
    assert [eval_batch(b, g) for b, g in ((16, 4), (6, 4), (2, 4), (8, 8))] == [16, 4, 4, 8]
    # (batch, accumulation, replies per prompt) -> micro-steps per generation round: whole groups every round
    cases = ((8, 1, 4), (2, 1, 4), (6, 1, 4), (2, 2, 8), (4, 3, 3))
    assert [steps_per_generation(*a) for a in cases] == [1, 2, 2, 4, 3]


def test_the_latest_generation_becomes_the_newest_replies_first_with_each_rewards_score():
    from studio.tasks.rl.training import recent_completions

    logs = {"prompt": [[{"role": "user", "content": f"q{i}"}] for i in range(4)],
            "completion": replies("a0", "a1", "a2", "a3"),
            "rewards": {"answer": [1.0, 0.0, float("nan"), 1.0], "format": [1.0, 1.0, 0.0, 0.0]},
            "advantages": [0.5, -0.5, -1.0, 1.0]}
    rows = recent_completions(logs, ["answer", "format"], [1.0, 0.5], most=3)
    assert [r["completion"] for r in rows] == ["a3", "a2", "a1"] and rows[0]["prompt"] == "q3"
    assert rows[0]["scores"] == {"answer": 1.0, "format": 0.0} and rows[0]["reward"] == 1.0
    assert rows[1]["scores"] == {"format": 0.0} and rows[1]["advantage"] == -1.0  # not scored: left out


def test_a_code_reward_must_give_one_number_or_none_per_reply():
    def good(prompts, completions, **_):
        return [None, 0.5]

    assert rewards.code_reward_for(good)(prompts=["p", "p"], completions=replies("a", "b")) == [None, 0.5]
    with pytest.raises(ConfigError, match="returned 1 scores for 2 replies"):
        rewards.code_reward_for(lambda **_: [1])(prompts=["p", "p"], completions=replies("a", "b"))
    with pytest.raises(ConfigError, match="one number \\(or None\\) per reply"):
        rewards.code_reward_for(lambda **_: ["high", "low"])(prompts=["p", "p"], completions=replies("a", "b"))
    with pytest.raises(ConfigError, match="only in a run the studio starts"):
        rewards.code_reward_for(None)(prompts=["p"], completions=replies("a"))


# ------------------------------------------------------------------------------------------- runs --
@pytest.fixture(scope="module")
def grpo_run(tmp_path_factory, tiny_llama):
    from studio.runs.store import Store

    store = Store(tmp_path_factory.mktemp("runs"))
    data = write_jsonl(tmp_path_factory.mktemp("data") / "problems.jsonl", problems(48))
    run_id = train_to_completion(store, cfg(tiny_llama, data, {"rewards": "answer,format,length",
                                                               "reward_weights": "1,0.5,0.2", "length_target": 4}))
    return store, store.run_dir(run_id)


def test_a_grpo_run_logs_each_reward_while_it_trains_and_reports_them_beside_the_base(grpo_run):
    _, rd = grpo_run
    records = runfolder.read_metrics(rd)
    steps = [r for r in records if r["kind"] == "train"]
    assert steps and all({"loss", "reward", "reward_answer", "reward_format", "reward_length", "completion_length",
                          "clipped_ratio"} <= set(r) for r in steps), steps[:1]
    # trl added the rewards with the run's weights (every prompt has a reference: each total is the weighted sum).
    for r in steps:
        assert r["reward"] == pytest.approx(r["reward_answer"] + 0.5 * r["reward_format"] + 0.2 * r["reward_length"],
                                            abs=1e-5), r
    evals = [r for r in records if r["kind"] == "eval"]
    assert evals and {"eval_reward", "eval_reward_answer", "eval_reward_format"} <= set(evals[-1])
    report = json.loads(RunFolder(rd).report.read_text())
    assert report["rewards"] == ["answer", "format", "length"] and report["weights"] == [1.0, 0.5, 0.2]
    for metrics in (report["metrics"], report["base"]["metrics"]):
        assert {"reward", "reward_answer", "reward_format", "reward_length", "answer_accuracy"} <= set(metrics)
        assert 0 <= metrics["answer_accuracy"] <= 1 and metrics["reward"] <= 1 + 0.5 + 0.2
    rows = read_jsonl(RunFolder(rd).predictions)
    assert rows and {"text", "reference", "output", "reward", "scores", "correct"} <= set(rows[0])
    assert rows[0]["scores"].startswith("answer=")
    # Each held-out prompt's base reply (adapters off) beside the tuned one, and the biggest wins and losses.
    assert all(r["base_output"] is not None and r["gain"] == pytest.approx(r["reward"] - r["base_reward"])
               for r in rows)
    wl = report["wins_losses"]
    gains = [r["gain"] for r in rows]
    assert wl["same"] == gains.count(0) and len(wl["wins"]) == min(5, sum(g > 0 for g in gains))
    assert len(wl["losses"]) == min(5, sum(g < 0 for g in gains))
    assert all(w["reward"] > w["base_reward"] for w in wl["wins"])
    assert all(x["reward"] < x["base_reward"] for x in wl["losses"])


def test_the_biggest_wins_and_losses_come_first_and_read_in_the_runs_tab():
    from components.tabs.runs_tab import wins_losses_table
    from studio.tasks.rl.report import wins_and_losses

    rows = [{"text": f"q{i}", "reference": "1", "base_output": f"b{i}", "output": f"t{i}", "base_reward": 0.5,
             "reward": 0.5 + g, "gain": g} for i, g in enumerate([0.2, -0.5, 0.0, 0.5, -0.1, 0.0])]
    wl = wins_and_losses(rows, most=2)
    assert [r["text"] for r in wl["wins"]] == ["q3", "q0"] and [r["text"] for r in wl["losses"]] == ["q1", "q4"]
    assert wl["same"] == 2
    table = wins_losses_table(wl)
    assert "Biggest wins and losses against the base** (2 prompts scored the same)" in table
    assert "| win | q3 | b3 | 0.50 | t3 | 1.00 |" in table and "| loss | q1 | b1 | 0.50 | t1 | 0.00 |" in table


def test_the_train_tab_gets_the_latest_replies_with_their_rewards_and_the_sample_prompts_first_and_latest(grpo_run):
    from studio.views import run_views

    _, rd = grpo_run
    records = runfolder.read_metrics(rd)
    logged = [r for r in records if r["kind"] == "completions"]
    assert logged and all(0 < len(r["completions"]) <= 8 for r in logged)
    reply = logged[-1]["completions"][0]
    assert set(reply["scores"]) == {"answer", "format", "length"} and "plus" in reply["prompt"]
    assert reply["reward"] == pytest.approx(reply["scores"]["answer"] + 0.5 * reply["scores"]["format"]
                                            + 0.2 * reply["scores"]["length"])
    table = run_views.recent_completions(records)
    assert table[0]["step"] == logged[-1]["step"] >= table[-1]["step"]  # newest first
    assert {"step", "prompt", "reply", "reward", "answer", "format", "length"} == set(table[0])
    samples = [r for r in records if r["kind"] == "samples"]
    assert samples[0]["step"] == 0 and len(samples) >= 2 and len(samples[0]["samples"]) == 3
    shown = run_views.sample_generations(records)
    assert "plus" in shown[0]["prompt"] and "step 0" in shown[0] and shown[0]["reference"]
    line = run_views.latest_step(records, TASK.metrics.steps)
    assert line.startswith("step ") and "reward_answer" in line and "(±" in line and "reply length" in line
    assert "of replies cut at max_new_tokens" in line and "第" in run_views.latest_step(records, TASK.metrics.steps,
                                                                                       zh=True)
    assert run_views.latest_step([r for r in records if r["kind"] != "train"], TASK.metrics.steps) == ""


def test_merged_and_adapter_exports_answer_like_the_run_and_the_reproduce_script_retrains_it(grpo_run, tmp_path):
    from tests.support import chat_exports_match_the_run, run_reproduce_script

    _, rd = grpo_run
    card = chat_exports_match_the_run(rd, tmp_path, "What is 2 plus 2?")
    assert "tuned with rewards (GRPO)" in card
    # Sampled replies differ between two trainings: the script's report has the run's measures, each in range.
    got, want, _ = run_reproduce_script(rd, tmp_path / "reproduce")
    assert set(got) == set(want) >= {"reward", "reward_answer", "reward_format", "reward_length", "answer_accuracy"}
    assert all(0 <= got[k] <= 1 for k in ("reward_answer", "reward_format", "reward_length", "answer_accuracy"))


@pytest.mark.parametrize("method", ["prompt", "adalora"])
def test_prompt_learning_and_a_moving_rank_train_with_rewards_too(store, tiny_llama, tmp_path, method):
    """Every method, as for SFT: trl writes the replies through peft's virtual tokens, and AdaLoRA's rank schedule
    counts GRPO's steps."""
    data = write_jsonl(tmp_path / "p.jsonl", problems(24))
    run = cfg(tiny_llama, data, {"sample_prompts": 0}, score_base=False)
    rd = store.run_dir(train_to_completion(store, RunConfig.from_dict({**run.to_dict(), "method": method})))
    assert any("reward_answer" in r for r in runfolder.read_metrics(rd) if r["kind"] == "train")


def test_the_rewards_of_each_training_step_are_drawn_beside_the_validation_ones_and_printed():
    from studio.cli.run_commands import _metric_line
    from studio.views import plots

    records = [{"kind": "train", "step": s, "loss": 0.1, "reward": 0.2 * s, "reward_answer": 0.1 * s} for s in (1, 2)]
    records.append({"kind": "eval", "step": 2, "eval_loss": 0.1, "eval_reward": 0.5, "eval_reward_answer": 0.25})
    fig = plots.eval_figure(records, TASK.metrics.plot, TASK.metrics.labels, steps=TASK.metrics.steps)
    names = {t.name: list(t.y) for t in fig.data}
    assert names == {"validation reward": [0.5], "validation answer reward": [0.25], "reward (training)": [0.2, 0.4],
                     "answer reward (training)": [0.1, 0.2]}
    assert "loss 0.1000 reward 0.400 reward_answer 0.200 lr" in _metric_line({**records[1], "learning_rate": 1e-4})


def test_the_example_config_and_sample_pass_the_checks():
    cfg = RunConfig.load(ROOT / "examples" / "smollm2-grpo-lora.yaml")
    assert (cfg.task, cfg.method, cfg.selection_metric()) == ("rl", "lora", "reward")
    assert rewards.check_rewards(cfg.task_args) == ["answer", "format"]
    assert rewards.reward_weights(["answer", "format"], cfg.task_args.reward_weights) == [1.0, 0.2]
    prepared = TASK.prepare_data(cfg.data)
    assert prepared.report.rows == {"train": 256, "validation": 32, "test": 32}
    TASK.check_run(cfg, prepared)  # the answer reward finds its references
