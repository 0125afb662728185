"""Judges from outside the task (studio.judge): a finished classifier run scores an RL run's replies with its
probability of a label, and a Python file of the person's reward scores them where the operator allows code; both
are checked before a run exists (whose run, which label, code allowed, the function there), recorded in the run,
logged and reported as every reward is; a reward that raises fails the run with a sentence naming it."""

from __future__ import annotations

import json

import pytest

from studio.base import runfolder
from studio.base.access import Person
from studio.base.errors import ConfigError
from studio.base.runfolder import RunFolder
from studio.config import RunConfig
from studio.data.uploads import uploads_dir
from studio.runs.store import Store
from tests.support import kill_active, separable_rows, tiny_config, train_to_completion, write_csv, write_jsonl

REWARD_FILE = '''
def reward(prompts, completions, **columns):
    """Short replies score high."""
    return [1.0 / (1 + len(c[0]["content"].split())) for c in completions]


def broken(prompts, completions, **columns):
    return [1 / 0 for _ in completions]
'''


@pytest.fixture(scope="module")
def allowed():
    """The operator's flag, set before any worker starts (workers inherit the environment)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STUDIO_ALLOW_REWARD_CODE", "1")
        mp.delenv("STUDIO_POLICY", raising=False)
        yield mp


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_bert, tiny_llama, allowed):
    root = tmp_path_factory.mktemp("judge")
    store = Store(root / "runs")
    tone = write_csv(root / "tone.csv", separable_rows(12, ("billing", "technical"), seed=3))
    judge = train_to_completion(store, RunConfig.from_dict(tiny_config(tiny_bert, tone, "full", epochs=3)))
    prompts = write_jsonl(root / "prompts.jsonl", [{"prompt": f"Say something kind about day {i}."} for i in range(24)])
    code = root / "rewards.py"
    code.write_text(REWARD_FILE)
    return {"store": store, "judge": judge, "prompts": prompts, "code": code, "model": tiny_llama, "root": root}


def rl_config(s, prompts=None, **task_args) -> RunConfig:
    return RunConfig.from_dict({"task": "rl", "model": str(s["model"]), "method": "lora",
                                "data": {"train": str(prompts or s["prompts"])},
                                "task_args": {"num_generations": 2, "max_new_tokens": 6, "sample_prompts": 0,
                                              **task_args},
                                "training": {"epochs": 1, "batch_size": 4, "max_length": 64, "logging_steps": 1}})


def test_a_classifier_run_and_a_reward_file_score_the_replies_logged_and_reported_as_every_reward(setup):
    s = setup
    cfg = rl_config(s, rewards="classifier,code,length", reward_weights="1,0.5,0.1", length_target=3,
                    classifier_run=s["judge"], classifier_label="billing", reward_code=str(s["code"]))
    rd = s["store"].run_dir(train_to_completion(s["store"], cfg))
    kept = json.loads(RunFolder(rd).judge.read_text())
    assert kept["classifier"]["run"] == s["judge"] and kept["classifier"]["label"] == "billing"
    assert kept["code"]["source"] == REWARD_FILE and kept["code"]["function"] == "reward"  # the run keeps its code
    records = runfolder.read_metrics(rd)
    steps = [r for r in records if r["kind"] == "train"]
    assert steps and all(0 <= r["reward_classifier"] <= 1 and 0 < r["reward_code"] <= 1 for r in steps), steps[:1]
    for r in steps:
        assert r["reward"] == pytest.approx(r["reward_classifier"] + 0.5 * r["reward_code"]
                                            + 0.1 * r["reward_length"], abs=1e-5)
    replies = [r for r in records if r["kind"] == "completions"][-1]["completions"]
    assert set(replies[0]["scores"]) == {"classifier", "code", "length"}
    report = json.loads(RunFolder(rd).report.read_text())
    assert report["judge"]["run"] == s["judge"] and report["reward_code"]["function"] == "reward"
    for metrics in (report["metrics"], report["base"]["metrics"]):
        assert 0 <= metrics["reward_classifier"] <= 1 and 0 < metrics["reward_code"] <= 1
    # A script outside the studio cannot load the judges: said, not a script that fails at its first step.
    from studio import export
    from studio.base.errors import ReproduceError

    with pytest.raises(ReproduceError, match=f"classifier run {s['judge']} and a reward file of its person's"):
        export.build_zip(rd, "reproduce", s["root"] / "export")


def test_the_classifier_reward_is_the_judges_probability_of_the_label_it_names(setup):
    from studio.judge.judge import classifier_record, classifier_scorer
    from studio.tasks.rl.rewards import classifier_reward_for
    from tests.support import WORDS

    s = setup
    texts = [" ".join(WORDS["billing"][:4]), " ".join(WORDS["technical"][:4])]
    replies = [[{"role": "assistant", "content": t}] for t in texts]
    for label, high in (("billing", 0), ("technical", 1)):
        score = classifier_scorer(classifier_record(s["store"].run_dir, s["judge"], label), "cpu")
        got = classifier_reward_for(score)(completions=replies)
        assert got[high] > 0.5 > got[1 - high], (label, got)
        assert sum(classifier_reward_for(score)(completions=replies[:1])) == pytest.approx(got[0], abs=1e-4)


def test_a_reward_that_raises_fails_the_run_with_a_sentence_naming_it(setup):
    s = setup
    store = s["store"]
    run_id = store.create(rl_config(s, rewards="code", reward_code=str(s["code"]), reward_code_function="broken"))
    try:
        st = store.wait(run_id, timeout=300)
    finally:
        kill_active(store)
    assert st["status"] == "failed"
    assert "rewards.py:broken raised ZeroDivisionError: division by zero" in st["reason"], st


@pytest.mark.parametrize("task_args, says", [
    ({"rewards": "classifier"}, "classifier reward needs a finished text-classification run"),
    ({"rewards": "classifier", "classifier_run": "20990101-000000-abcdef", "classifier_label": "billing"},
     "task_args.classifier_run: there is no run 20990101-000000-abcdef in this runs folder"),
    ({"rewards": "classifier", "classifier_label": "kind"},
     "has no label 'kind'; its labels are 'billing', 'technical'"),
    ({"rewards": "code", "reward_code": "{root}/rewards.py", "reward_code_function": "score"},
     "defines no top-level function 'score' (it defines reward, broken)"),
    ({"rewards": "code", "reward_code": "{root}/tone.csv"}, "tone.csv is not a Python file"),
    ({"rewards": "code", "reward_code": "{root}/missing.py"}, "missing.py cannot be read"),
])
def test_judges_that_cannot_score_are_named_in_one_sentence_before_a_run_exists(setup, task_args, says):
    s = setup
    task_args = {k: v.format(root=s["root"]) for k, v in task_args.items()}
    if task_args["rewards"] == "classifier" and "classifier_run" not in task_args and "classifier_label" in task_args:
        task_args["classifier_run"] = s["judge"]
    before = len(s["store"].list())
    with pytest.raises(ConfigError, match=says.replace("(", r"\(").replace(")", r"\)")):
        s["store"].create(rl_config(s, **task_args))
    assert len(s["store"].list()) == before


@pytest.mark.parametrize("env", [{"STUDIO_ALLOW_REWARD_CODE": "0"},
                                 {"STUDIO_ALLOW_REWARD_CODE": "1", "STUDIO_POLICY": "public"}])
def test_reward_code_is_refused_unless_the_operator_allows_it_and_always_under_the_public_policy(setup, monkeypatch,
                                                                                                 env):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    before = len(setup["store"].list())
    with pytest.raises(ConfigError, match="has not allowed"):
        setup["store"].create(rl_config(setup, rewards="code", reward_code=str(setup["code"])))
    assert len(setup["store"].list()) == before  # nothing left behind


def test_another_persons_classifier_run_cannot_judge(setup):
    s = setup
    bob = Person("bob")
    folder = uploads_dir(s["store"].root, bob)
    folder.mkdir(parents=True, exist_ok=True)
    prompts = write_jsonl(folder / "prompts.jsonl", [{"prompt": f"Hello {i}"} for i in range(24)])
    with pytest.raises(ConfigError, match=f"task_args.classifier_run: .*{s['judge']}") as refused:
        s["store"].as_person(bob).create(rl_config(s, prompts, rewards="classifier", classifier_run=s["judge"],
                                                   classifier_label="billing"))
    assert "there is no run" not in str(refused.value)  # refused as another person's, not as missing
