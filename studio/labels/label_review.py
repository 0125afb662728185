"""Label review: the rows whose label is probably wrong, ranked, with the label the studio thinks is right.

cleanlab (confident learning) needs each row's class probabilities from a model that never saw that row.
They come from k-fold cross-validation of a logistic regression on the frozen base's sentence embeddings
(studio.models.embeddings): cheap (one forward pass over the file, then seconds of linear fits) and out-of-sample
by construction. cleanlab estimates how many labels are wrong (its confident joint) and ranks the rows by
self-confidence (the probability of the given label); the least sure rows, as many as the estimate, are the
suspects.

A person decides per suspect (keep, drop, or another label); `apply_decisions` writes a new file beside
whatever asked for it, in the original's format, and never changes the original.
"""

from __future__ import annotations

import dataclasses
import difflib
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studio.base.errors import DataError
from studio.base.settings import setting
from studio.data import DataConfig, LabelledRows, read_table, write_table
from studio.data.describe import cjk_share
from studio.models.embeddings import embed
from studio.tasks import all_tasks, get_task

KEEP, DROP = "keep", "drop"
MIN_ROWS = 10
Progress = Callable[[float, str], None]  # (share done 0..1, what is happening)


@dataclass
class ReviewSettings:
    model: str = setting("", "Base whose frozen sentence embeddings the check reads; empty: the task's default "
                    "(the bundled MiniLM). Nothing trains.",
                         zh="读取其冻结句向量来检查的基础模型；留空：任务的默认模型（内置的 MiniLM）。"
                            "不会训练任何模型。")
    folds: int = setting(5, "Cross-validation folds: each row's probabilities come from a linear model fitted on the "
                    "other folds, never on the row itself.",
                         zh="交叉验证的折数：每行的概率来自在其他折上拟合的线性模型，"
                            "从不在该行本身上拟合。", min=2, max=20)
    max_length: int = setting(128, "Tokens of each text the encoder reads.",
                              zh="编码器读取每条文本的词元数。", min=8, max=4096)
    seed: int = setting(0, "Seed of the fold split.", zh="划分折的随机种子。", min=0)


@dataclass
class Suspect:
    row: int                # position among the file's data rows (0 = first data row)
    text: str
    given: str
    suggested: str          # the most likely other label
    p_suggested: float      # out-of-sample probability of the suggestion
    p_given: float          # ... and of the given label (low: the studio is sure it is wrong)


@dataclass
class Review:
    file: str
    rows: int               # labelled rows checked
    labels: list[str]
    suspects: list[Suspect]
    how: str                # where the probabilities came from, in a sentence the UI shows
    cv_accuracy: float      # the linear model's out-of-sample accuracy: how much to trust the ranking
    seconds: float

    def frame(self) -> pd.DataFrame:
        cols = [f.name for f in dataclasses.fields(Suspect)]
        return pd.DataFrame([dataclasses.asdict(s) for s in self.suspects], columns=cols)

    def summary(self) -> str:
        share = len(self.suspects) / max(self.rows, 1)
        return (f"{len(self.suspects)} of {self.rows} rows ({share:.1%}) probably carry a wrong label. {self.how} "
                f"That model labels {self.cv_accuracy:.1%} of the rows as given ({self.seconds:.0f} s).")


def review_task(task_name: str, what: str = "Label review"):
    """The task, when label review and active learning apply to its data (one label per row)."""
    task = get_task(task_name)
    if not task.reviews_labels:
        able = ", ".join(t.name for t in all_tasks() if t.reviews_labels)
        raise DataError(f"{what} works on data with one label per row ({able}); {task_name} data has none.")
    return task


def find_suspects(task_name: str, data: DataConfig, settings: ReviewSettings | None = None,
                  progress: Progress | None = None) -> Review:
    """Rank the rows of data.train whose label is probably wrong."""
    settings = settings or ReviewSettings()
    task = review_task(task_name)
    t0 = time.time()
    rows = task.rows_with_labels().labelled_rows(data)
    at = rows.labelled()
    labels = sorted({rows.labels[i] for i in at})
    if len(at) < MIN_ROWS or len(labels) < 2:
        raise DataError(f"{Path(data.train).name}: label review needs at least {MIN_ROWS} labelled rows and 2 labels "
                        f"(it has {len(at)} rows, {len(labels)} label{'s' * (len(labels) != 1)}).")
    model = settings.model or task.model.base_for(cjk_share([rows.texts[i] for i in at]))
    say = progress or (lambda share, what: None)
    say(0.0, f"Reading {len(at)} texts with {model}")
    x = embed(model, [rows.texts[i] for i in at], settings.max_length,
              progress=lambda done, total: say(0.8 * done / total, f"Embedding texts: {done}/{total}"))
    index = {lab: k for k, lab in enumerate(labels)}
    y = np.array([index[rows.labels[i]] for i in at])
    say(0.85, f"Cross-validating a linear model ({settings.folds} folds)")
    probs, folds = out_of_sample_probabilities(x, y, settings.folds, settings.seed)
    say(0.95, "Finding label issues (cleanlab)")
    suspects = [_suspect(rows, at[i], labels, probs[i], y[i]) for i in ranked_issues(y, probs)]
    how = (f"Out-of-sample probabilities: {folds}-fold logistic regression on the frozen {model} "
           "sentence embeddings; cleanlab estimates how many labels are wrong and ranks the rows.")
    return Review(file=Path(data.train).name, rows=len(at), labels=labels, suspects=suspects, how=how,
                  cv_accuracy=float((probs.argmax(1) == y).mean()), seconds=time.time() - t0)


def out_of_sample_probabilities(x: np.ndarray, y: np.ndarray, folds: int, seed: int) -> tuple[np.ndarray, int]:
    """(rows, classes) probabilities, each row's from a model fitted without it; and the folds used."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    smallest = int(np.bincount(y).min())
    folds = max(2, min(folds, len(y) // 2, max(smallest, 2)))
    # Unit-length embeddings give small logits; a weaker penalty lets the probabilities be sure where the data is.
    clf = LogisticRegression(C=10.0, max_iter=2000)
    with warnings.catch_warnings():  # a class rarer than the folds is missing from some fits: its column is 0 there
        warnings.simplefilter("ignore")
        probs = cross_val_predict(clf, x, y, cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
                                  method="predict_proba")
    probs = np.clip(probs, 1e-6, None)
    return probs / probs.sum(1, keepdims=True), folds


def ranked_issues(y: np.ndarray, probs: np.ndarray) -> list[int]:
    """Positions of the rows whose label is probably wrong, least likely given label first: as many as cleanlab
    estimates the data has (the off-diagonal mass of its confident joint), taken from the bottom of its label
    quality ranking. cleanlab's own filter (find_label_issues, pruning by noise rate) flags every row its
    classifier doubts, about twice the real count on the benchmark sets; the estimated count with the ranking
    flags about as many rows as there are errors (bench/RESULTS.md, "Label review")."""
    from cleanlab.count import num_label_issues
    from cleanlab.rank import get_label_quality_scores

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        n = int(num_label_issues(y, probs))
        quality = get_label_quality_scores(y, probs, method="self_confidence")
    return [int(i) for i in np.argsort(quality, kind="stable")[:n]]


def _suspect(rows: LabelledRows, at: int, labels: list[str], p: np.ndarray, given: int) -> Suspect:
    others = np.argsort(-p)
    best = next(int(k) for k in others if k != given)
    return Suspect(row=rows.rows[at], text=rows.texts[at], given=labels[given], suggested=labels[best],
                   p_suggested=round(float(p[best]), 4), p_given=round(float(p[given]), 4))


# ------------------------------------------------------------------ decisions --
@dataclass
class Cleaned:
    path: Path
    kept: int
    relabelled: int
    dropped: int

    def summary(self) -> str:
        return (f"Saved {self.path.name}: {self.relabelled} relabelled, {self.dropped} dropped, the rest as they were "
                f"({self.kept} rows). The original file is unchanged.")


def check_decisions(decisions: Mapping[int, str], labels: list[str]) -> dict[int, str]:
    """{row: keep | drop | a label}, each decision checked; a label outside the file's set is refused."""
    out = {}
    for row, raw in decisions.items():
        d = str(raw if raw is not None else "").strip()
        if d.lower() in ("", KEEP):
            continue
        if d.lower() == DROP:
            out[int(row)] = DROP
            continue
        if d not in labels:
            close = difflib.get_close_matches(d, labels, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise DataError(f"Row {row}: {d!r} is not one of the file's labels{hint}; write keep, drop or one of "
                            "its labels.")
        out[int(row)] = d
    return out


def apply_decisions(task_name: str, data: DataConfig, decisions: Mapping[int, str], out: str | Path) -> Cleaned:
    """Write data.train with the decisions applied to `out` (a new file, same format); the original is untouched."""
    task = review_task(task_name)
    out = Path(out)
    if out.exists() and out.resolve() == Path(data.train).resolve():
        raise DataError(f"{out.name} is the original file; save the reviewed copy under another name.")
    rows = task.rows_with_labels().labelled_rows(data)
    labels = sorted({lab for lab in rows.labels if lab is not None})
    chosen = check_decisions(decisions, labels)
    unknown = sorted(set(chosen) - set(rows.rows))
    if unknown:
        raise DataError(f"Row {unknown[0]} is not a labelled row of {Path(data.train).name} "
                        f"(rows 0 to {max(rows.rows)}); the decisions belong to another file.")
    raw = read_table(data.train, "Training", header=data.header)
    column = raw[rows.label_column].astype(object)
    relabel = {r: d for r, d in chosen.items() if d != DROP}
    for r, label in relabel.items():
        column.iloc[r] = rows.stored.get(label, label)
    raw[rows.label_column] = column
    dropped = [r for r, d in chosen.items() if d == DROP]
    kept = raw.drop(index=raw.index[dropped])
    write_table(kept, out, header=data.header, like=data.train)
    return Cleaned(path=out, kept=len(kept), relabelled=len(relabel), dropped=len(dropped))


def decisions_from_csv(path: str | Path) -> dict[int, str]:
    """The decisions in a suspects CSV a person edited: its `row` and `decision` columns."""
    df = read_table(str(path), "Decisions")
    missing = [c for c in ("row", "decision") if c not in df.columns]
    if missing:
        raise DataError(f"{Path(path).name} has no {' or '.join(missing)} column; write the suspects with "
                        "`studio clean`, then fill each row's decision (keep, drop or a label).")
    return {int(r): ("" if pd.isna(d) else str(d)) for r, d in zip(df["row"], df["decision"])}


def suspects_csv(review: Review, path: str | Path) -> Path:
    """The suspects as CSV, with an empty decision column to fill (keep, drop or a label)."""
    from studio.serve.label_file import inert_frame

    frame = review.frame().assign(decision="")
    return write_table(inert_frame(frame), path)


def settings_from(raw: Mapping[str, Any] | None) -> ReviewSettings:
    known = {f.name for f in dataclasses.fields(ReviewSettings)}
    extra = set(raw or {}) - known
    if extra:
        raise DataError(f"Unknown label review setting {sorted(extra)[0]!r}; the settings are {sorted(known)}.")
    return ReviewSettings(**(raw or {}))
