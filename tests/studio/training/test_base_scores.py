"""studio.training.base_scores: every report says whether fine-tuning helped, beside the untrained base on the same \
test rows."""

from __future__ import annotations

import json

import pytest

from studio import cli, export
from studio.base import runfolder
from studio.base.runfolder import RunFolder
from studio.config import RunConfig
from studio.runs.store import Store
from tests.support import tiny_config, train_to_completion


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, tiny_bert, separable_csv):
    """The same data twice (the second run finds the base's scores in the cache), and once with score_base off.

    A cache of their own: other tests train the same tiny model on the same data, and would fill the shared one."""
    import os

    root = tmp_path_factory.mktemp("baseline")
    store = Store(root / "runs")
    cfg = tiny_config(tiny_bert, separable_csv, "lora", epochs=2)
    shared = os.environ["STUDIO_CACHE"]
    os.environ["STUDIO_CACHE"] = str(root / "cache")  # workers inherit it
    try:
        first = train_to_completion(store, RunConfig.from_dict(cfg))
        second = train_to_completion(store, RunConfig.from_dict(cfg))
        off = train_to_completion(store,
                                  RunConfig.from_dict({**cfg, "training": {**cfg["training"], "score_base": False}}))
    finally:
        os.environ["STUDIO_CACHE"] = shared
    return store, first, second, off


def report(store, run_id) -> dict:
    return json.loads((RunFolder(store.run_dir(run_id)).report).read_text())


def test_a_classifiers_report_has_its_prototype_base_beside_it(two_runs):
    store, first, *_ = two_runs
    rep = report(store, first)
    base = rep["base"]
    assert set(base["metrics"]) == set(rep["metrics"]) == {"accuracy", "f1", "precision", "recall"}
    assert "prototype head" in base["what"] and base["what_zh"]
    assert base["cached"] is False and base["n"] == rep["n"]
    assert json.loads((store.run_dir(first) / "base_report.json").read_text())["metrics"] == base["metrics"]
    test_line = [r for r in runfolder.read_metrics(store.run_dir(first)) if r["kind"] == "test"][0]
    assert test_line["base_test_accuracy"] == base["metrics"]["accuracy"]


def test_the_second_run_on_the_same_data_takes_the_base_from_the_cache(two_runs):
    store, first, second, _ = two_runs
    a, b = report(store, first)["base"], report(store, second)["base"]
    assert b["cached"] is True and b["metrics"] == a["metrics"]
    assert "base (cached)" in (RunFolder(store.run_dir(second)).log).read_text()


def test_scoring_the_base_changes_nothing_in_training(two_runs):
    """The base is scored before the first step without drawing from training's random numbers."""
    store, first, _, off = two_runs
    losses = lambda rid: [r["loss"] for r in runfolder.read_metrics(store.run_dir(rid)) if r["kind"] == "train"]  # noqa: E731
    assert losses(first) == losses(off)
    assert report(store, first)["metrics"] == report(store, off)["metrics"]
    assert "base" not in report(store, off) and not (store.run_dir(off) / "base_report.json").exists()


def test_the_cli_and_the_model_card_show_base_and_tuned(two_runs, capsys):
    store, first, *_ = two_runs
    assert cli.main(["--runs-dir", str(store.root), "show", first]) == 0
    out = capsys.readouterr().out
    assert "(base " in out and "prototype head" in out
    card = export.model_card(store.run_dir(first), "adapter")
    assert "| metric | fine-tuned | base (untrained) |" in card and "prototype head" in card


def test_a_token_classifier_has_no_meaningful_base_and_says_nothing_of_one():
    from studio.tasks import get_task
    from studio.training.base_scores import UntrainedBase

    assert get_task("token-classification").capability(UntrainedBase) is None
    classifier = get_task("text-classification").capability(UntrainedBase)
    random_head = RunConfig.from_dict({"data": {"train": "x.csv"}, "task_args": {"head_init": "random"}})
    prototype = RunConfig.from_dict({"data": {"train": "x.csv"}})
    assert classifier.base_note(random_head) is None and "prototype head" in classifier.base_note(prototype)
