"""Commands that use finished runs and look things up: predict, data, export, models, methods, tasks."""

from __future__ import annotations

import json
from pathlib import Path

from studio.base.errors import ConfigError, DataError
from studio.cli.common import show
from studio.cli.options import build_from, field_lines
from studio.config import DataConfig
from studio.tasks import all_tasks, get_task
from studio.views import data_check


def cmd_predict(a, store) -> int:
    from studio.serve import inference

    info = store.get(a.run)
    texts = list(a.text)
    if a.file:
        texts += [ln.strip() for ln in Path(a.file).read_text(encoding="utf-8").splitlines() if ln.strip()]
    if not texts:
        raise ConfigError("Give texts to label: studio predict RUN \"some text\" ... (or --file lines.txt).")
    settings = {k: v for k, v in (("max_new_tokens", a.max_new_tokens), ("temperature", a.temperature),
                                  ("top_p", a.top_p)) if v is not None}
    task = get_task(info.get("task"))
    preds = inference.predict(Path(info["dir"]), _inputs(task, texts, a.context), **settings)
    if a.json:
        show([{"text": t, **p} for t, p in zip(texts, preds)], True)
    else:
        for t, p in zip(texts, preds):
            print(task.playground.format_prediction(t, p))
    return 0


def _inputs(task, texts: list[str], context: str | None) -> list:
    """The run's inputs: the texts, or for a task with two input columns each text with the --context."""
    columns = task.inputs.columns
    if len(columns) == 1:
        return texts
    if not context:
        raise ConfigError(f"{task.texts.title.en} runs read a {columns[0]} and a {columns[1]}: give the "
                          f"{columns[1]} with --context, e.g. studio predict RUN \"{columns[0]}?\" --context \"...\".")
    return [{columns[0]: t, columns[1]: context} for t in texts]


def cmd_data(a, store) -> int:
    cfg = build_from(a, DataConfig, train=a.train)
    task = get_task(a.task)
    # Lengths are counted with the model's tokenizer (the task's default base without --model) and, without
    # --max-length, max_length is chosen from them as a run would.
    model = a.model or task.model.default_model
    check = data_check.check(cfg, model=model, max_length=a.max_length, task=a.task)
    if check.error:
        raise DataError(check.error, fix=check.fix)
    rep = check.report
    if a.json:
        show({**rep.to_dict(), "max_length": check.max_length, "max_length_picked": check.length_choice}, True)
        return 0
    if rep.labels:
        print(f"text column {rep.text_column!r}, label column {rep.label_column!r}; {len(rep.labels)} labels")
    else:  # sft, seq2seq: no label set, only what holds the input and the answer
        print(f"input {rep.text_column!r}, answer {rep.label_column!r}")
    print("rows     " + ", ".join(f"{k} {v}" for k, v in rep.rows.items()))
    for lab in rep.labels:
        print(f"  {lab:30} " + " ".join(f"{rep.label_counts[k].get(lab, 0):6d}" for k in rep.rows))
    if rep.token_lengths:
        tl = rep.token_lengths
        print(f"tokens   p50 {tl['p50']:.0f}  p95 {tl['p95']:.0f}  max {tl['max']:.0f}  ({check.tokenizer})")
    if check.length_choice:
        print(check.length_choice["summary"])
    for w in rep.warnings:
        print(f"warning: {w}")
    return 0


def cmd_export(a, store) -> int:
    import os

    from studio import export

    info = store.get(a.run)
    run_dir = Path(info["dir"])
    kind = a.kind or export.export_kinds(run_dir)[0]
    if kind == "gguf":
        kind = f"gguf-{a.quant}"
    if a.push:
        # The token comes from the environment only: a command-line argument would show in `ps` and shell history.
        url = export.push_to_hub(run_dir, a.push, os.environ.get("HF_TOKEN", ""), kind=kind, private=not a.public)
        show({"run": a.run, "kind": kind, "url": url}, a.json, url)
        return 0
    path = export.build_zip(run_dir, kind, Path(a.out))
    raw = export.read_from_zip(path, "export_report.json")
    report = json.loads(raw) if raw else None
    text = str(path) + (f"\n{export.describe_trade(report)}" if report else "")
    show({"run": a.run, "kind": kind, "zip": str(path), **({"report": report} if report else {})}, a.json, text)
    return 0


def cmd_models(a, store) -> int:
    from studio import models

    cat = [{**e, "tasks": [t.name for t in all_tasks() if e["name"] in t.model.catalog_models]}
           for e in models.list_catalog()]
    if a.json:
        show(cat, True)
        return 0
    for e in cat:
        print(f"{e['name']:15} {e['hub_id']:40} {e['params']:>5}  {'bundled' if e['bundled'] else 'hub':8} "
              f"{', '.join(e['tasks'])}: {e['summary']}")
    print("\nAny other hub id (owner/name) or local folder works too.")
    return 0


def cmd_methods(a, store) -> int:
    from studio import methods

    d = methods.describe()
    if a.json:
        show(d, True)
        return 0
    for m in d:
        print(f"{m['name']:8} {m['title']} (default lr {m['learning_rate']:g}): {m['summary']}")
        for s in m["settings"]:
            print(f"    {s['name']} = {s['default']!r}: {s['help']}")
    return 0


def cmd_tasks(a, store) -> int:
    """Every task: what its data holds, its default model, its metrics and its own settings (task_args)."""
    from studio.base.settings import field_help

    rows = [{"name": t.name, "title": t.texts.title.en, "data": t.texts.data_hint.en, "inputs": list(t.inputs.columns),
             "default_model": t.model.default_model, "methods": list(t.model.method_names()),
             "best_metrics": list(t.metrics.best), "test_metrics": list(t.metrics.test),
             "settings": [{k: v for k, v in f.items() if k != "type"} for f in field_help(t.settings)]}
            for t in all_tasks()]
    if a.json:
        show(rows, True)
        return 0
    for t, row in zip(all_tasks(), rows):
        print(f"{row['name']:22} {row['title']}: {row['data']}")
        print(f"{'':22} default model {row['default_model']}; selects on {', '.join(row['best_metrics'])}")
        for line in field_lines(t.settings, "task_args."):
            print(f"{'':20}{line}")
    return 0
