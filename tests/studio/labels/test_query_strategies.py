"""Query strategies: each picks what it promises; diverse-margin spreads a batch; a cold start covers the pool."""

from __future__ import annotations

import numpy as np
import pytest

from studio.labels import query_strategies

PROBS = np.array([
    [0.90, 0.05, 0.05],   # 0: sure
    [0.40, 0.35, 0.25],   # 1: low top, close second: least-confidence and margin like it
    [0.34, 0.33, 0.33],   # 2: flattest: entropy's first, and the smallest margin
    [0.50, 0.50, 0.00],   # 3: a tie between two: margin 0, but not flat
    [0.60, 0.20, 0.20],   # 4
])


@pytest.mark.parametrize("strategy, first", [("least-confidence", 2), ("entropy", 2), ("margin", 3)])
def test_each_uncertainty_strategy_asks_its_own_row_first(strategy, first):
    picks = query_strategies.pick(strategy, 2, PROBS, None)
    assert picks.positions[0] == first
    assert picks.scores == sorted(picks.scores, reverse=True)
    assert 0 not in query_strategies.pick(strategy, 4, PROBS, None).positions  # the sure row comes last


def test_random_is_seeded_and_distinct():
    a = query_strategies.pick("random", 3, PROBS, None, seed=7).positions
    assert a == query_strategies.pick("random", 3, PROBS, None, seed=7).positions and len(set(a)) == 3


def _clusters(sizes, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.eye(8)[: len(sizes)] * 10
    return np.vstack([c + rng.normal(scale=0.01, size=(n, 8)) for c, n in zip(centres, sizes)]).astype(np.float32)


def test_diverse_margin_spreads_a_batch_that_margin_spends_on_near_duplicates():
    # Four tight clusters; the closest calls all sit in cluster 0, the next in 1 and 2, cluster 3 is sure.
    sizes, spans = [12, 10, 10, 20], [(0.0, 0.1), (0.1, 0.2), (0.2, 0.3), (0.5, 0.6)]
    emb = _clusters(sizes)
    rng = np.random.default_rng(0)
    margins = np.concatenate([rng.uniform(lo, hi, n) for n, (lo, hi) in zip(sizes, spans)])
    probs = np.stack([(1 + margins) / 2, (1 - margins) / 2], axis=1)
    cluster = np.repeat(np.arange(4), sizes)
    plain = query_strategies.pick("margin", 3, probs, emb).positions
    diverse = query_strategies.pick("diverse-margin", 3, probs, emb).positions
    assert {int(cluster[p]) for p in plain} == {0}
    assert {int(cluster[p]) for p in diverse} == {0, 1, 2}


def test_a_cold_start_takes_one_row_near_each_cluster_centre():
    emb = _clusters([30, 5, 12])
    picks = query_strategies.pick("margin", 3, None, emb)
    assert sorted(_cluster_of(p) for p in picks.positions) == [0, 1, 2]
    assert "k-means" in picks.how


def _cluster_of(position: int) -> int:
    return 0 if position < 30 else 1 if position < 35 else 2


def test_asking_for_more_than_there_is_gives_everything_once():
    assert sorted(query_strategies.pick("entropy", 50, PROBS, None).positions) == [0, 1, 2, 3, 4]
    assert sorted(query_strategies.cluster_centres(_clusters([2, 1]), 10)) == [0, 1, 2]
