"""The `studio` command: train, runs, sweep(s), show, stop, kill, resume, delete, predict, data, clean, suggest,
merge-labels, export, models, methods."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from studio import distill, sweeps
from studio.cli import augment_commands
from studio.cli import label_commands
from studio.training import memory
from studio.base import runfolder
from studio.training.base_scores import side_by_side
from studio.config import AugmentConfig, DataConfig, RunConfig, TrainingConfig, field_help
from studio.base.errors import USER_ERRORS, ConfigError
from studio.tasks import DEFAULT_TASK, all_tasks, get_task, task_names
from studio.base.runfolder import RunFolder
from studio.base import files


def _config_help() -> str:
    lines = ["config fields (YAML or JSON; only data.train is required):", ""]
    for prefix, cls in (("", RunConfig), ("data.", DataConfig), ("training.", TrainingConfig),
                        ("augment.", AugmentConfig)):
        for f in field_help(cls):
            if f["name"] in ("data", "training", "augment"):
                continue
            extra = ""
            if "choices" in f:
                extra = f" [{'|'.join(map(str, f['choices']))}]"
            elif "min" in f or "max" in f:
                extra = f" [{f.get('min', '')}..{f.get('max', '')}]"
            lines.append(f"  {prefix}{f['name']} (default {f['default']!r}){extra}")
            lines.append(f"      {f['help']}")
    lines += ["", "method_args per method: see `studio methods`.", "Example: examples/minilm-lora.yaml"]
    return "\n".join(lines)


def _print(data: Any, as_json: bool, text: str | None = None) -> None:
    if as_json:
        print(json.dumps(data, indent=2, default=str))
    else:
        print(text if text is not None else data)


def _fmt_dur(s: float | None) -> str:
    if s is None:
        return "-"
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _apply_overrides(raw: dict, sets: list[str]) -> dict:
    for item in sets or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: write it as key=value, e.g. training.epochs=1.")
        key, val = item.split("=", 1)
        try:
            import yaml

            value = yaml.safe_load(val)
        except Exception:
            value = val
        node = raw
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return raw


def _read_mapping(path: Path, what: str) -> dict:
    """A YAML or JSON file holding a mapping, or a ConfigError saying what is wrong with it."""
    import yaml

    if not path.is_file():
        raise ConfigError(f"{what} file {path} does not exist.")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))  # YAML is a superset of JSON
    except yaml.YAMLError as e:
        raise ConfigError(f"{what} file {path} is not valid YAML/JSON: {e}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{what} file {path} must hold a mapping of settings (like data: {{train: file.csv}}), "
                          f"not a {type(raw).__name__}.")
    return raw


def _load_config(a) -> RunConfig:
    path = Path(a.config)
    raw = _apply_overrides(_read_mapping(path, "Config"), a.set)
    return RunConfig.from_dict(raw, base_dir=path.parent)


def cmd_train(a, store) -> int:
    cfg = _load_config(a)
    run_id = store.create(cfg)
    fit = runfolder.read_status(store.run_dir(run_id)).get("memory")
    if fit:  # on stderr: --detach prints only the run id on stdout, for scripts
        print(f"memory: {memory.Estimate.from_dict(fit).summary()}", file=sys.stderr)
    if a.detach:
        _print({"run": run_id, "dir": str(store.run_dir(run_id))}, a.json, run_id)
        return 0
    print(f"run {run_id} queued ({store.run_dir(run_id)})", file=sys.stderr)
    return _follow(store, run_id, a.json)


def _follow(store, run_id: str, as_json: bool) -> int:
    rd = store.run_dir(run_id)
    offset = 0
    stopping = False
    try:
        while True:
            for rec, offset in runfolder.iter_metrics(rd, offset):
                if as_json:
                    print(json.dumps(rec), flush=True)
                else:
                    print(_metric_line(rec), file=sys.stderr, flush=True)
            st = store.sync(run_id)
            if st.get("status") in runfolder.FINISHED:
                for rec, offset in runfolder.iter_metrics(rd, offset):
                    print(json.dumps(rec) if as_json else _metric_line(rec), file=sys.stdout if as_json else sys.stderr)
                msg = f"run {run_id} {st['status']}" + (f": {st.get('reason')}" if st.get("reason") else "")
                print(msg, file=sys.stderr)
                _print_distillation(store, rd)
                return 0 if st["status"] == "completed" else 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        if not stopping:
            print(f"\nstopping run {run_id} (it saves a checkpoint first; `studio resume {run_id}` continues)", file=sys.stderr)
            store.stop(run_id)
        return _follow(store, run_id, as_json) if not stopping else 130


def _print_distillation(store, rd: Path) -> None:
    """A distilled run: teacher and student side by side (and the labels-only run, once it has finished)."""
    report = files.read_json(RunFolder(rd).report) or {}
    if "distillation" not in report:
        return
    alone = report["distillation"].get("alone")
    alone_report = files.read_json(RunFolder(store.run_dir(alone)).report) if alone else None
    if report["distillation"].get("kind") == "sequence":
        print(distill.sequence_line(report, alone_report), file=sys.stderr)
        return
    print("\n".join(distill.table_lines(distill.side_by_side(report, alone_report))), file=sys.stderr)
    if alone and alone_report is None:
        print(f"the labels-only run {alone} is queued; `studio show {rd.name}` shows it here once it has finished",
              file=sys.stderr)


def _metric_line(r: dict) -> str:
    kind = r.get("kind")
    if kind == "start":
        return (f"start: {r.get('trainable_parameters', 0):,} trainable / {r.get('total_parameters', 0):,} parameters, "
                f"{r.get('max_steps')} steps on {r.get('device')} ({r.get('precision')})")
    if kind == "train":
        sps = r.get("samples_per_second")
        return (f"step {r['step']} epoch {r.get('epoch', 0):.2f} loss {r.get('loss', float('nan')):.4f} "
                f"lr {r.get('learning_rate', 0):.2e}" + (f" {sps:.1f} samples/s eta {_fmt_dur(r.get('eta_seconds'))}" if sps else ""))
    if kind == "eval":
        parts = [f"{k[5:]} {v:.4f}" for k, v in r.items() if k.startswith("eval_") and isinstance(v, (int, float))]
        return f"eval step {r['step']}: " + ", ".join(parts)
    if kind == "test":
        parts = [f"{k[5:]} {v:.4f}" + (f" (base {r[f'base_{k}']:.4f})" if isinstance(r.get(f"base_{k}"), (int, float)) else "")
                 for k, v in r.items() if k.startswith("test_") and isinstance(v, (int, float))]
        return "test: " + ", ".join(parts)
    if kind == "samples":  # SFT: the fixed validation prompts' answers at this step
        return f"samples step {r['step']}: " + " | ".join(
            f"{s.get('prompt', '')[:40]!r} -> {s.get('output', '')[:60]!r}" for s in r.get("samples", []))
    return json.dumps(r)


def cmd_runs(a, store) -> int:
    rows = store.list()
    if a.json:
        _print(rows, True)
        return 0
    if not rows:
        print("No runs yet. Start one with `studio train examples/minilm-lora.yaml`.")
        return 0
    print(f"{'run':24} {'status':10} {'task':20} {'model':40} {'method':8} {'best':>8} {'time':>7}")
    for r in rows:
        best = f"{r['best_metric']:.4f}" if isinstance(r.get("best_metric"), (int, float)) else "-"
        print(f"{r['id']:24} {r['status']:10} {r['task'] or '':20} {(r['model'] or '')[-40:]:40} {r['method'] or '':8} "
              f"{best:>8} {_fmt_dur(r.get('duration')):>7}")
    return 0


def cmd_sweep(a, store) -> int:
    cfg = _load_config(a)
    space = _read_mapping(Path(a.space), "Space") if a.space else None
    settings = sweeps.settings_from({"trials": a.trials, "sampler": a.sampler, "prune": a.prune, "seed": a.seed,
                                     **({"timeout_minutes": a.timeout / 60} if a.timeout else {})})
    sweep_id = sweeps.create(store, cfg, space, settings)
    if a.detach:
        _print({"sweep": sweep_id}, a.json, sweep_id)
        return 0
    print(f"sweep {sweep_id}: {settings.trials} trials over {', '.join(sweeps.describe(store, sweep_id)['space'])}",
          file=sys.stderr)
    return _follow_sweep(store, sweep_id, a.json)


def _follow_sweep(store, sweep_id: str, as_json: bool) -> int:
    told: set[int] = set()
    try:
        while True:
            d = sweeps.describe(store, sweep_id)
            for r in d["trials"]:
                if r["trial"] not in told and r["state"] != "running":
                    told.add(r["trial"])
                    value = f"{d['metric']} {r['value']:.4f}" if isinstance(r["value"], (int, float)) else ""
                    print(json.dumps(r) if as_json else f"trial {r['trial']} {r['state']} {value} {r['params']} "
                          f"run {r['run'] or '-'}", flush=True)
            if d["status"].get("status") not in sweeps.ACTIVE:
                print(_sweep_end(d), file=sys.stderr)
                return 0 if d["status"].get("status") == "completed" else 1
            time.sleep(1.0)
    except KeyboardInterrupt:
        print(f"\nstopping sweep {sweep_id} (its running trial saves a checkpoint; `studio resume {sweep_id}` "
              "continues)", file=sys.stderr)
        sweeps.stop(store, sweep_id)
        sweeps.wait(store, sweep_id)
        return 130


def _sweep_end(d: dict) -> str:
    st, best = d["status"], d["best"]
    line = f"sweep {d['id']} {st.get('status')}: {st.get('reason') or ''}"
    if best:
        tests = ", ".join(f"{k} {v:.4f}" for k, v in (best.get("test") or {}).items() if isinstance(v, (int, float)))
        line += f"\nbest trial {best['trial']}: {d['metric']} {best['value']:.4f} with {best['params']} (run {best['run']}" \
                + (f"; test {tests})" if tests else ")")
    steps = d["trial_steps"]
    if steps["planned"]:
        line += f"\nsteps trained {steps['ran']} of {steps['planned']} planned (pruning saved {steps['planned'] - steps['ran']})"
    return line


def cmd_sweeps(a, store) -> int:
    rows = sweeps.list_sweeps(store)
    if a.json:
        _print(rows, True)
        return 0
    if not rows:
        print("No sweeps yet. Start one with `studio sweep examples/minilm-lora.yaml --trials 8`.")
        return 0
    print(f"{'sweep':24} {'status':10} {'trials':>7} {'best':>10} {'best run':24} model")
    for r in rows:
        best = f"{r['best_value']:.4f}" if isinstance(r.get("best_value"), (int, float)) else "-"
        print(f"{r['id']:24} {r['status']:10} {r['trials_done']:>3}/{r['trials'] or '-':<3} {best:>10} "
              f"{r['best_run'] or '-':24} {r['model']}")
    return 0


def _show_sweep(a, store) -> int:
    d = sweeps.describe(store, a.run)
    if a.json:
        _print(d, True)
        return 0
    print(f"sweep    {d['id']}  ({sweeps.sweep_dir(store, d['id'])})")
    print("space    " + ", ".join(f"{k} {v}" for k, v in d["space"].items()))
    print("settings " + ", ".join(f"{k} {v}" for k, v in d["settings"].items()))
    for r in d["trials"]:
        value = f"{r['value']:.4f}" if isinstance(r["value"], (int, float)) else "-"
        print(f"  trial {r['trial']:3} {r['state']:9} {d['metric']} {value:>8}  {r['params']}  run {r['run'] or '-'}")
    print(_sweep_end(d))
    return 0


def cmd_show(a, store) -> int:
    if sweeps.is_sweep_id(a.run):
        return _show_sweep(a, store)
    info = store.get(a.run)
    info["metrics_tail"] = runfolder.read_metrics(Path(info["dir"]))[-5:]
    if a.json:
        _print(info, True)
        return 0
    st = info["status_detail"]
    print(f"run      {info['id']}  ({info['dir']})")
    print(f"status   {info['status']}" + (f": {st.get('reason')}" if st.get("reason") else ""))
    print(f"model    {info.get('model')}  method {info.get('method')}  device {st.get('device', '-')}")
    if (st.get("launch") or {}).get("launcher") not in (None, "none"):
        print(f"launch   {st['launch'].get('num_processes')} processes: {st['launch'].get('command')}")
    if st.get("max_steps"):
        print(f"progress step {st.get('step', 0)}/{st['max_steps']}  epoch {st.get('epoch', 0)}")
    if st.get("memory"):
        peak = st.get("peak_memory")
        print(f"memory   estimated {memory.gib(st['memory']['total'])}"
              + (f", measured {memory.gib(peak['bytes'])} ({peak['what']})" if peak else ""))
    rep = info.get("test_report")
    if rep:
        print("test     " + ", ".join(f"{k} {v:.4f}" + ("" if b is None else f" (base {b:.4f})")
                                      for k, v, b in side_by_side(rep)))
        if rep.get("base"):
            print(f"base     {rep['base'].get('what')}")
    for r in info["metrics_tail"]:
        print("  " + _metric_line(r))
    return 0


def cmd_simple(action):
    def run(a, store) -> int:
        target = sweeps if sweeps.is_sweep_id(a.run) else None  # a sweep's stop, kill and resume reach its trials
        st = getattr(target, action)(store, a.run) if target else getattr(store, action)(a.run)
        _print(st, a.json, f"{a.run}: {st.get('status') if isinstance(st, dict) else action}")
        return 0
    return run


def cmd_delete(a, store) -> int:
    store.delete(a.run)
    _print({"deleted": a.run}, a.json, f"deleted {a.run}")
    return 0


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
    preds = inference.predict(Path(info["dir"]), texts, **settings)
    if a.json:
        _print([{"text": t, **p} for t, p in zip(texts, preds)], True)
    else:
        task = get_task(info.get("task"))
        for t, p in zip(texts, preds):
            print(task.format_prediction(t, p))
    return 0


def cmd_data(a, store) -> int:
    cfg = DataConfig(train=a.train, validation=a.validation, test=a.test, text_column=a.text_column,
                     label_column=a.label_column, label_names=a.label_names, header=not a.no_header)
    task = get_task(a.task)
    tok = None
    if a.model:
        from studio import models

        tok = task.load_tokenizer(models.resolve(a.model))
    rep = task.prepare_data(cfg, tokenizer=tok, max_length=a.max_length).report
    if a.json:
        _print(rep.to_dict(), True)
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
        print(f"tokens   p50 {tl['p50']:.0f}  p95 {tl['p95']:.0f}  max {tl['max']:.0f}")
    for w in rep.warnings:
        print(f"warning: {w}")
    return 0


def cmd_export(a, store) -> int:
    import os

    from studio import export

    info = store.get(a.run)
    run_dir = Path(info["dir"])
    kind = a.kind or export.export_kinds(run_dir)[0]
    if a.push:
        # The token comes from the environment only: a command-line argument would show in `ps` and shell history.
        url = export.push_to_hub(run_dir, a.push, os.environ.get("HF_TOKEN", ""), kind=kind, private=not a.public)
        _print({"run": a.run, "kind": kind, "url": url}, a.json, url)
        return 0
    path = export.build_zip(run_dir, kind, Path(a.out))
    raw = export.read_from_zip(path, "export_report.json")
    report = json.loads(raw) if raw else None
    text = str(path) + (f"\n{export.describe_trade(report)}" if report else "")
    _print({"run": a.run, "kind": kind, "zip": str(path), **({"report": report} if report else {})}, a.json, text)
    return 0


def cmd_models(a, store) -> int:
    from studio import models

    cat = [{**e, "tasks": [t.name for t in all_tasks() if e["name"] in t.catalog_models]} for e in models.list_catalog()]
    if a.json:
        _print(cat, True)
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
        _print(d, True)
        return 0
    for m in d:
        print(f"{m['name']:8} {m['title']} (default lr {m['learning_rate']:g}): {m['summary']}")
        for s in m["settings"]:
            print(f"    {s['name']} = {s['default']!r}: {s['help']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="studio", description="Fine-tune transformer models: train, inspect, control and use runs.")
    ap.add_argument("--runs-dir", default=None, help="Folder of runs and the registry (env STUDIO_RUNS_DIR; default ./runs).")
    ap.add_argument("--trust-remote-code", action="store_true",
                    help="Let models run Python code from their repositories (env STUDIO_TRUST_REMOTE_CODE=1; default off).")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def add(name, fn, help, json_flag=True):
        p = sub.add_parser(name, help=help, description=help)
        if json_flag:
            p.add_argument("--json", action="store_true", help="Print machine-readable JSON.")
        p.set_defaults(fn=fn)
        return p

    p = sub.add_parser("train", help="Start a run from a YAML/JSON config.", epilog=_config_help(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="Run config file (YAML or JSON).")
    p.add_argument("--detach", action="store_true", help="Return at once with the run id; the run trains in the background.")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="Override a config field, e.g. --set training.epochs=1.")
    p.add_argument("--json", action="store_true", help="Print machine-readable JSON.")
    p.set_defaults(fn=cmd_train)
    add("runs", cmd_runs, "List runs with status, task, model, method, best metric and duration.")
    for name, fn, h in (("show", cmd_show, "Show one run or sweep: status, progress, test metrics (a sweep's trials)."),
                        ("stop", cmd_simple("stop"), "Stop gracefully: finish the step, save a checkpoint (a sweep stops "
                                                     "its running trial)."),
                        ("kill", cmd_simple("kill"), "Kill the run's (or sweep's and its trial's) processes at once."),
                        ("resume", cmd_simple("resume"), "Continue a stopped or failed run from its last checkpoint, or "
                                                         "a sweep where it stopped."),
                        ("delete", cmd_delete, "Delete a finished run and its folder.")):
        add(name, fn, h).add_argument("run", help="Run id (or sweep id for show, stop, kill, resume).")
    p = sub.add_parser("sweep", help="Let Optuna find the settings: trials are runs over a search space.",
                       description=sweeps.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="The base run config (YAML or JSON).")
    p.add_argument("--trials", type=int, default=12, help="Trials to run at most (default 12).")
    p.add_argument("--space", help="A YAML/JSON file of the fields to vary; default: the learning rate around the "
                                   "method's default and the epochs around the config's.")
    p.add_argument("--timeout", type=float, help="Time budget in seconds: no new trial starts after it.")
    p.add_argument("--sampler", choices=sweeps.SAMPLERS, default="tpe", help="tpe (default), random or grid.")
    p.add_argument("--prune", action="store_true", help="Stop weak trials early (median pruning from the second "
                                                         "evaluation; saves steps, can cut a slow starter).")
    p.add_argument("--seed", type=int, default=0, help="Sampler seed (default 0).")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="Override a base config field.")
    p.add_argument("--detach", action="store_true", help="Return at once with the sweep id.")
    p.add_argument("--json", action="store_true", help="Print machine-readable JSON.")
    p.set_defaults(fn=cmd_sweep)
    add("sweeps", cmd_sweeps, "List sweeps: status, trials done, best value and run.")
    p = add("predict", cmd_predict, "Run a finished run on inputs: label texts, tag entities, answer prompts or "
            "generate targets, by the run's task.")
    p.add_argument("run", help="Run id.")
    p.add_argument("text", nargs="*", help="Inputs: texts to label or tag, prompts (SFT), sources (seq2seq).")
    p.add_argument("--file", help="A text file with one input per line.")
    p.add_argument("--max-new-tokens", type=int, help="SFT and seq2seq: most tokens to generate (default: the run's max_new_tokens).")
    p.add_argument("--temperature", type=float, help="SFT: sampling temperature; 0 decodes greedily (default 0).")
    p.add_argument("--top-p", type=float, help="SFT: nucleus sampling share (default 1.0).")
    p = add("data", cmd_data, "Check a data file: columns, labels, split sizes, token lengths, warnings.")
    p.add_argument("train", help="Training file (CSV, TSV, JSON, JSONL, Parquet; CoNLL for token classification).")
    p.add_argument("--task", choices=task_names(), default=DEFAULT_TASK, help=f"What the data is for (default {DEFAULT_TASK}).")
    p.add_argument("--validation", help="Optional validation file.")
    p.add_argument("--test", help="Optional test file.")
    p.add_argument("--text-column", help="Text column (detected when omitted).")
    p.add_argument("--label-column", help="Label column (detected when omitted).")
    p.add_argument("--label-names", help="Names of numeric labels or tags in id order, comma-separated "
                                         "(e.g. O,B-PER,I-PER): for files that store class ids.")
    p.add_argument("--no-header", action="store_true", help="The CSV/TSV file's first line is data, not column names "
                                                            "(data.header: false); columns are found by their contents.")
    p.add_argument("--model", help="Tokenizer for token-length percentiles (catalog name, hub id or folder).")
    p.add_argument("--max-length", type=int, default=128, help="Report the share of texts longer than this.")
    p = add("export", cmd_export, "Zip a finished run's adapter or merged model with a model card, or push it to the hub.")
    p.add_argument("run", help="Run id.")
    p.add_argument("--kind", choices=("adapter", "merged", "onnx", "onnx-int8", "reproduce"),
                   help="adapter (PEFT runs), merged model, for encoder classifiers onnx / onnx-int8 (with their size "
                        "and test accuracy beside the original's), or reproduce: a standalone transformers + peft "
                        "script with the run's data; default: adapter when there is one.")
    p.add_argument("--out", default=".", help="Folder for the zip (default: here).")
    p.add_argument("--push", metavar="OWNER/NAME", help="Push to this hub repository instead (token from the HF_TOKEN environment variable).")
    p.add_argument("--public", action="store_true", help="Make a pushed repository public (default: private).")
    label_commands.add_commands(add)
    augment_commands.add_commands(add)
    add("models", cmd_models, "List the model catalog.")
    add("methods", cmd_methods, "List the adaptation methods and their settings.")
    return ap


def main(argv: list[str] | None = None) -> int:
    from studio.runs.store import open_store

    ap = build_parser()
    a = ap.parse_args(argv)
    if a.trust_remote_code:  # workers this command starts inherit it through the environment
        import os

        os.environ["STUDIO_TRUST_REMOTE_CODE"] = "1"
    try:
        store = open_store(a.runs_dir)
        return a.fn(a, store)
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
