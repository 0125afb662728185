"""Label review: the rows whose label is probably wrong, ranked, with the label the studio thinks is right.

cleanlab (confident learning) needs each row's class probabilities from a model that never saw that row.
They come from k-fold cross-validation of a logistic regression on the frozen base's sentence embeddings
(studio.models.embeddings): cheap (one forward pass over the file, then seconds of linear fits) and out-of-sample
by construction. The regularisation is chosen by the same cross-validation (log loss, one-standard-error rule),
not fixed: a weak penalty lets the linear model memorise the flipped labels of a file it reads poorly, and its
out-of-sample probabilities then doubt many right labels with confidence (bench/RESULTS.md, "Label review").
cleanlab estimates how many labels are wrong (its confident joint): "about N look wrong". Every row is ranked
by self-confidence (the probability of its given label); among the N least sure rows, those whose best other
label is at least CONFIDENT_OTHER times as likely as the given one are flagged and listed first, and a person
can read on down the ranking past them.

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
from studio.base.text import Text
from studio.data import DataConfig, LabelledRows, read_table, write_table
from studio.data.describe import cjk_share
from studio.models.embeddings import embed
from studio.tasks import all_tasks, get_task

KEEP, DROP = "keep", "drop"
MIN_ROWS = 10
# Penalties tried, weakest regularisation last: unit-length embeddings need C of 1 to 100 (10 suited Banking77's
# 77 classes of 10 rows; 1 to 3 suits 4-5 classes of 200, where 10 already memorises flipped labels).
PENALTIES = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
# A row is flagged only when another label is at least this many times as likely as the given one: where the
# linear model reads the texts poorly, cleanlab's count takes in rows it merely leans away from (measured in
# bench/RESULTS.md, "Label review": on sets it reads well this drops almost no flipped row).
CONFIDENT_OTHER = 3.0
Progress = Callable[[float, str], None]  # (share done 0..1, what is happening)
WEAK_MODEL = 0.7  # below this out-of-sample agreement with the given labels, the summary says the estimate is rough


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
    rank: int               # place in the ranking: 1 = the label most likely wrong
    row: int                # position among the file's data rows (0 = first data row)
    text: str
    given: str
    suggested: str          # the most likely other label
    p_wrong: float          # out-of-sample probability that another label is right (1 - p_given)
    p_suggested: float      # out-of-sample probability of the suggestion
    p_given: float          # ... and of the given label (low: the studio is sure it is wrong)
    flagged: bool           # within the cut: one of the rows the estimate counts as wrong


@dataclass
class Ranking:
    """Every labelled row, flagged ones first, then the rest least likely given label first: what a listing of
    any length is cut from, without computing anything again."""
    order: list[int]        # positions among the labelled rows
    flagged: int            # order[:flagged] are flagged
    estimated: int          # cleanlab's estimate of how many labels are wrong


@dataclass
class Review:
    file: str
    rows: int               # labelled rows checked
    labels: list[str]
    suspects: list[Suspect]  # the top of the ranking: the flagged rows, then as far down as asked (`limit`)
    how: str                # where the probabilities came from, in a sentence the UI shows
    cv_accuracy: float      # the linear model's out-of-sample accuracy: how much to trust the ranking
    seconds: float
    estimated: int = 0      # about how many labels are wrong (cleanlab's estimate)
    flagged: int = 0        # suspects[:flagged] are the rows flagged as wrong
    folds: int = 5
    penalty: float = 0.0    # the logistic regression's C, chosen by cross-validation
    _listing: Callable[[int], list[Suspect]] | None = dataclasses.field(default=None, repr=False, compare=False)

    def frame(self) -> pd.DataFrame:
        cols = [f.name for f in dataclasses.fields(Suspect)]
        return pd.DataFrame([dataclasses.asdict(s) for s in self.suspects], columns=cols)

    def more(self, limit: int) -> "Review":
        """The same review listing `limit` rows of the ranking (never fewer than the flagged ones, at most every
        row); nothing is computed again."""
        if self._listing is None:
            return self
        return dataclasses.replace(self, suspects=self._listing(limit))

    def summary(self) -> Text:
        share = self.estimated / max(self.rows, 1)
        more = len(self.suspects) - self.flagged
        weak = self.cv_accuracy < WEAK_MODEL
        en = (f"About {self.estimated} of {self.rows} labels ({share:.1%}) probably carry a wrong label (an "
              f"estimate); the {self.flagged} most likely are flagged and listed first"
              + (f", then {more} more rows further down the ranking" if more > 0 else "") + f". {self.how} "
              f"That model labels {self.cv_accuracy:.1%} of the rows as given ({self.seconds:.0f} s).")
        zh = (f"估计 {self.rows} 个标签中约有 {self.estimated} 个（{share:.1%}）可能有误；最可能的 {self.flagged} "
              "行已标记并排在最前" + (f"，其后是排名更靠后的 {more} 行" if more > 0 else "") + "。"
              f"概率来自在冻结句向量上做 {self.folds} 折交叉验证的逻辑回归（惩罚 C={self.penalty:g}，由交叉验证选出），"
              f"由 cleanlab 估计错误数量并排序；另一标签的概率至少是给定标签的 {CONFIDENT_OTHER:g} 倍时才标记。"
              f"该模型与 {self.cv_accuracy:.1%} 的给定标签一致（{self.seconds:.0f} 秒）。")
        if weak:
            en += (" That is low: the base reads these texts poorly, so the estimate is rough and many suspects will "
                   "be right; a base made for the language reads them better.")
            zh += "一致率偏低：基础模型读不好这些文本，估计较粗，很多可疑行其实是对的；换用适合该语言的基础模型会更好。"
        return Text(en, zh)


def review_task(task_name: str, what: str = "Label review"):
    """The task, when label review and active learning apply to its data (one label per row)."""
    task = get_task(task_name)
    if not task.reviews_labels:
        able = ", ".join(t.name for t in all_tasks() if t.reviews_labels)
        raise DataError(f"{what} works on data with one label per row ({able}); {task_name} data has none.")
    return task


def find_suspects(task_name: str, data: DataConfig, settings: ReviewSettings | None = None,
                  progress: Progress | None = None, limit: int = 0) -> Review:
    """Rank the rows of data.train whose label is probably wrong: the flagged ones, then down the ranking to
    `limit` rows in all (0: the flagged ones only). `Review.more` lists further without computing again."""
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
    probe = cross_validated_probabilities(x, y, settings.folds, settings.seed)
    say(0.95, "Finding label issues (cleanlab)")
    ranking = rank_rows(y, probe.probs)

    def listing(n: int) -> list[Suspect]:
        n = min(len(ranking.order), max(int(n or 0), ranking.flagged))
        return [_suspect(rows, at[i], labels, probe.probs[i], y[i], rank + 1, rank < ranking.flagged)
                for rank, i in enumerate(ranking.order[:n])]

    how = (f"Out-of-sample probabilities: {probe.folds}-fold logistic regression (penalty C={probe.penalty:g}, chosen "
           f"by cross-validated log loss) on the frozen {model} sentence embeddings; cleanlab estimates how many "
           f"labels are wrong and ranks the rows; a row is flagged when another label is at least "
           f"{CONFIDENT_OTHER:g} times as likely as the given one.")
    return Review(file=Path(data.train).name, rows=len(at), labels=labels, suspects=listing(limit), how=how,
                  cv_accuracy=float((probe.probs.argmax(1) == y).mean()), seconds=time.time() - t0,
                  estimated=ranking.estimated, flagged=ranking.flagged, folds=probe.folds, penalty=probe.penalty,
                  _listing=listing)


@dataclass
class Probe:
    probs: np.ndarray       # (rows, classes), each row's from models fitted without it
    folds: int
    penalty: float          # the C chosen


def cross_validated_probabilities(x: np.ndarray, y: np.ndarray, folds: int, seed: int) -> Probe:
    """Out-of-sample probabilities of a logistic regression whose penalty the same folds choose: the most
    regularised C whose out-of-sample log loss is within one standard error of the best (the usual rule
    against choosing on noise; here it also keeps the model from fitting the very labels under review)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    smallest = int(np.bincount(y).min())
    folds = max(2, min(folds, len(y) // 2, max(smallest, 2)))
    split = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y))
    # One model per fold, each penalty starting from the previous one's solution: the path costs about three
    # plain fits. Past the best log loss the weaker penalties (the slowest fits) cannot be chosen: stop there.
    models = [LogisticRegression(max_iter=2000, warm_start=True) for _ in split]
    tried: list[tuple[float, np.ndarray, np.ndarray]] = []  # (C, probabilities, per-row log loss)
    with warnings.catch_warnings():  # a class rarer than the folds is missing from some fits: its column is 0 there
        warnings.simplefilter("ignore")
        for c in PENALTIES:
            probs = np.zeros((len(y), int(y.max()) + 1))
            for clf, (train, test) in zip(models, split):
                clf.set_params(C=c).fit(x[train], y[train])
                probs[np.ix_(test, clf.classes_)] = clf.predict_proba(x[test])
            probs = np.clip(probs, 1e-6, None)
            probs /= probs.sum(1, keepdims=True)
            tried.append((c, probs, -np.log(probs[np.arange(len(y)), y])))
            if tried[-1][2].mean() > min(t[2].mean() for t in tried):
                break
    best = min(tried, key=lambda t: t[2].mean())[2]
    enough = best.mean() + best.std() / np.sqrt(len(y))
    c, probs, _ = next(t for t in tried if t[2].mean() <= enough)
    return Probe(probs=probs, folds=folds, penalty=c)


def out_of_sample_probabilities(x: np.ndarray, y: np.ndarray, folds: int, seed: int) -> tuple[np.ndarray, int]:
    """(rows, classes) probabilities, each row's from a model fitted without it; and the folds used."""
    probe = cross_validated_probabilities(x, y, folds, seed)
    return probe.probs, probe.folds


def rank_rows(y: np.ndarray, probs: np.ndarray) -> Ranking:
    """Every row ranked, the flagged ones first. cleanlab estimates how many labels are wrong (the off-diagonal
    of its confident joint); of that many rows from the bottom of its self-confidence ranking, those whose best
    other label is at least CONFIDENT_OTHER times as likely as the given one are flagged. The rest follow,
    least likely given label first. cleanlab's own filter (find_label_issues) flags every row its classifier
    doubts, and its count alone takes in every row a poorly reading model leans away from: both flag far more
    rows than there are errors where the model is weak (bench/RESULTS.md, "Label review")."""
    from cleanlab.count import num_label_issues
    from cleanlab.rank import get_label_quality_scores

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimated = int(num_label_issues(y, probs))
        quality = get_label_quality_scores(y, probs, method="self_confidence")
    order = np.argsort(quality, kind="stable")
    given = probs[np.arange(len(y)), y]
    other = probs.copy()
    other[np.arange(len(y)), y] = -1.0
    sure = other.max(1) >= CONFIDENT_OTHER * given
    head = order[:estimated]
    flagged = [int(i) for i in head if sure[i]]
    chosen = set(flagged)
    rest = [int(i) for i in order if int(i) not in chosen]
    return Ranking(order=flagged + rest, flagged=len(flagged), estimated=estimated)


def ranked_issues(y: np.ndarray, probs: np.ndarray) -> list[int]:
    """Positions of the flagged rows, least likely given label first (see rank_rows)."""
    ranking = rank_rows(y, probs)
    return ranking.order[:ranking.flagged]


def _suspect(rows: LabelledRows, at: int, labels: list[str], p: np.ndarray, given: int, rank: int,
             flagged: bool) -> Suspect:
    others = np.argsort(-p)
    best = next(int(k) for k in others if k != given)
    return Suspect(rank=rank, row=rows.rows[at], text=rows.texts[at], given=labels[given], suggested=labels[best],
                   p_wrong=round(1.0 - float(p[given]), 4), p_suggested=round(float(p[best]), 4),
                   p_given=round(float(p[given]), 4), flagged=bool(flagged))


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
