"""Labelling projects: a pool of unlabelled texts, rounds of suggestions, a person's labels, retraining.

A project lives in `<runs>/labelling/<id>/`, and the folder is the truth (a refresh, a second browser or a
restarted server find it as it was):

    project.json      what was asked: task, label set, columns, the config retraining starts from
    pool.<ext>        a copy of the pool; start.<ext> of the labelled start set; test.<ext> of the test file
    round-001.json    one round: how its rows were picked, each row's pool position, text, the model's
                      guess and score, and the label a person gave (empty until then); saved on every label
    labelled-<n>.csv  the labelled set a retrain used (start set + every label so far), one per retrain
    trained.json      the runs trained on the grown set: the learning curve (test score vs labels used)

Rows are found by their position in the pool file, never by text, so duplicate texts stay distinct.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studio.base import files, runfolder
from studio.base.access import owned_by
from studio.base.entity import LABELLING
from studio.base.errors import DataError, RunError
from studio.base.runfolder import RunFolder
from studio.config import DataConfig, RunConfig, load_run_config
from studio.data.describe import cjk_share
from studio.data.uploads import is_within
from studio.labels import query_strategies
from studio.labels.label_review import review_task
from studio.models.embeddings import embed
from studio.runs import quotas
from studio.runs.store import Store
from studio.serve import inference
from studio.tasks import get_task

PROJECT_FILE = "project.json"
LOCK_FILE = ".lock"  # held while a round or the trained list is read, changed and written
TRAINED_FILE = "trained.json"
ROUND_GLOB = "round-*.json"
MAX_ROUND = 1000
MAX_LABELS = 1000
Progress = Callable[[float, str], None]


def project_dir(store: Store, project_id: str, change: bool = False) -> Path:
    """The folder of a project the store's person may see (with change: may label, suggest and retrain in)."""
    folder = LABELLING.open(store.root, project_id, store.person, change=change)
    if not (folder / PROJECT_FILE).is_file():
        raise RunError(f"No labelling project {project_id} on this server.")
    return folder


def load(store: Store, project_id: str) -> dict[str, Any]:
    return json.loads((project_dir(store, project_id) / PROJECT_FILE).read_text())


def _data(folder: Path, spec: dict[str, Any], name: str) -> DataConfig:
    """The DataConfig that reads one of the project's files (pool, start, test) with its own columns."""
    text_column, label_column = spec["columns"][name]
    return DataConfig(train=str(folder / spec["files"][name]), text_column=text_column, label_column=label_column,
                      header=spec["header"], label_names=spec.get("label_names"))


# ------------------------------------------------------------------ create --
def labelling_task(task_name: str):
    return review_task(task_name, "Active learning")


def create(store: Store, pool: str, labelled: str | None = None, test: str | None = None,
           labels: list[str] | None = None, config: RunConfig | None = None, name: str | None = None) -> str:
    """Check the files, then write the project's folder; returns its id. `config` gives the task, the columns
    (data.text_column, data.label_column, data.header, data.label_names) and what retraining starts from."""
    store.person.check_can_write()
    config = config or RunConfig()
    task = labelling_task(config.task)
    d = config.data
    lim = store.person_limits()
    quotas.check_disk(store, store.person, lim, adding=sum(Path(p).stat().st_size for p in (pool, labelled, test)
                                                           if p and Path(p).is_file()))
    for path in (pool, labelled, test):
        if path and not store.person.sees_all and not is_within(path, quotas.readable_roots(store, store.person)):
            raise DataError(f"{Path(path).name} is not one of your files on this server; upload it here.")
    # Its base embeds the pool in this process (a cold start): a model the person may use, within the bounds.
    quotas.check_model(store, config.resolved().model, lim)
    read = lambda path, unlabelled_ok=False: task.rows_with_labels().labelled_rows(  # noqa: E731
        dataclasses.replace(d, train=path, validation=None, test=None), unlabelled_ok)
    pool_rows = read(pool, True)
    start_rows = read(labelled) if labelled else None
    test_rows = read(test) if test else None
    label_set = _label_set(labels, start_rows, pool_rows)
    if test_rows is not None:
        _check_known(test_rows, label_set, Path(test).name)
    if not [i for i, lab in enumerate(pool_rows.labels) if lab is None]:
        raise DataError(f"{Path(pool).name}: every row already has a label; the pool is the rows still to label "
                        "(leave their label empty or leave the label column out).")
    with LABELLING.creating(store.root, owned_by(store.person)) as (project_id, tmp):
        copies, columns = {}, {}
        for key, path, rows in (("pool", pool, pool_rows), ("start", labelled, start_rows), ("test", test, test_rows)):
            if path:
                copies[key] = key + Path(path).suffix.lower()
                columns[key] = [rows.text_column, rows.label_column]
                shutil.copyfile(path, tmp / copies[key])
        spec = {"id": project_id, "name": name or Path(pool).stem, "task": task.name, "labels": label_set,
                "files": copies, "columns": columns, "header": d.header, "label_names": d.label_names,
                "config": config.to_dict(), "created_at": time.time()}
        files.atomic_write_json(tmp / PROJECT_FILE, spec)
        files.atomic_write_json(tmp / TRAINED_FILE, [])
    return project_id


def _label_set(given: list[str] | None, start, pool) -> list[str]:
    found = set(given or [])
    for rows in (start, pool):
        if rows is not None:
            found.update(lab for lab in rows.labels if lab is not None)
    found.discard("")
    if len(found) > MAX_LABELS:
        raise DataError(f"{len(found)} labels: a labelling project takes at most {MAX_LABELS}; check the label column "
                        "(a column of free text is not labels).")
    if len(found) < 2:
        raise DataError("Name at least two labels (comma-separated) or bring a labelled start set: the studio has to "
                        "know what the labels are before anyone labels a row.")
    return sorted(found)


def _check_known(rows, label_set: list[str], file: str) -> None:
    unknown = sorted({lab for lab in rows.labels if lab is not None} - set(label_set))
    if unknown:
        raise DataError(f"{file}: label {unknown[0]!r} is not one of the project's labels ({_few(label_set)}).")


def _few(labels: list[str], n: int = 8) -> str:
    return ", ".join(labels[:n]) + (f" and {len(labels) - n} more" if len(labels) > n else "")


# ------------------------------------------------------------------ rounds --
def rounds(store: Store, project_id: str) -> list[dict[str, Any]]:
    folder = project_dir(store, project_id)
    return [json.loads(p.read_text()) for p in sorted(folder.glob(ROUND_GLOB))]


def _round_file(folder: Path, number: int) -> Path:
    return folder / f"round-{number:03d}.json"


def labelled_frame(store: Store, project_id: str) -> pd.DataFrame:
    """Every labelled row so far (text, label, where it came from): the start set, pool rows that came
    labelled, and every row a person labelled in a round."""
    folder, spec = project_dir(store, project_id), load(store, project_id)
    task = get_task(spec["task"])
    parts = []
    if "start" in spec["files"]:
        s = task.rows_with_labels().labelled_rows(_data(folder, spec, "start"))
        parts += [(t, lab, "start") for t, lab in zip(s.texts, s.labels) if lab is not None]
    pool = task.rows_with_labels().labelled_rows(_data(folder, spec, "pool"), True)
    parts += [(t, lab, "pool") for t, lab in zip(pool.texts, pool.labels) if lab is not None]
    for r in rounds(store, project_id):
        parts += [(row["text"], row["label"], f"round {r['round']}") for row in r["rows"] if row.get("label")]
    return pd.DataFrame(parts, columns=["text", "label", "source"])


def _candidates(store: Store, project_id: str, folder: Path, spec: dict[str, Any]) -> tuple[Any, list[int], list[str]]:
    """The pool's rows, the positions still to offer, and notes on what was left out."""
    task = get_task(spec["task"])
    pool = task.rows_with_labels().labelled_rows(_data(folder, spec, "pool"), True)
    asked = {row["pool_row"] for r in rounds(store, project_id) for row in r["rows"]}
    known = {t.casefold() for t in labelled_frame(store, project_id)["text"]}
    open_rows = [i for i, lab in enumerate(pool.labels) if lab is None and pool.rows[i] not in asked]
    fresh = [i for i in open_rows if pool.texts[i].casefold() not in known]
    notes = []
    if len(fresh) < len(open_rows):
        notes.append(f"{len(open_rows) - len(fresh)} pool rows are already in the labelled set (same text); "
                     "they are left out.")
    return pool, fresh, notes


def next_round(store: Store, project_id: str, n: int = 50, strategy: str = query_strategies.DEFAULT_STRATEGY,
               run_id: str | None = None, seed: int = 0, progress: Progress | None = None) -> dict[str, Any]:
    """Pick the next n rows to label (with run_id: by the strategy on that run's probabilities; without:
    a cold start over the pool's embeddings) and save them as a new round."""
    folder, spec = project_dir(store, project_id, change=True), load(store, project_id)
    pool, cand, notes = _candidates(store, project_id, folder, spec)
    record = pick_rows(store, spec, pool, cand, n, strategy, run_id, seed, progress)
    with files.locked(folder / LOCK_FILE):  # two people asking at once get two rounds, not one number twice
        number = len(rounds(store, project_id)) + 1
        record = {"round": number, **record, "notes": notes + record["notes"],
                  "labelled_before": len(labelled_frame(store, project_id))}
        files.atomic_write_json(_round_file(folder, number), record)
    return record


def pick_rows(store: Store, spec: dict[str, Any], pool, cand: list[int], n: int, strategy: str,
              run_id: str | None, seed: int = 0, progress: Progress | None = None) -> dict[str, Any]:
    """{strategy, run, how, notes, rows}: the n candidate rows of the pool to label next."""
    if strategy not in query_strategies.STRATEGIES:
        raise DataError(f"Unknown strategy {strategy!r}; choose one of {', '.join(query_strategies.STRATEGIES)}.")
    if not 1 <= int(n) <= MAX_ROUND:
        raise DataError(f"Ask for 1 to {MAX_ROUND} rows per round (not {n}).")
    if not cand:
        raise DataError("Every pool row has been offered or labelled already; there is nothing left to suggest.")
    say = progress or (lambda share, what: None)
    texts = [pool.texts[i] for i in cand]
    probs, labels = _run_probabilities(store, spec, run_id, texts, say) if run_id else (None, [])
    vectors = None
    if probs is None or strategy in query_strategies.NEEDS_EMBEDDINGS:
        say(0.5, f"Embedding {len(texts)} pool texts")
        vectors = embed(_embedding_model(store, spec, run_id, texts), texts)
    picks = query_strategies.pick(strategy, int(n), probs, vectors, seed)
    say(1.0, f"Picked {len(picks.positions)} rows")
    return {"strategy": strategy if probs is not None else query_strategies.COLD_START, "run": run_id, "how": picks.how,
            "notes": list(picks.notes), "created_at": time.time(),
            "rows": [_row(pool, cand[k], probs[k] if probs is not None else None, labels, s)
                     for k, s in zip(picks.positions, picks.scores)]}


def _row(pool, at: int, p: np.ndarray | None, labels: list[str], score: float) -> dict[str, Any]:
    guess, conf = ("", None) if p is None else (labels[int(p.argmax())], round(float(p.max()), 4))
    return {"pool_row": pool.rows[at], "text": pool.texts[at], "suggestion": guess, "confidence": conf,
            "score": score, "label": ""}


def _run_probabilities(store: Store, spec: dict[str, Any], run_id: str, texts: list[str],
                       say: Progress) -> tuple[np.ndarray, list[str]]:
    run_dir = store.run_dir(run_id)
    if not run_dir.is_dir():
        raise RunError(f"No run {run_id} on this server.")
    cfg = load_run_config(run_dir)
    if cfg.task != spec["task"]:
        raise DataError(f"Run {run_id} is a {cfg.task} run; this project labels {spec['task']} data, so its "
                        "suggestions need a run of that task.")
    if runfolder.read_status(run_dir).get("status") != "completed":
        raise RunError(f"Run {run_id} has not finished; suggestions need a completed run (or none: a cold start).")
    say(0.1, f"Scoring {len(texts)} pool texts with run {run_id}")
    preds = inference.predict(run_dir, texts)
    labels = sorted(preds[0]["probabilities"]) if preds else []
    return np.array([[p["probabilities"][lab] for lab in labels] for p in preds]), labels


def _embedding_model(store: Store, spec: dict[str, Any], run_id: str | None, texts: list[str]) -> str:
    """The frozen base that measures the pool: the run's base, else the project config's (`auto`: the task's base
    for texts like these, the multilingual one for mostly-CJK pools)."""
    if run_id:
        return load_run_config(store.run_dir(run_id)).model
    cfg = dataclasses.replace(RunConfig(), task=spec["config"]["task"], model=spec["config"]["model"])
    return cfg.with_base(cjk_share(texts)).model


def base_config(store: Store, project_id: str) -> RunConfig:
    """The config a retrain starts from (its data is the labelled set at that time)."""
    folder, spec = project_dir(store, project_id), load(store, project_id)
    raw = json.loads(json.dumps(spec["config"]))
    raw["data"]["train"] = str(folder / spec["files"]["pool"])  # a placeholder the retrain replaces
    return RunConfig.from_dict(raw)


# ------------------------------------------------------------------ labels --
def save_labels(store: Store, project_id: str, number: int, labels: Mapping[int, str]) -> dict[str, Any]:
    """Record a person's labels for rows of a round ({pool_row: label}; an empty label clears one). Every
    label is checked before anything is written, so a wrong one loses nothing saved before. The round is read,
    changed and written under the project's lock: two people labelling at once each keep their labels."""
    folder, spec = project_dir(store, project_id, change=True), load(store, project_id)
    path = _round_file(folder, int(number))
    if not path.is_file():
        raise DataError(f"Project {project_id} has no round {number}; ask for suggestions first.")
    with files.locked(folder / LOCK_FILE):
        record = json.loads(path.read_text())
        by_row = {row["pool_row"]: row for row in record["rows"]}
        for pool_row, raw in labels.items():
            if int(pool_row) not in by_row:
                raise DataError(f"Pool row {pool_row} is not in round {number}; label the rows the round offers.")
            by_row[int(pool_row)]["label"] = check_label(raw, spec["labels"], f"Pool row {pool_row}: ")
        record["saved_at"] = time.time()
        files.atomic_write_json(path, record)
    return record


def check_label(raw: Any, label_set: list[str], where: str = "") -> str:
    """A label as the set spells it ("" for none); one outside the set is refused, naming the closest."""
    value = "" if raw is None or (isinstance(raw, float) and np.isnan(raw)) else str(raw).strip()
    if value == "" or value in label_set:
        return value
    folded = {lab.casefold(): lab for lab in label_set}
    if value.casefold() in folded:
        return folded[value.casefold()]
    close = difflib.get_close_matches(value, label_set, n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise DataError(f"{where}{value!r} is not one of the labels; {hint}The labels are {_few(label_set)}.")


# ------------------------------------------------------------------ training --
def retrain(store: Store, project_id: str, config: RunConfig | None = None) -> str:
    """Train a run on every label so far (with the project's test file when it has one); returns its id."""
    folder, spec = project_dir(store, project_id, change=True), load(store, project_id)
    frame = labelled_frame(store, project_id)
    if frame.empty:
        raise DataError("Nothing is labelled yet; label some suggested rows first.")
    snapshot = folder / f"labelled-{len(frame)}.csv"
    frame[["text", "label"]].to_csv(snapshot, index=False)
    cfg = config or base_config(store, project_id)
    test = str(folder / spec["files"]["test"]) if "test" in spec["files"] else None
    data = dataclasses.replace(cfg.data, train=str(snapshot), validation=None, test=None, text_column="text",
                               label_column="label", header=True, label_names=None, max_rows=None)
    cfg = dataclasses.replace(cfg, data=data, name=f"{spec['name']}: {len(frame)} labels")
    if test:
        cfg = _with_test(cfg, folder, spec)
    run_id = store.create(cfg)
    with files.locked(folder / LOCK_FILE):
        trained = files.read_json(folder / TRAINED_FILE) or []
        trained.append({"run": run_id, "labels": len(frame), "round": len(rounds(store, project_id)),
                        "created_at": time.time()})
        files.atomic_write_json(folder / TRAINED_FILE, trained)
    return run_id


def _with_test(cfg: RunConfig, folder: Path, spec: dict[str, Any]) -> RunConfig:
    """The test file as text,label CSV (the project's columns may differ from the snapshot's)."""
    rows = get_task(spec["task"]).rows_with_labels().labelled_rows(_data(folder, spec, "test"))
    path = folder / "test-rows.csv"
    if not path.exists():
        pd.DataFrame({"text": rows.texts, "label": rows.labels}).dropna().to_csv(path, index=False)
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, test=str(path)))


def curve(store: Store, project_id: str) -> list[dict[str, Any]]:
    """One row per retrain: labels used, the run, its status and test scores."""
    folder = project_dir(store, project_id)
    out = []
    for t in files.read_json(folder / TRAINED_FILE) or []:
        try:
            rd = store.run_dir(t["run"])
        except RunError:  # a run of the project that its reader may not see (an admin's retrain)
            continue
        report = files.read_json(RunFolder(rd).report) or {}
        out.append({**t, "status": runfolder.read_status(rd).get("status", "deleted") if rd.is_dir() else "deleted",
                    "metrics": report.get("metrics") or {}})
    return out


def list_projects(store: Store) -> list[dict[str, Any]]:
    """The projects the store's person may see, newest first."""
    out = []
    for project_id in LABELLING.visible(store.root, store.person):
        folder = LABELLING.folder(store.root, project_id)
        spec = files.read_json(folder / PROJECT_FILE)
        if spec:
            rs = [json.loads(p.read_text()) for p in sorted(folder.glob(ROUND_GLOB))]
            done = sum(1 for r in rs for row in r["rows"] if row.get("label"))
            out.append({"id": spec["id"], "name": spec["name"], "task": spec["task"], "rounds": len(rs),
                        "labelled_in_rounds": done, "created_at": spec["created_at"]})
    return out


def project_of_run(store: Store, run_id: str) -> str | None:
    """The labelling project that trained this run, if any (and if the store's person may see it)."""
    for project_id in LABELLING.visible(store.root, store.person):
        path = LABELLING.folder(store.root, project_id) / TRAINED_FILE
        if any(t.get("run") == run_id for t in files.read_json(path) or []):
            return project_id
    return None


# ------------------------------------------------------------ without a project (the CLI's files) --
SUGGESTION_COLUMNS = ("pool_row", "text", "suggestion", "confidence", "score", "label")


def suggest(store: Store, run_id: str | None, pool: str, n: int = 50, strategy: str = query_strategies.DEFAULT_STRATEGY,
            labelled: str | None = None, config: RunConfig | None = None, seed: int = 0,
            progress: Progress | None = None) -> dict[str, Any]:
    """The rows of a pool file to label next, without a project: rows that already carry a label, in the pool
    or in the `labelled` file (same text), are left out. The run's config says the task and columns."""
    config = config or (load_run_config(store.run_dir(run_id)) if run_id else RunConfig())
    task = labelling_task(config.task)
    read = lambda path: dataclasses.replace(config.data, train=path, validation=None, test=None)  # noqa: E731
    pool_rows = task.rows_with_labels().labelled_rows(read(pool), True)
    known = {t.casefold() for t, lab in zip(pool_rows.texts, pool_rows.labels) if lab is not None}
    if labelled:
        start = task.rows_with_labels().labelled_rows(read(labelled))
        known |= {t.casefold() for t, lab in zip(start.texts, start.labels) if lab is not None}
    open_rows = [i for i, lab in enumerate(pool_rows.labels) if lab is None]
    cand = [i for i in open_rows if pool_rows.texts[i].casefold() not in known]
    if open_rows and not cand:
        raise DataError(f"Every unlabelled row of {Path(pool).name} is already in the labelled set; the pool and the "
                        "labelled file are the same rows.")
    spec = {"task": task.name, "config": config.to_dict()}
    record = pick_rows(store, spec, pool_rows, cand, n, strategy, run_id, seed, progress)
    if len(cand) < len(open_rows):
        record["notes"].insert(0, f"{len(open_rows) - len(cand)} pool rows are already labelled (same text); "
                               "they are left out.")
    return record


def suggestions_frame(record: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(record["rows"], columns=list(SUGGESTION_COLUMNS))


def merge_labels(task_name: str, labelled: str | None, rounds_files: list[str], out: str | Path,
                 data: DataConfig | None = None) -> tuple[Path, int]:
    """A training file (text, label) of the labelled set plus every labelled row of the rounds' CSVs (their text
    and label columns); rows left unlabelled are skipped. Returns the file and the rows added."""
    task = labelling_task(task_name)
    data = data or DataConfig()
    frames = []
    label_set: list[str] | None = None
    if labelled:
        start = task.rows_with_labels().labelled_rows(dataclasses.replace(data, train=labelled, validation=None,
                                                                          test=None))
        frames.append(pd.DataFrame({"text": start.texts, "label": start.labels}).dropna())
        label_set = sorted(set(frames[0]["label"]))
    added = 0
    for path in rounds_files:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        if not {"text", "label"} <= set(df.columns):
            raise DataError(f"{Path(path).name} has no text and label columns; label the CSV `studio suggest` wrote.")
        df = df[df["label"].str.strip() != ""]
        if label_set is not None:
            df = df.assign(label=[check_label(v, label_set, f"{Path(path).name} line {i + 2}: ")
                                  for i, v in zip(df.index, df["label"])])
        frames.append(df[["text", "label"]])
        added += len(df)
    if not frames or sum(len(f) for f in frames) == 0:
        raise DataError("Nothing is labelled in these files; fill the label column of the suggested rows first.")
    out = Path(out)
    pd.concat(frames, ignore_index=True).to_csv(out, index=False)
    return out, added


# ------------------------------------------------------------------ reading --
def describe(store: Store, project_id: str) -> dict[str, Any]:
    """What the Label tab shows: the spec, its rounds (rows offered, labelled), the labelled total, the curve."""
    spec = load(store, project_id)
    rs = rounds(store, project_id)
    return {"spec": spec, "rounds": [{"round": r["round"], "strategy": r["strategy"], "run": r["run"],
                                      "offered": len(r["rows"]),
                                      "labelled": sum(1 for x in r["rows"] if x.get("label"))}
                                     for r in rs],
            "labelled": len(labelled_frame(store, project_id)), "curve": curve(store, project_id)}


def curve_points(rows: list[dict[str, Any]], metric: str = "accuracy") -> list[tuple[int, float]]:
    """(labels used, test score) of the finished retrains."""
    return [(r["labels"], float(r["metrics"][metric])) for r in rows
            if r["status"] == "completed" and isinstance(r["metrics"].get(metric), (int, float))]
