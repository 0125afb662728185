"""The judges checked before a run exists (in the web process or the CLI: nothing of the person's code runs
there) and loaded in the worker."""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path
from typing import Any, Callable

from studio.base import files, runfolder
from studio.base.errors import ConfigError
from studio.base.policy import reward_code_allowed
from studio.base.runfolder import RunFolder
from studio.data.report import OneLabelPerRow
from studio.serve.inference import LoadedRun
from studio.tasks import get_task

JUDGE_BATCH = 32
CODE_MAX_BYTES = 1_000_000
CODE_REFUSED = ("task_args.rewards: the code reward runs a Python file of yours on this server, which its operator "
                "has not allowed (`launch.py --allow-reward-code` or `studio --allow-reward-code`, and never under "
                "the public policy); pick the built-in rewards or a classifier run instead.")


# ------------------------------------------------------------------------------------ before a run exists --
def classifier_record(run_dir: Callable[[str], Path], run_id: str, label: str) -> dict[str, Any]:
    """What the new run records of its classifier judge; a ConfigError when the run cannot judge: not one the
    person may see, not completed, not a classifier, or without that label."""
    rd, meta = runfolder.completed_run(run_dir, run_id, "task_args.classifier_run", "score replies")
    task = get_task(meta["task"])
    if task.capability(OneLabelPerRow) is None:
        raise ConfigError(f"task_args.classifier_run: run {run_id} is a {task.texts.title.en} run; the classifier "
                          "reward needs a run that gives each text one label (text classification).")
    if label not in meta["labels"]:
        shown = ", ".join(map(repr, meta["labels"][:12])) + (", ..." if len(meta["labels"]) > 12 else "")
        raise ConfigError(f"task_args.classifier_label: run {run_id} has no label {label!r}; its labels are "
                          f"{shown}.")
    return {"run": run_id, "dir": str(rd), "label": label, "labels": list(meta["labels"]),
            "base_model": meta["base_model"], "method": meta["method"]}


def code_record(path: str, function: str) -> dict[str, Any]:
    """The reward file's source as the new run keeps it; a ConfigError when code is not allowed here, the file
    cannot be read, is not Python, or defines no such function. The file is parsed, never run, here."""
    if not reward_code_allowed():
        raise ConfigError(CODE_REFUSED)
    p = Path(path).expanduser()
    if p.suffix != ".py":
        raise ConfigError(f"task_args.reward_code: {p.name} is not a Python file (.py).")
    try:
        raw = p.read_bytes()[:CODE_MAX_BYTES + 1]
    except OSError as e:
        raise ConfigError(f"task_args.reward_code: {p} cannot be read ({e.strerror or e}).") from None
    if len(raw) > CODE_MAX_BYTES:
        raise ConfigError(f"task_args.reward_code: {p.name} is over {CODE_MAX_BYTES // 1_000_000} MB; a reward file "
                          "holds functions, not data.")
    try:
        source = raw.decode("utf-8")
        tree = ast.parse(source, filename=p.name)
    except (UnicodeDecodeError, SyntaxError) as e:
        raise ConfigError(f"task_args.reward_code: {p.name} is not Python that can be read ({e}).") from None
    defined = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if function not in defined:
        raise ConfigError(f"task_args.reward_code_function: {p.name} defines no top-level function {function!r} "
                          f"(it defines {', '.join(defined) or 'none'}).")
    return {"path": str(p.resolve()), "function": function, "source": source,
            "sha256": hashlib.sha256(raw).hexdigest()}


def records(run_dir: Path) -> dict[str, Any] | None:
    return files.read_json(RunFolder(Path(run_dir)).judge)


# -------------------------------------------------------------------------------------------- training --
def classifier_scorer(rec: dict[str, Any], device: str) -> Callable[[list[str]], list[float]]:
    """Each text's probability of the judge's label, from the judge's model on `device` (the run's own)."""
    judge = LoadedRun(Path(rec["dir"]), device=device)
    label = rec["label"]

    def score(texts: list[str]) -> list[float]:
        return [float(p["probabilities"][label]) for p in judge.predict(list(texts), batch_size=JUDGE_BATCH)]

    return score


def code_reward(rec: dict[str, Any]) -> Callable:
    """The person's reward function, from the source the run recorded (allowed again here: a worker whose server
    no longer allows code runs none); what it raises is said with its file and function."""
    if not reward_code_allowed():
        raise ConfigError(CODE_REFUSED)
    name, where = rec["function"], Path(rec["path"]).name
    namespace: dict[str, Any] = {"__name__": "studio_reward_code", "__file__": rec["path"]}
    try:
        exec(compile(rec["source"], rec["path"], "exec"), namespace)  # noqa: S102 - the operator allowed it
    except Exception as e:  # noqa: BLE001 - the person's module: one sentence, then the traceback
        raise ConfigError(f"task_args.reward_code: {where} raised {type(e).__name__} while loading: {e}") from e
    fn = namespace[name]

    def reward(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - as above
            raise ConfigError(f"task_args.reward_code: {where}:{name} raised {type(e).__name__}: {e}") from e

    return reward


# ------------------------------------------------------------------------------------------ for the pages --
def classifier_runs(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(label, id) of the completed runs among `rows` (Store.list: those a person may see) that can judge: their
    task gives each text one label."""
    out = []
    for r in rows:
        try:
            judges = r.get("status") == "completed" and get_task(r.get("task")).capability(OneLabelPerRow)
        except ValueError:  # a task this version does not know
            judges = False
        if judges:
            out.append((f"{r.get('name') or r.get('model') or ''} · {r['id']}".strip(" ·"), r["id"]))
    return out


def classifier_labels(run_dir: Path) -> list[str]:
    """The labels a classifier run's model knows ([] before it has one)."""
    meta = runfolder.model_meta(run_dir)
    return list(meta["labels"]) if meta else []
