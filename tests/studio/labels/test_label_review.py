"""Label review: cleanlab on out-of-sample probabilities finds flipped labels; decisions write a new file."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from studio.base.errors import DataError
from studio.config import DataConfig
from studio.labels import label_review
from tests.support import SUPPORT_TICKETS, flip_labels

TC = "text-classification"


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    """The support-ticket sample with 12 labels flipped to another class: (path, flipped rows, true labels)."""
    path, flipped = flip_labels(SUPPORT_TICKETS, tmp_path_factory.mktemp("review") / "noisy.csv", 12)
    return path, flipped, pd.read_csv(SUPPORT_TICKETS)["label"].tolist()


@pytest.fixture(scope="module")
def review(noisy):
    return label_review.find_suspects(TC, DataConfig(train=str(noisy[0])))


def test_flipped_labels_are_found_with_the_label_they_should_have(noisy, review):
    _, flipped, truth = noisy
    found = [s.row for s in review.suspects]
    hits = set(found) & set(flipped)
    assert len(hits) >= 6, (found, flipped)                       # recall at least half
    assert len(hits) / len(found) >= 0.8, (found, flipped)        # and few false alarms
    right = [s for s in review.suspects if s.row in hits and s.suggested == truth[s.row]]
    assert len(right) >= 0.8 * len(hits)
    assert [s.p_given for s in review.suspects] == sorted(s.p_given for s in review.suspects)  # surest first
    assert [s.rank for s in review.suspects] == list(range(1, len(found) + 1))
    assert all(s.flagged for s in review.suspects)
    assert "5-fold logistic regression" in review.how and "cleanlab" in review.how
    assert review.rows == 240 and 0.5 < review.cv_accuracy <= 1.0
    assert review.flagged == len(found) <= review.estimated


def test_the_ranked_list_goes_on_past_the_cut_without_computing_again(noisy, review):
    _, flipped, _ = noisy
    longer = label_review.find_suspects(TC, DataConfig(train=str(noisy[0])), limit=review.flagged + 30)
    assert len(longer.suspects) == review.flagged + 30 and longer.flagged == review.flagged
    assert [s.row for s in longer.suspects[:review.flagged]] == [s.row for s in review.suspects]
    assert [s.flagged for s in longer.suspects] == [True] * review.flagged + [False] * 30
    below = longer.suspects[review.flagged:]
    assert [s.p_given for s in below] == sorted(s.p_given for s in below)  # still least likely label first
    assert all(abs(s.p_wrong - (1 - s.p_given)) < 1e-3 for s in longer.suspects)
    everything = review.more(10_000)  # as far as every row, from what the review already holds
    assert len(everything.suspects) == review.rows and {s.row for s in everything.suspects} >= set(flipped)
    assert [s.rank for s in everything.suspects] == list(range(1, review.rows + 1))
    assert review.more(0).suspects == review.suspects  # never fewer than the flagged rows


def test_the_summary_says_the_estimate_and_how_many_come_first(review):
    said = review.summary()
    assert f"About {review.estimated} of 240 labels" in said and "(an estimate)" in said
    assert f"the {review.flagged} most likely are flagged and listed first" in said
    assert f"约有 {review.estimated} 个" in said.zh and f"最可能的 {review.flagged} 行" in said.zh
    assert "further down" in review.more(review.flagged + 5).summary()


def _weak_embeddings(seed: int, n: int = 800, k: int = 4, d: int = 384, sep: float = 0.12, noise: float = 0.1):
    """Unit vectors of k heavily overlapping classes (a linear model is right about two times in three, as on
    Chinese news read by the English MiniLM) with `noise` of the labels flipped: (x, labels, flipped)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d))
    centres *= sep / np.linalg.norm(centres, axis=1, keepdims=True)
    true = np.repeat(np.arange(k), n // k)
    x = centres[true] + rng.normal(scale=d ** -0.5, size=(n, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    flipped = rng.choice(n, int(noise * n), replace=False)
    given = true.copy()
    given[flipped] = (true[flipped] + rng.integers(1, k, len(flipped))) % k
    return x.astype(np.float32), given, set(flipped.tolist())


@pytest.mark.parametrize("seed", [0, 1])
def test_a_weak_model_does_not_flag_far_more_rows_than_are_wrong(seed):
    # With a fixed weak penalty (C=10) the model memorised flipped labels and cleanlab's count took in every row
    # it leaned away from: 166-185 rows flagged for 80 flips, precision about 0.4 (the issue's 131 for 80).
    x, given, flipped = _weak_embeddings(seed)
    probe = label_review.cross_validated_probabilities(x, given, 5, 0)
    assert 0.55 < (probe.probs.argmax(1) == given).mean() < 0.75  # the model is weak
    ranking = label_review.rank_rows(given, probe.probs)
    flagged = ranking.order[:ranking.flagged]
    caught = len(set(flagged) & flipped)
    assert len(flagged) <= 1.25 * len(flipped) and len(flagged) <= ranking.estimated
    assert caught / len(flagged) >= 0.5 and caught / len(flipped) >= 0.5
    assert sorted(ranking.order) == list(range(len(given)))  # every row is in the ranking, to read on down
    assert probe.penalty < 10  # the penalty came from cross-validation, not the fixed C=10


def test_probabilities_come_from_models_that_never_saw_the_row():
    # Random features and random labels: a model scoring rows it was fitted on memorises them (near 100%); an
    # out-of-sample one cannot beat chance.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 300)).astype(np.float32)
    y = rng.integers(0, 4, size=200)
    probs, folds = label_review.out_of_sample_probabilities(x, y, 5, 0)
    assert folds == 5 and probs.shape == (200, 4)
    assert np.allclose(probs.sum(1), 1.0)
    assert (probs.argmax(1) == y).mean() < 0.45


def _classifier_on_noisy_labels(seed: int, n: int = 800, k: int = 4, noise: float = 0.1):
    """Out-of-sample probabilities of a classifier right about three times in four (as a linear model on frozen
    embeddings is on 4-class news), and labels with `noise` of them flipped: (labels, probabilities, flipped)."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), true] += 2.0
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    flipped = rng.choice(n, int(noise * n), replace=False)
    given = true.copy()
    for i in flipped:
        given[i] = rng.choice([c for c in range(k) if c != true[i]])
    return given, probs, set(flipped.tolist())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_suspects_are_about_as_many_as_the_wrong_labels(seed):
    # cleanlab's default filter flags every row its classifier doubts: here 118-134 rows for 80 flips, precision
    # about 0.5. The estimated count cut from the ranking keeps precision and recall above 0.6.
    given, probs, flipped = _classifier_on_noisy_labels(seed)
    flagged = label_review.ranked_issues(given, probs)
    caught = len(set(flagged) & flipped)
    assert caught / len(flagged) >= 0.6 and caught / len(flipped) >= 0.6
    assert len(flagged) <= 1.25 * len(flipped)
    p_given = probs[flagged, given[flagged]]
    assert list(p_given) == sorted(p_given)  # least likely given label first


def test_decisions_write_a_new_file_and_leave_the_original(noisy, review, tmp_path):
    path = noisy[0]
    before = path.read_bytes()
    a, b, c = review.suspects[:3]
    out = label_review.apply_decisions(TC, DataConfig(train=str(path)),
                                       {a.row: a.suggested, b.row: "drop", c.row: "keep"}, tmp_path / "reviewed.csv")
    assert path.read_bytes() == before
    assert (out.relabelled, out.dropped, out.kept) == (1, 1, 239)
    original, reviewed = pd.read_csv(path), pd.read_csv(out.path)
    expected = original.drop(index=b.row)
    expected.loc[a.row, "label"] = a.suggested
    pd.testing.assert_frame_equal(reviewed, expected.reset_index(drop=True))


def test_a_label_outside_the_set_is_refused_and_nothing_is_written(noisy, review, tmp_path):
    s = review.suspects[0]
    with pytest.raises(DataError, match=r"not one of the file's labels \(did you mean billing"):
        label_review.apply_decisions(TC, DataConfig(train=str(noisy[0])), {s.row: "biling"}, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_class_ids_are_written_back_as_ids_in_the_original_format(tmp_path):
    rows = [{"sentence": f"text number {i} about {'cats' if i % 2 else 'dogs'}", "label": i % 2} for i in range(30)]
    path = tmp_path / "ids.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    data = DataConfig(train=str(path), label_names="dogs,cats")
    out = label_review.apply_decisions(TC, data, {0: "cats", 1: "drop"}, tmp_path / "ids-reviewed.jsonl")
    back = [json.loads(line) for line in out.path.read_text().splitlines()]
    assert len(back) == 29 and back[0] == {"sentence": rows[0]["sentence"], "label": 1}
    assert back[1] == rows[2]


def test_the_original_cannot_be_the_output(noisy):
    with pytest.raises(DataError, match="is the original file"):
        label_review.apply_decisions(TC, DataConfig(train=str(noisy[0])), {}, noisy[0])


def test_tasks_without_one_label_per_row_are_refused_in_a_sentence(tmp_path):
    with pytest.raises(DataError, match="one label per row"):
        label_review.find_suspects("seq2seq", DataConfig(train=str(tmp_path / "x.csv")))


def test_too_few_rows_are_refused(tmp_path):
    path = tmp_path / "few.csv"
    pd.DataFrame({"text": ["a b", "c d", "e f"], "label": ["x", "y", "x"]}).to_csv(path, index=False)
    with pytest.raises(DataError, match="at least 10 labelled rows"):
        label_review.find_suspects(TC, DataConfig(train=str(path)))


def test_suspects_csv_has_a_decision_column_and_inert_cells(review, tmp_path):
    out = label_review.suspects_csv(review, tmp_path / "s.csv")
    df = pd.read_csv(out)
    assert list(df.columns) == ["rank", "row", "text", "given", "suggested", "p_wrong", "p_suggested", "p_given",
                                "flagged", "decision"]
    assert len(df) == len(review.suspects) and df["decision"].isna().all()
    df["decision"] = ["drop"] + ["keep"] * (len(df) - 1)
    df.to_csv(out, index=False)
    assert label_review.decisions_from_csv(out)[int(df["row"][0])] == "drop"
