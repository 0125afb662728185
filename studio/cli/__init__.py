"""The `studio` command: train, runs, sweep(s), show, stop, kill, resume, delete, predict, data, clean, suggest,
merge-labels, augment, export, models, methods, tasks, accounts, share, limits, recover, serve, keys, eval, cluster.

    common           printing, durations, config files with --set overrides
    options          options generated from the settings dataclasses (help, types, choices, defaults)
    run_commands     train, runs, show, stop, kill, resume, delete
    sweep_commands   sweep, sweeps
    use_commands     predict, data, export, models, methods, tasks
    label_commands   clean, suggest, merge-labels
    augment_commands augment
    admin_commands   accounts, share, limits, recover (the server's operator)
    serve_commands   serve (the OpenAI-compatible endpoint), keys (the API keys that act as a person there)
    eval_commands    eval (benchmarks of a run and its base through lm-eval)
    cluster_commands cluster (the Ray cluster runs go to with --ray)

Imports: base, models, methods, tasks, serve, augment, distill, config, training, runs, evals, views, export,
labels, sweeps.
"""

from __future__ import annotations

import argparse
import os
import sys

from studio import sweeps
from studio.base import log_filter
from studio.base.errors import USER_ERRORS
from studio.cli import admin_commands, augment_commands, cluster_commands, eval_commands, label_commands, serve_commands
from studio.cli.options import add_options, field_lines
from studio.cli.run_commands import cmd_delete, cmd_resume, cmd_runs, cmd_show, cmd_simple, cmd_train
from studio.cli.sweep_commands import cmd_sweep, cmd_sweeps
from studio.cli.use_commands import cmd_data, cmd_export, cmd_methods, cmd_models, cmd_predict, cmd_tasks
from studio.config import SECTIONS, DataConfig, RunConfig, TrainingConfig
from studio.export import GGUF_QUANTS, KINDS
from studio.sweeps import SweepSettings
from studio.tasks import DEFAULT_TASK, all_tasks, task_names


def config_help() -> str:
    """Every config field with its default, bounds and help: the run config's, its sections' and each task's."""
    lines = ["config fields (YAML or JSON; only data.train is required):", ""]
    lines += field_lines(RunConfig, "")
    for prefix, cls in SECTIONS.items():
        lines += field_lines(cls, f"{prefix}.")
    for task in all_tasks():
        lines += field_lines(task.settings, "task_args.", note=task.name)
    lines += ["", "method_args per method: see `studio methods`; task_args per task: `studio tasks`.",
              "Example: examples/minilm-lora.yaml"]
    return "\n".join(lines)


def _subcommands(ap: argparse.ArgumentParser):
    sub = ap.add_subparsers(dest="cmd", required=True)

    def add(name, fn, help, json_flag=True, **kw):
        p = sub.add_parser(name, help=help, description=kw.pop("description", help), **kw)
        if json_flag:
            p.add_argument("--json", action="store_true", help="Print machine-readable JSON.")
        p.set_defaults(fn=fn)
        return p
    return add


def _train_parser(add) -> None:
    p = add("train", cmd_train, "Start a run from a YAML/JSON config.", epilog=config_help(),
            formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="Run config file (YAML or JSON).")
    p.add_argument("--detach", action="store_true", help="Return at once with the run id; the run trains in the "
                                                          "background.")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="Override a config field, e.g. --set "
                                                                       "training.epochs=1 or --set task_args.beta=0.2.")


def _run_parsers(add) -> None:
    add("runs", cmd_runs, "List runs with status, task, model, method, best metric and duration.")
    for name, fn, h in (("show", cmd_show, "Show one run or sweep: status, progress, test metrics (a sweep's trials)."),
                        ("stop", cmd_simple("stop"), "Stop gracefully: finish the step, save a checkpoint (a sweep "
                                                     "stops its running trial)."),
                        ("kill", cmd_simple("kill"), "Kill the run's (or sweep's and its trial's) processes at once."),
                        ("resume", cmd_resume, "Continue a stopped or failed run from its last checkpoint, or "
                                               "a sweep where it stopped."),
                        ("delete", cmd_delete, "Delete a finished run and its folder.")):
        p = add(name, fn, h)
        p.add_argument("run", help="Run id (or sweep id for show, stop, kill, resume).")
        if name == "resume":
            p.add_argument("--batch-size", type=int, help="Resume with this batch size (one that ran out of memory: "
                           "half); gradient accumulation grows to keep the effective batch.")
            p.add_argument("--gradient-accumulation-steps", type=int, help="With --batch-size: the accumulation (the "
                           "product must stay the run's effective batch).")
            p.add_argument("--gradient-checkpointing", action="store_true", help="Resume with gradient "
                           "checkpointing on (less activation memory, about a third more time per step).")


def _sweep_parsers(add) -> None:
    p = add("sweep", cmd_sweep, "Let Optuna find the settings: trials are runs over a search space.",
            description=sweeps.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="The base run config (YAML or JSON).")
    p.add_argument("--space", help="A YAML/JSON file of the fields to vary; default: the learning rate around the "
                                   "method's default and the epochs around the config's.")
    add_options(p, SweepSettings)
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="Override a base config field.")
    p.add_argument("--detach", action="store_true", help="Return at once with the sweep id.")
    add("sweeps", cmd_sweeps, "List sweeps: status, trials done, best value and run.")


def _use_parsers(add) -> None:
    p = add("predict", cmd_predict, "Run a finished run on inputs: label texts, tag entities, answer prompts or "
            "generate targets, by the run's task.")
    p.add_argument("run", help="Run id.")
    p.add_argument("text", nargs="*", help="Inputs: texts to label or tag, prompts (SFT), sources (seq2seq), questions "
                                           "(question answering, with --context).")
    p.add_argument("--file", help="A text file with one input per line.")
    p.add_argument("--context", help="Question answering: the passage every question is answered from.")
    p.add_argument("--max-new-tokens", type=int, help="Generative tasks: most tokens to generate (default: the run's).")
    p.add_argument("--temperature", type=float,
                   help="Chat models: sampling temperature; 0 decodes greedily (default 0).")
    p.add_argument("--top-p", type=float, help="Chat models: nucleus sampling share (default 1.0).")
    p = add("data", cmd_data, "Check a data file: columns, labels, split sizes, token lengths, warnings.")
    p.add_argument("train", help="Training file (CSV, TSV, JSON, JSONL, Parquet; CoNLL for token classification).")
    p.add_argument("--task", choices=task_names(), default=DEFAULT_TASK,
                   help=f"What the data is for (default {DEFAULT_TASK}).")
    add_options(p, DataConfig, skip=("train",))
    p.add_argument("--model", help="Tokenizer for token-length percentiles (catalog name, hub id or folder).")
    add_options(p, TrainingConfig, only=("max_length",))
    p = add("export", cmd_export,
            "Zip a finished run's adapter or merged model with a model card, or push it to the hub.")
    p.add_argument("run", help="Run id.")
    p.add_argument("--kind", choices=(*KINDS, "gguf"),
                   help="adapter (PEFT runs), merged model, for encoder classifiers onnx / onnx-int8 (with their size "
                        "and test accuracy beside the original's), for chat models gguf (llama.cpp / Ollama, with a "
                        "Modelfile; --quant picks its number format), or reproduce: a standalone transformers + peft "
                        "script with the run's data; default: adapter when there is one.")
    p.add_argument("--quant", choices=GGUF_QUANTS, default="q8_0",
                   help="GGUF number format: f16, bf16 or q8_0 (8-bit blocks, about half of f16; default).")
    p.add_argument("--out", default=".", help="Folder for the zip (default: here).")
    p.add_argument("--push", metavar="OWNER/NAME", help="Push to this hub repository instead (token from the HF_TOKEN "
                                                        "environment variable).")
    p.add_argument("--public", action="store_true", help="Make a pushed repository public (default: private).")
    add("models", cmd_models, "List the model catalog.")
    add("methods", cmd_methods, "List the adaptation methods and their settings.")
    add("tasks", cmd_tasks, "List the tasks, their data, default models, metrics and own settings (task_args).")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="studio", description="Fine-tune transformer models: train, inspect, control and "
                                                            "use runs.")
    ap.add_argument("--runs-dir", default=None, help="Folder of runs and the registry (env STUDIO_RUNS_DIR; default "
                                                     "./runs).")
    ap.add_argument("--trust-remote-code", action="store_true",
                    help="Let models run Python code from their repositories (env STUDIO_TRUST_REMOTE_CODE=1; default "
                         "off).")
    ap.add_argument("--allow-reward-code", action="store_true",
                    help="Let reinforcement-learning runs score replies with a Python file (the code reward; env "
                         "STUDIO_ALLOW_REWARD_CODE=1; default off; never under the public policy).")
    ap.add_argument("--ray", default=None, metavar="ADDRESS",
                    help="Send runs to this Ray cluster and act on the runs there (env STUDIO_RAY; host:port of its "
                         "head, or auto).")
    ap.add_argument("--cluster-storage", default=None, metavar="URL",
                    help="With --ray: the object storage run folders travel through to nodes that share no file "
                         "system with this machine (env STUDIO_CLUSTER_STORAGE; s3://bucket/prefix).")
    add = _subcommands(ap)
    _train_parser(add)
    _run_parsers(add)
    _sweep_parsers(add)
    _use_parsers(add)
    label_commands.add_commands(add)
    augment_commands.add_commands(add)
    admin_commands.add_commands(add)
    serve_commands.add_commands(add)
    eval_commands.add_commands(add)
    cluster_commands.add_commands(add)
    return ap


def main(argv: list[str] | None = None) -> int:
    from studio.runs.store import open_store

    ap = build_parser()
    a = ap.parse_args(argv)
    log_filter.quiet_warnings()
    # Workers this command starts inherit these through the environment.
    if a.trust_remote_code:
        os.environ["STUDIO_TRUST_REMOTE_CODE"] = "1"
    if a.allow_reward_code:
        os.environ["STUDIO_ALLOW_REWARD_CODE"] = "1"
    if a.ray:
        os.environ["STUDIO_RAY"] = a.ray  # the Store and the config checks read it
    if a.cluster_storage:
        from studio.runs.cluster.bucket import check_url

        if not os.environ.get("STUDIO_RAY"):
            print("error: --cluster-storage is where runs travel to the nodes of a Ray cluster: give --ray ADDRESS "
                  "too.", file=sys.stderr)
            return 2
        try:
            os.environ["STUDIO_CLUSTER_STORAGE"] = check_url(a.cluster_storage)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    try:
        store = open_store(a.runs_dir)
        return a.fn(a, store)
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
