"""The main of a reproduce script: studio.training.recipe's recipe without the run folder, the queue or the UI.

studio.export.reproduce copies `main` into every script, with the recipe's shared parts (plan_steps,
assemble_model, training_arguments, recipe_callbacks) and the task's training functions, so the
script trains the way the run did, step for step. It calls `main(CONFIG, TASK, build_base)`: the
run's resolved config, the task's functions and facts (name, peft_task_type, prototype_head), and for a base
model the studio builds (minilm-seq2seq) the function that builds it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from studio.base.devices import pick_precision
from studio.training.parts import (
    assemble_model,
    batch_collator,
    build_trainer,
    plan_steps,
    prototype_rows,
    recipe_callbacks,
    training_arguments,
)
from studio.training.precision import load_kwargs


def as_namespace(config: dict) -> SimpleNamespace:
    """A config dict with attributes for its sections (cfg.training.seed), the shape the task functions read;
    method_args stays the mapping it is."""
    return SimpleNamespace(**{k: SimpleNamespace(**v) if k in ("data", "training", "task_args") else v
                              for k, v in config.items()})


def load_split(path: Path) -> pd.DataFrame:
    """One split as the run saved it: JSON Lines, each value in its own type (lists stay lists)."""
    return pd.DataFrame([json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()])


def main(config: dict, task, build_base=None) -> dict:
    """Train config's run with plain transformers + peft and write OUT/test_metrics.json; returns the metrics."""
    import torch
    from transformers import TrainingArguments, set_seed

    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=config["model"], help="base model: hub id or local folder (default: the run's)")
    ap.add_argument("--encoder", default=None, help="for a base the script builds (minilm-seq2seq): the encoder to "
                                                    "build it from, hub id or folder (default: its hub id)")
    ap.add_argument("--data", default=str(here / "data"), help="folder with train.jsonl, validation.jsonl, test.jsonl")
    ap.add_argument("--out", default=str(here / "output"), help="checkpoints and test_metrics.json go here")
    a = ap.parse_args()
    cfg = as_namespace(config)
    t = cfg.training
    model_path = a.model
    if build_base is not None and a.model == config["model"]:
        model_path = build_base(Path(a.out) / "base", a.encoder)
    set_seed(t.seed)
    data = Path(a.data)
    splits = {name: load_split(data / f"{name}.jsonl") for name in ("train", "validation", "test")}
    labels = json.loads((data / "labels.json").read_text(encoding="utf-8")) if (data / "labels.json").exists() else []

    tok = task.load_tokenizer(model_path)
    ds = task.tokenize(splits, tok, labels, cfg)
    _, total_steps = plan_steps(len(ds["train"]), t)
    prototypes = prototype_rows(splits["train"], labels) if task.prototype_head else None
    cuda = torch.cuda.is_available() and t.device != "cpu"
    # On a GPU the run's own number formats (its status recorded them); on a CPU fp32, as the studio trains there.
    formats = config.get("number_formats") if cuda else None
    model = assemble_model(task.load_model, task.peft_task_type, cfg, model_path, labels, tok, total_steps, prototypes,
                           load_kwargs=load_kwargs(formats) if formats else {"dtype": torch.float32})
    precision = formats["compute"] if formats else pick_precision(t.precision, "cuda" if cuda else "cpu")
    parts = task.trainer_parts(cfg, tok, labels, splits)
    args = training_arguments(parts.args_cls or TrainingArguments, t, a.out, t.learning_rate, t.best_metric, precision,
                              not cuda, "none", "reproduce", parts.args)
    attention = formats["attention"] if formats else "sdpa"
    trainer = build_trainer(parts, model, args, ds, batch_collator(parts, task.collator(tok, model), attention), tok,
                            recipe_callbacks(model, t))
    trainer.train()
    trainer.args.train_sampling_strategy = "random"  # the test split in its own order
    report, _ = task.test_report(trainer, ds["test"], splits["test"], labels, tok, cfg)
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / "test_metrics.json").write_text(json.dumps(report["metrics"], indent=2))
    print(json.dumps(report["metrics"], indent=2))
    return report["metrics"]
