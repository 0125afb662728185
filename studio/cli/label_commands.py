"""The `studio` commands that make the data better: clean (label review), suggest and merge-labels (active
learning without a project; the Label tab and studio.labels.labelling keep projects)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from studio.cli.options import add_options, build_from
from studio.config import DataConfig, RunConfig
from studio.labels import label_review, labelling, query_strategies
from studio.tasks import DEFAULT_TASK, task_names

COLUMNS = ("text_column", "label_column", "label_names", "header")  # how a file's columns are read


def _progress(quiet: bool):
    """A progress callback printing to stderr at most every 2 seconds."""
    last = [0.0]

    def say(share: float, what: str) -> None:
        if not quiet and (time.time() - last[0] > 2 or share >= 1.0):
            last[0] = time.time()
            print(f"[{share:4.0%}] {what}", file=sys.stderr, flush=True)
    return say


def _data(a, train: str) -> DataConfig:
    return build_from(a, DataConfig, train=train)


def cmd_clean(a, store) -> int:
    data = _data(a, a.data)
    stem = Path(a.data).stem
    if a.apply:
        out = Path(a.out or f"{stem}-reviewed{Path(a.data).suffix}")
        done = label_review.apply_decisions(a.task, data, label_review.decisions_from_csv(a.apply), out)
        print(json.dumps({"path": str(done.path), "kept": done.kept, "relabelled": done.relabelled,
                          "dropped": done.dropped}) if a.json else done.summary())
        return 0
    settings = label_review.ReviewSettings(model=a.model or "", folds=a.folds)
    review = label_review.find_suspects(a.task, data, settings, _progress(a.json), limit=a.limit)
    out = label_review.suspects_csv(review, a.out or f"{stem}-suspects.csv")
    if a.json:
        print(json.dumps({"file": review.file, "rows": review.rows, "how": review.how,
                          "cv_accuracy": review.cv_accuracy, "estimated": review.estimated,
                          "flagged": review.flagged, "suspects": len(review.suspects), "out": str(out)}))
        return 0
    print(review.summary())
    for s in review.suspects[:10]:
        print(f"  #{s.rank:<4} row {s.row:>6}  p(wrong) {s.p_wrong:.2f}  {s.given} -> {s.suggested}  {s.text[:60]}")
    further = "" if len(review.suspects) > review.flagged else (
        f" (--limit N lists the ranking further down, {review.rows} rows in all)")
    print(f"Wrote {len(review.suspects)} rows to {out}, the {review.flagged} flagged first{further}. Fill its "
          f"decision column (keep, drop or a label), then `studio clean {a.data} --apply {out}` writes a reviewed "
          "copy.")
    return 0


def cmd_suggest(a, store) -> int:
    run_id = None if a.run == "cold" else a.run
    config = None if run_id else RunConfig(task=a.task)
    record = labelling.suggest(store, run_id, a.pool, a.n, a.strategy, a.labelled, config, a.seed,
                               _progress(a.json))
    out = Path(a.out or f"{Path(a.pool).stem}-to-label.csv")
    labelling.suggestions_frame(record).to_csv(out, index=False)
    if a.json:
        print(json.dumps({"out": str(out), "rows": len(record["rows"]), "strategy": record["strategy"],
                          "how": record["how"], "notes": record["notes"]}))
        return 0
    for note in record["notes"]:
        print(f"note: {note}")
    print(f"{len(record['rows'])} rows to label ({record['strategy']}: {record['how']}) in {out}. Fill its label "
          f"column, then `studio merge-labels {out} --labelled YOUR_LABELLED.csv --out merged.csv` and "
          "`studio train` on merged.csv.")
    return 0


def cmd_merge_labels(a, store) -> int:
    path, added = labelling.merge_labels(a.task, a.labelled, a.files, a.out, _data(a, a.labelled or ""))
    print(json.dumps({"out": str(path), "added": added}) if a.json else
          f"Wrote {path}: {added} newly labelled rows added{' to ' + Path(a.labelled).name if a.labelled else ''}.")
    return 0


def _columns(p) -> None:
    p.add_argument("--task", choices=task_names(), default=DEFAULT_TASK,
                   help=f"What the data is for (default {DEFAULT_TASK}).")
    add_options(p, DataConfig, only=COLUMNS)


def add_commands(add) -> None:
    """Register clean, suggest and merge-labels with the parser's `add(name, fn, help)`."""
    p = add("clean", cmd_clean, "Find rows whose label is probably wrong (cleanlab on out-of-sample probabilities "
                                "from the frozen base's embeddings); --apply writes a reviewed copy.")
    p.add_argument("data", help="A labelled file (CSV, TSV, JSON, JSONL, Parquet).")
    p.add_argument("--model", help="Base whose embeddings are read (default: the task's, the bundled MiniLM).")
    p.add_argument("--folds", type=int, default=5, help="Cross-validation folds (default 5).")
    p.add_argument("--limit", type=int, default=0, help="Rows of the ranking to write: the flagged ones first, then "
                                                        "further down (default 0: the flagged ones only).")
    p.add_argument("--out", help="Where to write: the suspects CSV (default DATA-suspects.csv), or with --apply the "
                                 "reviewed copy (default DATA-reviewed.EXT). The original is never changed.")
    p.add_argument("--apply", metavar="SUSPECTS_CSV", help="A suspects CSV whose decision column you filled (keep, "
                                                           "drop or a label): write the data with those decisions.")
    _columns(p)
    p = add("suggest", cmd_suggest, "Active learning: the pool rows to label next, by a finished run's uncertainty.")
    p.add_argument("run", help="A finished run of the pool's task, or `cold` for a cold start (k-means over the "
                               "frozen base's embeddings).")
    p.add_argument("pool", help="A file of texts whose label column is missing or partly empty.")
    p.add_argument("--n", type=int, default=50, help="Rows to suggest (default 50).")
    p.add_argument("--strategy", choices=query_strategies.STRATEGIES, default=query_strategies.DEFAULT_STRATEGY,
                   help="; ".join(f"{k}: {v}" for k, v in query_strategies.STRATEGY_HELP.items()
                                  if k in query_strategies.STRATEGIES))
    p.add_argument("--labelled", help="The labelled set so far: its texts are left out of the suggestions.")
    p.add_argument("--out", help="The CSV to write (default POOL-to-label.csv); fill its label column.")
    p.add_argument("--seed", type=int, default=0, help="Seed of random picks and k-means (default 0).")
    p.add_argument("--task", choices=task_names(), default=DEFAULT_TASK, help="For a cold start: the pool's task.")
    p = add("merge-labels", cmd_merge_labels, "Add the labelled rows of suggestion CSVs to the labelled set: a "
                                              "training file for `studio train`.")
    p.add_argument("files", nargs="+", help="Suggestion CSVs with their label column filled.")
    p.add_argument("--labelled", help="The labelled set so far (its labels are the set new labels must come from).")
    p.add_argument("--out", required=True, help="The merged training file to write (CSV: text, label).")
    _columns(p)
