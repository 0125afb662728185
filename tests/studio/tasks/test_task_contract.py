"""The task contract (studio.tasks.base.Task): every registered task keeps it.

Each check fails when the property it names breaks: a task that leaves a fact empty or whose functions take
other parameters, a capability that does not keep its feature's Protocol, settings without help, a sample that
does not prepare, a reproduce script that does not compile or names something it never defines, a task name
compared outside studio/tasks/. (The layers and import cycles: tests/test_layers.py.)
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from studio import models
from studio.config import DataConfig
from studio.export.reproduce import script_and_packages
from studio.export.script_source import ScriptSource, ScriptSourceError, free_names
from studio.tasks import TASK_MODULES, all_tasks, get_task
from studio.tasks.base import SCRIPT_PARTS, Task, capability_problems, contract_problems
from studio.views import data_check
from tests.support import ROOT

TASKS = list(TASK_MODULES)


def feature_protocols() -> list[type]:
    """Every capability Protocol (each module that defines one is listed here): a feature's own, or, where two
    features share one, the layer below both (data.OneLabelPerRow: label review and distillation)."""
    from studio.augment.capability import Augmentation
    from studio.data.report import OneLabelPerRow
    from studio.distill.capability import SequenceLevel, SoftLabels
    from studio.judge.capability import JudgedReplies
    from studio.serve.playground import Chat
    from studio.training.base_scores import UntrainedBase
    from studio.training.head_init import PrototypeHead
    from studio.training.memory import GenerationInTraining

    return [Augmentation, SoftLabels, SequenceLevel, Chat, UntrainedBase, PrototypeHead, OneLabelPerRow, JudgedReplies,
            GenerationInTraining]


@pytest.mark.parametrize("name", TASKS)
def test_every_registered_task_keeps_the_contract(name):
    task = get_task(name)
    assert isinstance(task, Task) and task.name == name
    assert contract_problems(task) == []


@pytest.mark.parametrize("name", TASKS)
def test_every_capability_keeps_the_protocol_of_the_feature_that_uses_it(name):
    """Each capability object is some feature's (no stray objects) and has that Protocol's methods and parameters."""
    task = get_task(name)
    problems = []
    for cap in task.capabilities:
        kinds = [p for p in feature_protocols() if isinstance(cap, p)]
        assert kinds, f"{type(cap).__name__} keeps no feature's Protocol"
        problems += [p for kind in kinds for p in capability_problems(task, kind, cap)]
    assert problems == []


@pytest.mark.parametrize("name", TASKS)
def test_every_task_can_be_tried_and_gets_a_model_card(name):
    """Task.playground and Task.card are required: each keeps its feature's Protocol, and the playground names a
    panel the Playground tab has."""
    from components.tabs.playground_tab import PANEL_BUILDERS
    from studio.export.card import ModelCard
    from studio.serve.playground import Playground

    task = get_task(name)
    assert isinstance(task.playground, Playground) and isinstance(task.card, ModelCard)
    assert capability_problems(task, Playground, task.playground) == []
    assert capability_problems(task, ModelCard, task.card) == []
    assert task.playground.panel in PANEL_BUILDERS


def test_the_contract_check_names_what_a_task_gets_wrong():
    import dataclasses

    from studio.serve.playground import Playground

    good = get_task(TASKS[0])
    bad_texts = dataclasses.replace(good.texts, data_hint="")
    bad = dataclasses.replace(good, texts=bad_texts, test_report=lambda trainer, test_ds: None, check_run=None,
                              card=None)
    problems = " | ".join(contract_problems(bad))
    assert "TaskTexts.data_hint is not set" in problems
    assert "test_report takes ['trainer', 'test_ds']" in problems
    # Optional means a capability: a behaviour field is never None, and every task has a playground and a card.
    assert "check_run is not a function" in problems and "card is not set" in problems

    class Panel:  # a playground whose format_prediction takes the wrong parameters
        panel, labels_files = "classify", False

        def format_prediction(self, pred):
            return ""

    assert "Panel.format_prediction takes ['pred']" in " ".join(capability_problems(good, Playground, Panel()))


@pytest.mark.parametrize("name", TASKS)
def test_every_tasks_warm_imports_are_modules_this_machine_has(name):
    import importlib.util

    # A misspelt name would be skipped by the spare as an absent extra, and its runs would pay for the import.
    for module in get_task(name).warm_imports:
        assert importlib.util.find_spec(module) is not None, module


@pytest.mark.parametrize("name", TASKS)
def test_every_task_prepares_its_own_bundled_sample(name):
    task = get_task(name)
    samples = data_check.list_samples()
    for sample in task.data.samples:
        prepared = task.prepare_data(DataConfig(train=str(samples[sample])))
        assert {"train", "validation", "test"} <= set(prepared.splits)
        assert all(set(task.inputs.columns) <= set(df.columns) for df in prepared.splits.values())
        assert bool(prepared.labels) == task.has_labels
        assert data_check.sample_task(sample) == name


@pytest.mark.parametrize("name", TASKS)
def test_every_tasks_catalog_models_exist_and_its_default_is_one_of_them(name):
    task = get_task(name)
    assert all(models.find_entry(m) is not None for m in task.model.catalog_models)
    assert models.find_entry(task.model.default_model).name in task.model.catalog_models


def _fake_run(folder: Path, task: str, model: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"task": task, "model": model, "method": "lora",
                                                    "data": {"train": "train.csv"}}))
    return folder


@pytest.mark.parametrize("name", TASKS)
def test_every_tasks_reproduce_script_compiles_and_names_only_what_it_defines(name, tmp_path):
    """The fast check of the slow retraining tests: the generated script is valid Python, pyflakes finds no
    undefined or duplicate name, and it imports nothing of the studio."""
    task = get_task(name)
    text, _ = script_and_packages(_fake_run(tmp_path / "run", name, task.model.default_model))
    compile(text, "reproduce.py", "exec")
    assert not re.search(r"^\s*(from|import) studio\b", text, re.M)
    script = tmp_path / "reproduce.py"
    script.write_text(text)
    flakes = subprocess.run([sys.executable, "-m", "pyflakes", str(script)], capture_output=True, text=True)
    assert flakes.returncode == 0, flakes.stdout + flakes.stderr
    for part in SCRIPT_PARTS:
        assert re.search(rf"^def {getattr(task, part).__name__}\(", text, re.M), part


def test_a_catalog_base_on_no_hub_is_built_by_the_script_itself(tmp_path):
    text, _ = script_and_packages(_fake_run(tmp_path / "run", "seq2seq", "minilm-seq2seq"))
    assert "def write_minilm_seq2seq(" in text and text.rstrip().endswith("main(CONFIG, TASK, write_minilm_seq2seq)")


def test_the_script_source_refuses_what_it_cannot_copy():
    from studio import cli
    from studio.serve import label_file

    with pytest.raises(ScriptSourceError, match="uses the studio module"):
        ScriptSource().add(label_file.predict_file)  # calls inference.predict through the module
    with pytest.raises(ScriptSourceError, match="not studio code"):
        ScriptSource().add(json.dumps)
    with pytest.raises(ScriptSourceError, match="imports studio code inside itself"):
        ScriptSource().add(cli.cmd_predict)
    assert free_names("def f(x):\n    return g(x) + [y for y in zz]\n") == ["g", "zz"]


# ---------------------------------------------------------------------------------------- the house --
TASK_LITERAL = re.compile(r"[\"'](%s)[\"']" % "|".join(map(re.escape, TASKS + ["preference"])))


def test_no_task_name_is_compared_outside_studio_tasks():
    """Code outside studio/tasks/ asks the task; the registry is the one place that names them."""
    hits = []
    for folder in ("studio", "components"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.relative_to(ROOT / folder).parts[0] == "tasks":
                continue
            hits += [f"{path.relative_to(ROOT)}:{i}" for i, line in enumerate(path.read_text().splitlines(), 1)
                     if TASK_LITERAL.search(line)]
    assert hits == []


def test_all_tasks_come_from_the_registry():
    assert [t.name for t in all_tasks()] == TASKS
