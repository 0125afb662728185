"""The task contract (studio.tasks.base.Task): every registered task keeps it, and the house keeps its shape.

Each check fails when the property it names breaks: a task that leaves a field empty or takes other
parameters, a sample that does not prepare, a reproduce script that does not compile or names something
it never defines, a task name compared outside studio/tasks/, an import cycle.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from studio import models
from studio.views import data_check
from studio.config import DataConfig
from studio.export.reproduce import script_text
from studio.export.script_source import ScriptSource, ScriptSourceError, free_names
from studio.tasks import TASK_MODULES, all_tasks, get_task
from studio.tasks.base import Task, contract_problems
from tests.support import ROOT

TASKS = list(TASK_MODULES)


@pytest.mark.parametrize("name", TASKS)
def test_every_registered_task_keeps_the_contract(name):
    task = get_task(name)
    assert isinstance(task, Task) and task.name == name
    assert contract_problems(task) == []


def test_the_contract_check_names_what_a_task_gets_wrong():
    import dataclasses

    good = get_task(TASKS[0])
    bad = dataclasses.replace(good, pipeline_tag="", playground="popup", test_report=lambda trainer, test_ds: None)
    problems = " | ".join(contract_problems(bad))
    assert "pipeline_tag is not set" in problems and "playground 'popup'" in problems
    assert "test_report takes ['trainer', 'test_ds']" in problems


@pytest.mark.parametrize("name", TASKS)
def test_every_task_prepares_its_own_bundled_sample(name):
    task = get_task(name)
    samples = data_check.list_samples()
    for sample in task.samples:
        prepared = task.prepare_data(DataConfig(train=str(samples[sample])))
        assert {"train", "validation", "test"} <= set(prepared.splits)
        assert all("text" in df.columns for df in prepared.splits.values())
        assert bool(prepared.labels) == task.has_labels
        assert data_check.sample_task(sample) == name


@pytest.mark.parametrize("name", TASKS)
def test_every_tasks_catalog_models_exist_and_its_default_is_one_of_them(name):
    task = get_task(name)
    assert all(models.find_entry(m) is not None for m in task.catalog_models)
    assert models.find_entry(task.default_model).name in task.catalog_models


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
    text = script_text(_fake_run(tmp_path / "run", name, task.default_model))
    compile(text, "reproduce.py", "exec")
    assert not re.search(r"^\s*(from|import) studio\b", text, re.M)
    script = tmp_path / "reproduce.py"
    script.write_text(text)
    flakes = subprocess.run([sys.executable, "-m", "pyflakes", str(script)], capture_output=True, text=True)
    assert flakes.returncode == 0, flakes.stdout + flakes.stderr
    for part in ("load_tokenizer", "load_model", "tokenize", "collator", "trainer_parts", "test_report"):
        assert re.search(rf"^def {getattr(task, part).__name__}\(", text, re.M), part


def test_a_catalog_base_on_no_hub_is_built_by_the_script_itself(tmp_path):
    text = script_text(_fake_run(tmp_path / "run", "seq2seq", "minilm-seq2seq"))
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


def test_no_import_cycles_counting_imports_inside_functions():
    tool = ROOT.parent / "shared" / "tools" / "cycles.py"
    if not tool.exists():
        pytest.skip("the shared cycles tool is not beside this checkout")
    out = subprocess.run([sys.executable, str(tool), str(ROOT), "studio", "components"], capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "0", out.stdout


def test_the_engine_never_imports_gradio():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "studio").rglob("*.py")
                 if re.search(r"^\s*(import gradio|from gradio)", p.read_text(), re.M)]
    assert offenders == []


def test_all_tasks_come_from_the_registry():
    assert [t.name for t in all_tasks()] == TASKS
