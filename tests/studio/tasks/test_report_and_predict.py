"""Every task's `test_report` and `predict` on tiny inputs, outside a run: what they return has the shape the
contract says (the Runs tab, the playground, exports and compare read these), not only the parameters it names.

Each task gets an untrained tiny model of its kind (built from a config, offline) and three test rows of its own
bundled sample; nothing trains, so the scores are whatever an untrained model makes of them, and only their shape
is checked: the report's metrics are the task's test metrics, one prediction row per test row (per answered row
where a task answers a first few only) with the columns its PredictionRows names, one answer per input.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from studio.config import RunConfig
from studio.tasks import TASK_MODULES, get_task
from studio.training.parts import build_trainer, training_arguments
from tests.support import ROOT
from tests.tiny_models import make_tiny_bert, make_tiny_llama, make_tiny_t5

TASKS = list(TASK_MODULES)
MAKERS = {"AutoModelForCausalLM": make_tiny_llama, "AutoModelForSeq2SeqLM": make_tiny_t5}  # else an encoder
ROWS = 3


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, studio_cache):
    made: dict[str, Path] = {}

    def of(task) -> Path:
        make = MAKERS.get(task.model.auto_class, make_tiny_bert)
        if make not in made:
            made[make] = make(tmp_path_factory.mktemp("models") / make.__name__)
        return made[make]

    return of


def _setup(name: str, tiny, tmp_path: Path):
    task = get_task(name)
    model_dir = tiny(task)
    sample = ROOT / "assets" / "samples" / task.data.samples[0]
    cfg = RunConfig.from_dict({"task": name, "model": str(model_dir), "method": "full",
                               "data": {"train": str(sample)},
                               "training": {"max_length": 48, "batch_size": 2, "device": "cpu", "epochs": 1}}
                              ).resolved()
    prepared = task.prepare_data(cfg.data)
    test_df = prepared.splits["test"].head(ROWS).reset_index(drop=True)
    tokenizer = task.load_tokenizer(model_dir)
    model = task.load_model(model_dir, prepared.labels, tokenizer)
    return task, cfg, prepared, test_df, tokenizer, model


@pytest.mark.parametrize("name", TASKS)
def test_test_report_returns_the_tasks_metrics_and_one_row_per_answered_test_row(name, tiny, tmp_path):
    from transformers import TrainingArguments

    task, cfg, prepared, test_df, tokenizer, model = _setup(name, tiny, tmp_path)
    labels = prepared.labels
    splits = {"train": test_df, "validation": test_df, "test": test_df}
    ds = task.tokenize(splits, tokenizer, labels, cfg)
    parts = task.trainer_parts(cfg, tokenizer, labels, splits)
    args = training_arguments(parts.args_cls or TrainingArguments, cfg.training, str(tmp_path / "out"),
                              cfg.learning_rate(), cfg.selection_metric(), "fp32", True, "none", "shape",
                              parts.args)
    trainer = build_trainer(parts, model, args, ds, parts.collator or task.collator(tokenizer, model), tokenizer, [])

    report, rows = task.test_report(trainer, ds["test"], test_df, labels, tokenizer, cfg)

    assert isinstance(report, dict) and isinstance(report["metrics"], dict)
    assert set(task.metrics.test) <= set(report["metrics"]), (task.metrics.test, report["metrics"])
    assert all(v is None or isinstance(v, (int, float)) for v in report["metrics"].values())
    assert isinstance(rows, list) and 0 < len(rows) <= len(test_df)
    for row in rows:
        assert isinstance(row, dict) and set(task.predictions.columns) <= set(row), (task.predictions.columns, row)
        if task.predictions.correct:
            assert row[task.predictions.correct] in (True, False, None)
        if task.predictions.confidence:
            value = row[task.predictions.confidence]
            assert isinstance(value, float) and not math.isnan(value)


@pytest.mark.parametrize("name", TASKS)
def test_predict_answers_each_input_with_a_dict(name, tiny, tmp_path):
    task, cfg, prepared, test_df, tokenizer, model = _setup(name, tiny, tmp_path)
    inputs = task.inputs.from_frame(test_df)[:2]

    out = task.predict(model, tokenizer, inputs, max_new_tokens=4)

    assert isinstance(out, list) and len(out) == len(inputs)
    assert all(isinstance(o, dict) and o for o in out)
    assert [sorted(o) for o in out] == [sorted(out[0])] * len(out)  # every answer has the same keys
