"""Active learning: which unlabelled rows a person should label next.

A finished run scores every unlabelled row of a pool; a query strategy picks the rows whose label would
teach the model most. With no run yet (a cold start) the picks are spread over the pool: the rows nearest
the centres of k-means clusters of the frozen base's sentence embeddings, so the first labels cover the
kinds of text the pool holds.

Strategies (a few lines of numpy each; `small-text` would bring its own training loop, which the studio
already has):
- random: the baseline every strategy has to beat;
- least-confidence: the lowest top probability first;
- entropy: the flattest probabilities first;
- margin: the smallest gap between the two most likely labels first;
- diverse-margin: the 10*n smallest-margin rows, clustered into n groups by their embeddings, and the
  smallest-margin row of each group, so one batch is not 50 near-duplicates of the same confusion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from studio.base.text import Text

STRATEGIES = ("random", "least-confidence", "entropy", "margin", "diverse-margin")
DEFAULT_STRATEGY = "margin"
COLD_START = "k-means"  # what a round without a run uses, whatever the strategy
NEEDS_EMBEDDINGS = ("diverse-margin", COLD_START)
CANDIDATES_PER_PICK = 10  # diverse-margin clusters this many of the most uncertain rows per row it picks

STRATEGY_HELP = {
    "random": Text("Random rows: the baseline.", "随机选行：作为基线。"),
    "least-confidence": Text("The rows whose most likely label is least likely.", "最可能的标签概率最低的行。"),
    "entropy": Text("The rows whose label probabilities are flattest.", "各标签概率最平均的行。"),
    "margin": Text("The rows where the two most likely labels are closest.", "最可能的两个标签概率最接近的行。"),
    "diverse-margin": Text("Close calls spread over different kinds of text: no batch of near-duplicates.",
                           "分布在不同类型文本上的难以判断的行：不会一批都是近似重复的行。"),
    COLD_START: Text("No run yet: rows nearest the centres of k-means clusters of the texts, to cover the pool.",
                     "还没有运行：选离文本 k-means 聚类中心最近的行，以覆盖整个数据池。"),
}


@dataclass
class Picks:
    positions: list[int]                     # into the candidate rows, best first
    scores: list[float]                      # how much each is worth asking (higher first); 0 for random
    how: str                                 # one sentence: how they were picked
    notes: list[str] = field(default_factory=list)


def uncertainty(probs: np.ndarray, strategy: str) -> np.ndarray:
    """Higher = ask sooner."""
    top = np.sort(probs, axis=1)[:, ::-1]
    if strategy == "least-confidence":
        return 1.0 - top[:, 0]
    if strategy == "entropy":
        p = np.clip(probs, 1e-12, 1.0)
        return -(p * np.log(p)).sum(1)
    if strategy in ("margin", "diverse-margin"):
        return 1.0 - (top[:, 0] - (top[:, 1] if probs.shape[1] > 1 else 0.0))
    raise ValueError(f"no uncertainty for strategy {strategy!r}")


def pick(strategy: str, n: int, probs: np.ndarray | None, embeddings: np.ndarray | None, seed: int = 0) -> Picks:
    """The n candidate rows to label next. probs None means a cold start (k-means over embeddings)."""
    total = len(probs) if probs is not None else len(embeddings)
    n = min(n, total)
    rng = np.random.default_rng(seed)
    if probs is None:
        return Picks(cluster_centres(embeddings, n, seed), [0.0] * n, STRATEGY_HELP[COLD_START])
    if strategy == "random":
        return Picks(rng.choice(total, size=n, replace=False).tolist(), [0.0] * n, STRATEGY_HELP["random"])
    score = uncertainty(probs, strategy)
    if strategy == "diverse-margin":
        order = np.argsort(-score, kind="stable")[:max(n, CANDIDATES_PER_PICK * n)]
        chosen = _one_per_cluster(order, score, embeddings, n, seed)
    else:
        chosen = np.argsort(-score, kind="stable")[:n].tolist()
    chosen.sort(key=lambda i: -score[i])
    return Picks(chosen, [round(float(score[i]), 4) for i in chosen], STRATEGY_HELP[strategy])


def _one_per_cluster(candidates: np.ndarray, score: np.ndarray, embeddings: np.ndarray, n: int, seed: int) -> list[int]:
    if len(candidates) <= n:
        return candidates.tolist()
    groups = _kmeans(embeddings[candidates], n, seed).labels_
    best: dict[int, int] = {}
    for idx, g in zip(candidates.tolist(), groups.tolist()):
        if g not in best or score[idx] > score[best[g]]:
            best[g] = idx
    return list(best.values())


def cluster_centres(embeddings: np.ndarray, n: int, seed: int = 0) -> list[int]:
    """The row nearest each of n k-means centres (distinct rows)."""
    if len(embeddings) <= n:
        return list(range(len(embeddings)))
    km = _kmeans(embeddings, n, seed)
    dist = km.transform(embeddings)  # (rows, centres)
    chosen: list[int] = []
    taken: set[int] = set()
    for c in range(n):
        for idx in np.argsort(dist[:, c]):
            if int(idx) not in taken:
                taken.add(int(idx))
                chosen.append(int(idx))
                break
    return chosen


def _kmeans(x: np.ndarray, n: int, seed: int):
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if len(x) > 5000:  # full k-means over a large pool takes minutes on a laptop
        return MiniBatchKMeans(n_clusters=n, random_state=seed, n_init=3, batch_size=1024).fit(x)
    return KMeans(n_clusters=n, random_state=seed, n_init=3).fit(x)
