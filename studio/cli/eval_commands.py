"""`studio eval`: score a finished chat run and its base on benchmarks (lm-eval), or show the scores it has."""

from __future__ import annotations

import sys
from pathlib import Path

from studio.cli.common import show
from studio.cli.options import add_options, build_from
from studio.evals import BenchmarkConfig, jobs, results


def add_commands(add) -> None:
    p = add("eval", cmd_eval, "Score a finished chat run and its base model on benchmarks with lm-evaluation-harness: "
                              "local files (multiple choice as C-Eval / CMMLU / MMLU: question, A-D, answer; or "
                              "question and reference) or lm-eval task names where the hub is reachable. Waits and "
                              "prints base beside tuned; without --tasks, shows the scores the run has.")
    p.add_argument("run", help="Run id (a completed run of a chat task).")
    p.add_argument("--tasks", action="append", metavar="FILE_OR_NAME",
                   help="A benchmark file (CSV, TSV, JSON, JSONL, Parquet) or an lm-eval task name (mmlu, "
                        "ceval-valid, ...); repeat it or separate with commas.")
    add_options(p, BenchmarkConfig)
    p.add_argument("--detach", action="store_true", help="Return once the job has started; `studio eval RUN` shows "
                                                          "it later.")
    p.add_argument("--stop", action="store_true", help="Stop the run's benchmark under way.")


def _split(items: list[str] | None) -> tuple[list[tuple[str, str]], list[str]]:
    """(files [(path, name)], lm-eval names): an item that is an existing path, or looks like a file, is a file."""
    files, names = [], []
    for item in items or []:
        for part in (p.strip() for p in item.split(",")):
            if not part:
                continue
            path = Path(part).expanduser()
            if path.exists() or path.suffix.lower() in (".csv", ".tsv", ".json", ".jsonl", ".parquet", ".txt"):
                files.append((str(path), path.name))
            else:
                names.append(part)
    return files, names


def _progress_printer():
    last = {"text": ""}

    def on_progress(st):
        text = results.state_text(st)
        if text != last["text"]:
            print(text, file=sys.stderr, flush=True)
            last["text"] = text

    return on_progress


def cmd_eval(a, store) -> int:
    rd = store.run_dir(a.run)
    if a.stop:
        st = jobs.stop(store, a.run)
        print(results.state_text(st), file=sys.stderr)
        return 0
    if a.tasks:
        files, names = _split(a.tasks)
        cfg = build_from(a, BenchmarkConfig)
        st = jobs.start(store, a.run, files, names, cfg)
        print(f"Benchmark of run {a.run} started: {', '.join(t['source'] for t in st.get('tasks') or [])}; its log: "
              f"{jobs.log_path(rd)}", file=sys.stderr)
        if a.detach:
            return 0
        st = jobs.wait(rd, on_progress=_progress_printer())
    else:
        st = jobs.read_state(rd)
        if st.get("state") in jobs.ACTIVE and not a.json:
            print(results.state_text(st), file=sys.stderr)
    if a.tasks and st.get("state") != "completed":
        print(results.state_text(st), file=sys.stderr)
        return 1
    found = jobs.read_results(rd)
    table = results.markdown_table(found)
    show({"state": st, "results": found}, a.json, table or results.state_text(st))
    return 0
