"""`studio augment`: a data file's augmented rows beside their originals, before any run (what a run with the
same `augment` settings trains on; `studio train --set augment.copies=2` makes them for real)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from studio import augment, models
from studio.cli.options import add_options, given
from studio.config import AugmentConfig, DataConfig, RunConfig
from studio.tasks import DEFAULT_TASK, get_task, task_names


def cmd_augment(a, store) -> int:
    raw = {"task": a.task, "data": {"train": a.data, **given(a, DataConfig)},
           "augment": given(a, AugmentConfig), "training": {"seed": a.seed}}
    if a.model:
        raw["model"] = a.model
    cfg = RunConfig.from_dict(raw).resolved()
    task = get_task(cfg.task)
    train = task.prepare_data(cfg.data).splits["train"]
    if not a.out:
        table = augment.preview(cfg, train, n=a.n)
        print(table.to_json(orient="records", force_ascii=False) if a.json
              else table.to_string(index=False, max_colwidth=70))
        return 0
    rows = augment.make_rows(task, train, cfg.augment, cfg.training.seed, models.resolve(cfg.model),
                             log=lambda line: print(line, file=sys.stderr, flush=True))
    out = Path(a.out)
    (rows.to_json(out, orient="records", lines=True, force_ascii=False) if out.suffix == ".jsonl"
     else rows.to_csv(out, index=False))
    summary = {"path": str(out), "train_rows": len(train), "rows_added": augment.counts(rows)}
    print(json.dumps(summary) if a.json else f"{len(rows)} new rows from {len(train)} training rows "
          f"({', '.join(f'{k} {v}' for k, v in summary['rows_added'].items())}) -> {out}")
    return 0


def add_commands(add) -> None:
    p = add("augment", cmd_augment, "Show a data file's augmented rows beside their originals (or write them all "
                                    "with --out); a run makes them with --set augment.copies=N.")
    p.add_argument("data", help="A training file (text classification or token classification).")
    p.add_argument("--task", choices=task_names(), default=DEFAULT_TASK,
                   help=f"What the data is for (default {DEFAULT_TASK}).")
    add_options(p, AugmentConfig, defaults={"copies": 1})
    p.add_argument("--model", help="Base model whose word embeddings give synonyms (default: the task's).")
    p.add_argument("--n", type=int, default=6, help="Rows to show without --out (default 6).")
    p.add_argument("--seed", type=int, default=42,
                   help="Seed of the choices (a run uses its training.seed; default 42).")
    p.add_argument("--out", help="Write every new row of the training split here (CSV, or JSONL by suffix).")
    add_options(p, DataConfig, only=("text_column", "label_column", "header"))
