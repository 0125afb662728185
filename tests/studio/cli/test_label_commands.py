"""`studio clean`, `studio suggest` and `studio merge-labels`: files in, files out, one sentence on bad input."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from studio import cli
from tests.support import SUPPORT_TICKETS, flip_labels, separable_rows, write_csv


def run(capsys, *args) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def noisy(tmp_path):
    return flip_labels(SUPPORT_TICKETS, tmp_path / "noisy.csv", 10, seed=3)[0]


def test_clean_writes_suspects_then_a_reviewed_copy(capsys, noisy, tmp_path):
    suspects = tmp_path / "suspects.csv"
    code, out, _ = run(capsys, "--runs-dir", tmp_path / "runs", "clean", noisy, "--out", suspects)
    assert code == 0 and "probably carry a wrong label" in out and f"--apply {suspects}" in out
    table = pd.read_csv(suspects)
    assert len(table) >= 3
    table["decision"] = [table["suggested"][0], "drop"] + ["keep"] * (len(table) - 2)
    table.to_csv(suspects, index=False)
    reviewed = tmp_path / "reviewed.csv"
    code, out, _ = run(capsys, "clean", noisy, "--apply", suspects, "--out", reviewed)
    assert code == 0 and "1 relabelled, 1 dropped" in out
    assert len(pd.read_csv(reviewed)) == len(pd.read_csv(noisy)) - 1


def test_clean_says_the_estimate_and_lists_past_the_cut_on_request(capsys, noisy, tmp_path):
    suspects = tmp_path / "suspects.csv"
    code, out, _ = run(capsys, "clean", noisy, "--out", suspects, "--limit", 40)
    assert code == 0 and re.search(r"About \d+ of 240 labels .* \(an estimate\); the \d+ most likely are flagged", out)
    flagged = int(re.search(r"the (\d+) most likely are flagged", out).group(1))
    table = pd.read_csv(suspects)
    assert len(table) == 40 > flagged and list(table["rank"]) == list(range(1, 41))
    assert list(table["flagged"]) == [True] * flagged + [False] * (40 - flagged)
    assert f"Wrote 40 rows to {suspects}, the {flagged} flagged first" in out


def test_clean_refuses_an_unknown_decision_in_one_line(capsys, noisy, tmp_path):
    suspects = tmp_path / "s.csv"
    pd.DataFrame({"row": [0], "decision": ["billng"]}).to_csv(suspects, index=False)
    code, _, err = run(capsys, "clean", noisy, "--apply", suspects, "--out", tmp_path / "r.csv")
    assert (code == 2
            and err.startswith("error: Row 0: 'billng' is not one of the file's labels (did you mean billing?)"))
    assert not (tmp_path / "r.csv").exists()


def test_suggest_then_merge_then_the_merged_file_is_a_training_file(capsys, tmp_path, finished_run):
    store, run_id, _ = finished_run
    rows = separable_rows(12, ("billing", "technical", "shipping"), seed=21, words=(2, 6))
    start = write_csv(tmp_path / "start.csv", rows[:9])
    pool = write_csv(tmp_path / "pool.csv", [{"text": r["text"]} for r in rows[9:]] + [{"text": rows[0]["text"]}])
    out = tmp_path / "to-label.csv"
    code, stdout, _ = run(capsys, "--runs-dir", store.root, "suggest", run_id, pool, "--n", 5, "--strategy", "entropy",
                          "--labelled", start, "--out", out)
    assert code == 0 and "note: 1 pool rows are already labelled" in stdout
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table.columns) == ["pool_row", "text", "suggestion", "confidence", "score", "label"]
    assert len(table) == 5 and set(table["suggestion"]) <= {"billing", "technical", "shipping"}
    assert rows[0]["text"] not in set(table["text"])
    truth = {r["text"]: r["label"] for r in rows}
    table["label"] = [truth[t] for t in table["text"]]
    table.loc[4, "label"] = ""  # left unlabelled: not merged
    table.to_csv(out, index=False)
    merged = tmp_path / "merged.csv"
    code, stdout, _ = run(capsys, "merge-labels", out, "--labelled", start, "--out", merged)
    assert code == 0 and "4 newly labelled rows added to start.csv" in stdout
    assert len(pd.read_csv(merged)) == 13
    code, stdout, _ = run(capsys, "data", merged)
    assert code == 0 and "3 labels" in stdout


def test_suggest_cold_start_and_a_bad_label_in_merge(capsys, tmp_path):
    rows = separable_rows(10, ("billing", "technical"), seed=2)
    pool = write_csv(tmp_path / "pool.csv", [{"text": r["text"]} for r in rows])
    out = tmp_path / "first.csv"
    code, stdout, _ = run(capsys, "--runs-dir", tmp_path / "runs", "suggest", "cold", pool, "--n", 4, "--out", out)
    assert code == 0 and "k-means" in stdout
    table = pd.read_csv(out, keep_default_na=False)
    table["label"] = ["billing", "technical", "billing", "billling"]
    table.to_csv(out, index=False)
    start = write_csv(tmp_path / "start.csv", rows[:4])
    code, _, err = run(capsys, "merge-labels", out, "--labelled", start, "--out", tmp_path / "m.csv")
    assert code == 2 and "first.csv line 5: 'billling' is not one of the labels; did you mean billing?" in err
    assert not (tmp_path / "m.csv").exists()
