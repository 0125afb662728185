"""A finished run as a standalone Python script: plain transformers + peft, no studio.

The export is a folder with `reproduce.py`, the run's exact data splits as JSON Lines and its
config.json. The script is made of the studio's own code, copied verbatim when it is generated
(studio.export.script_source): the recipe's main (studio.export.reproduce_main), the shared recipe parts in
studio.training.recipe, the task's training functions (Task: load_tokenizer, load_model, tokenize, collator,
trainer_parts, test_report) and whatever they call. Nothing in it is written twice, so it cannot
drift from what the run did; tests/studio/test_task_contract.py compiles and checks every task's
script, and each task's slow test retrains one to the run's scores.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from studio.augment import describe, saved_rows, with_saved_rows
from studio.base import files
from studio.base.errors import ReproduceError
from studio.base.runfolder import RunFolder
from studio.config import load_run_config
from studio.export.portable import portable_config
from studio.export.reproduce_main import main
from studio.export.script_source import ScriptSource, ScriptSourceError
from studio.methods import METHODS
from studio.models import BUILT_BASES, find_entry
from studio.tasks import get_task
from studio.tasks.base import SCRIPT_PARTS
from studio.training.head_init import PrototypeHead

HEADER = '''#!/usr/bin/env python
"""Reproduce studio run {run} ({name}) with plain transformers and peft.

    pip install {pip}
    python reproduce.py                       # data/ next to this file, the run's base model
    python reproduce.py --model /path/to/model --out results/

It trains {method} on {model} ({task}) with the run's settings, keeps the best checkpoint by
validation {best}, and writes the test metrics to OUT/test_metrics.json. The run itself reached:
{result}
{base_note}
Everything from here to CONFIG at the end is the studio's own code, copied verbatim when this script
was generated: tokenising, loss masks, the training arguments and the scores are exactly the run's.
"""

from __future__ import annotations

'''

# Catalog bases the studio does not load from the hub as they are there.
BASE_NOTES = {
    "smollm2": "\nThe studio trained the bundled copy of this model (a Q4_1 GGUF file, de-quantized); the hub's "
               "weights\nare the unquantized originals, so scores can differ a little.\n",
    "minilm-seq2seq": "\nThis base is on no hub: the script builds it from MiniLM as the studio does (--encoder).\n",
    "minilm-l3": "\nThis base is on no hub: the script builds it from MiniLM (3 of its 6 layers) as the studio does "
                 "(--encoder).\n",
}


def script_and_packages(run_dir: Path) -> tuple[str, list[str]]:
    """(reproduce.py for a run, with its resolved config embedded; the pip packages it needs)."""
    run_dir = Path(run_dir)
    judges = files.read_json(RunFolder(run_dir).judge)
    if judges:
        what = " and ".join({"classifier": f"classifier run {(judges.get('classifier') or {}).get('run')}",
                             "code": "a reward file of its person's"}[k] for k in judges if k in ("classifier", "code"))
        raise ReproduceError(f"This run's rewards came from {what}, which a script outside the studio cannot load: "
                             "no reproduce script is offered for it. Its adapter and merged model export as any "
                             "run's.")
    cfg = load_run_config(run_dir).resolved()
    task = get_task(cfg.task)
    raw = portable_config(cfg.to_dict())  # the base as others load it, files by name: no path of the server
    # Resolved, so the script needs no registry: the learning rate and the selection metric the run used.
    raw["training"].update(learning_rate=cfg.learning_rate(), best_metric=cfg.selection_metric())
    formats = (files.read_json(RunFolder(run_dir).status) or {}).get("number_formats")
    if formats:
        raw["number_formats"] = formats
    config_json = json.dumps(raw, indent=2, ensure_ascii=False)
    if '"""' in config_json:  # cannot end the embedded raw string early: JSON escapes quotes inside strings
        raise ReproduceError("The run's config cannot be embedded in a script.")
    entry = find_entry(cfg.model)
    builder = BUILT_BASES.get(entry.name) if entry else None
    source = ScriptSource()
    try:
        source.add(main)
        parts = {name: source.add(getattr(task, name)) for name in SCRIPT_PARTS}
        build_base = source.add(builder) if builder else "None"
    except ScriptSourceError as e:
        raise ReproduceError(f"A reproduce script for {cfg.task} runs cannot be generated: {e}") from None
    source.require_import("import json")
    source.require_import("from types import SimpleNamespace")
    pip = sorted(set(source.requirements()) | set(task.model.script_requirements))
    report = files.read_json(RunFolder(run_dir).report) or {}
    result = ", ".join(f"test {k} {v:.4f}" for k, v in (report.get("metrics") or {}).items()
                       if isinstance(v, (int, float))) or "(no test report)"
    base_note = BASE_NOTES.get(entry.name if entry else "", "") + _soft_distillation(run_dir)
    if raw["model"] != cfg.model and entry is None:
        base_note += (f"\nThe run's base was a folder of the machine it trained on ({raw['model']}): pass it with "
                      "--model.\n")
    # Names and texts a person chose are pasted into the docstring as text, never as code (docstring_text).
    head = HEADER.format(**{k: docstring_text(v) for k, v in dict(
        run=run_dir.name, name=cfg.display_name(), pip=" ".join(pip), method=METHODS[cfg.method].title,
        model=raw["model"], task=cfg.task, best=cfg.selection_metric(), result=result, base_note=base_note).items()})
    prototypes = task.capability(PrototypeHead)
    facts = {"name": repr(cfg.task), "peft_task_type": repr(task.model.peft_task_type),
             "prototype_head": repr(bool(prototypes and prototypes.prototype_head(cfg.task_args)))}
    task_line = "".join(f"\n    {k}={v}," for k, v in {**facts, **parts}.items())
    tail = (f'\n\nCONFIG = json.loads(r"""{config_json}""")\nTASK = SimpleNamespace({task_line}\n)\n\n'
            f'if __name__ == "__main__":\n    main(CONFIG, TASK, {build_base})\n')
    return head + source.text() + tail, pip


def docstring_text(value) -> str:
    """Text safe inside the script's triple-quoted docstring: a backslash or three quotes cannot end it or turn it
    into an escape (a run named 'x \"\"\" + code' stays text)."""
    text = "".join(ch if ch.isprintable() or ch in "\n\t" else "?" for ch in str(value))
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def write_bundle(run_dir: Path, dest: Path) -> Path:
    """dest/reproduce.py, dest/data/{train,validation,test}.jsonl (+ labels.json), dest/config.json, dest/README.md.

    The splits are JSON Lines, not CSV: a spreadsheet would run texts starting with "=" as formulas, and
    neutralising them would change the data the script trains on."""
    import pandas as pd

    run_dir, dest = Path(run_dir), Path(dest)
    text, pip = script_and_packages(run_dir)
    (dest / "data").mkdir(parents=True)
    for split in ("train", "validation", "test"):
        df = pd.read_parquet(RunFolder(run_dir).data / f"{split}.parquet")
        if split == "train":  # the rows the run trained on: its augmented rows, its teacher's answers
            answers = RunFolder(run_dir).teacher_answers
            df = pd.read_json(answers, lines=True, dtype=False) if answers.is_file() else with_saved_rows(run_dir, df)
        # Parquet gives lists back as arrays; JSON wants lists.
        df = df.map(lambda v: v.tolist() if isinstance(v, np.ndarray) else v)
        df.to_json(dest / "data" / f"{split}.jsonl", orient="records", lines=True, force_ascii=False)
    labels = (files.read_json(RunFolder(run_dir).data_report) or {}).get("labels") or []
    if labels:
        (dest / "data" / "labels.json").write_text(json.dumps(labels, indent=2, ensure_ascii=False), encoding="utf-8")
    (dest / "reproduce.py").write_text(text, encoding="utf-8")
    config = portable_config(files.read_json(RunFolder(run_dir).config) or {})
    (dest / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf-8")
    task = load_run_config(run_dir).task
    (dest / "README.md").write_text(
        f"# Reproduce run {run_dir.name}\n\n"
        f"`reproduce.py` retrains this {task} run with plain transformers and peft code (no studio needed) on the "
        "exact splits in `data/`, and writes the test metrics to `output/test_metrics.json`.\n\n"
        f"```bash\npip install {' '.join(pip)}\npython reproduce.py\n```\n\n"
        "`python reproduce.py --model /path/to/model` uses a local copy of the base model.\n"
        + _augmentation_note(run_dir) + _distillation_note(run_dir), encoding="utf-8")
    return dest


def _augmentation_note(run_dir: Path) -> str:
    """What the README says of a run that trained on augmented rows: they are in train.jsonl, made once."""
    line = describe(files.read_json(RunFolder(run_dir).data_report) or {})
    if line is None or saved_rows(run_dir) is None:
        return ""
    return (f"\nThis run trained with {line}: `data/train.jsonl` holds them after the file's own rows, so the "
            f"script trains on exactly what the run did (the run folder's `{RunFolder.augmented_rows.name}` shows each "
            "beside its original). The script does not augment again.\n")


def _soft_distillation(run_dir: Path) -> str:
    """The script's own warning for a run that learned a teacher's probabilities, which it does not reproduce."""
    rec = files.read_json(RunFolder(run_dir).distill)
    if not rec or (RunFolder(run_dir).teacher_answers).is_file():
        return ""
    return (f"\nNOT REPRODUCED: the run also learned from teacher run {rec['teacher']}'s softened class "
            "probabilities;\nthis script trains on the labels alone, as the run's labels-only comparison did.\n")


def _distillation_note(run_dir: Path) -> str:
    """What the README says of a distilled run: sequence level is reproduced (the targets are in the data),
    soft labels are not (the script trains on the labels alone)."""
    rec = files.read_json(RunFolder(run_dir).distill)
    if not rec:
        return ""
    if (RunFolder(run_dir).teacher_answers).is_file():
        return (f"\nThe run learned from teacher run {rec['teacher']}'s answers: `data/train.jsonl` holds them as the "
                "targets, so the script reproduces the distillation without the teacher.\n")
    return (f"\n**Not reproduced: distillation.** The run also learned from teacher run {rec['teacher']}'s softened "
            "class probabilities; this script trains on the labels alone (the teacher's model is not in the bundle), "
            "so expect the scores of the run's labels-only comparison rather than the run's own.\n")
