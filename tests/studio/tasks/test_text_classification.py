"""Text classification's data: read every format, detect columns, normalise labels, split, report, and explain
bad input (studio.tasks.text_classification.data.prepare_data over studio.data's readers).

A data error is one sentence naming the file, the row or column, and the fix; and Store.create
leaves nothing behind for it: no run folder, no registry row.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from studio import data
from studio.config import DataConfig, RunConfig
from studio.data import DataError
from studio.tasks.text_classification import data as tc_data
from tests.support import SUPPORT_TICKETS, separable_rows, write_csv

ROWS = separable_rows(10)  # 20 rows, 2 classes


def prep(path, **kw) -> data.PreparedData:
    return tc_data.prepare_data(DataConfig(train=str(path), **kw))


# ------------------------------------------------------------------ formats --
def _write(df: pd.DataFrame, path):
    ext = path.suffix
    if ext == ".csv":
        df.to_csv(path, index=False)
    elif ext == ".tsv":
        df.to_csv(path, sep="\t", index=False)
    elif ext == ".json":
        df.to_json(path, orient="records")
    elif ext == ".jsonl":
        df.to_json(path, orient="records", lines=True)
    elif ext == ".parquet":
        df.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("ext", [".csv", ".tsv", ".json", ".jsonl", ".parquet"])
def test_every_format_reads_the_same(tmp_path, ext):
    df = pd.DataFrame(ROWS)
    df.loc[0, "text"] = 'a text with, a comma and "quotes"\tand a tab'
    p = _write(df, tmp_path / f"train{ext}")
    got = data.read_table(str(p))
    assert list(got.columns) == ["text", "label"]
    assert got["text"].tolist() == df["text"].tolist()
    assert got["label"].tolist() == df["label"].tolist()
    prepared = prep(p)
    assert prepared.labels == ["billing", "technical"]
    assert sum(prepared.report.rows.values()) == len(df)


def test_the_bundled_samples_read():
    prepared = prep(SUPPORT_TICKETS)
    assert prepared.labels == ["account", "billing", "shipping", "technical"]
    assert prepared.report.rows == {"train": 192, "validation": 24, "test": 24}
    reviews = prep(SUPPORT_TICKETS.parent / "sentiment_reviews.jsonl")
    assert reviews.labels == ["negative", "positive"]


# ---------------------------------------------------------------- columns --
def test_detects_columns_by_name_and_by_shape(tmp_path):
    named = write_csv(tmp_path / "named.csv", [{"id": i, "review": r["text"], "sentiment": r["label"]}
                                               for i, r in enumerate(ROWS)])
    assert tc_data.detect_columns(data.read_table(str(named))) == ("review", "sentiment")
    # No known names: the longest text-like column is the text, the one with fewest values the label.
    odd = write_csv(tmp_path / "odd.csv", [{"k": r["label"], "words": r["text"], "n": i} for i, r in enumerate(ROWS)])
    assert tc_data.detect_columns(data.read_table(str(odd))) == ("words", "k")
    assert prep(odd).report.text_column == "words"


def test_explicit_columns_override_detection(tmp_path):
    p = write_csv(tmp_path / "two.csv", [{"text": r["label"] + " ticket", "body": r["text"], "label": "x",
                                          "team": r["label"]} for r in ROWS])
    prepared = prep(p, text_column="body", label_column="team")
    assert (prepared.report.text_column, prepared.report.label_column) == ("body", "team")
    assert prepared.labels == ["billing", "technical"]
    assert set(prepared.splits["train"]["text"]) <= {r["text"] for r in ROWS}


# ------------------------------------------------------------ normalising --
def test_labels_are_trimmed_and_case_variants_merged(tmp_path):
    variants = {"billing": ["billing", " Billing", "BILLING ", "billing"], "technical": ["technical"]}
    rows = [{"text": r["text"], "label": variants[r["label"]][i % len(variants[r["label"]])]}
            for i, r in enumerate(ROWS)]
    prepared = prep(write_csv(tmp_path / "t.csv", rows))
    assert prepared.labels == ["billing", "technical"]
    assert set(prepared.report.label_merges) == {"Billing", "BILLING"}
    assert set(prepared.report.label_merges.values()) == {"billing"}
    assert sum(prepared.report.label_counts[k]["billing"] for k in prepared.splits) == 10
    assert any("merged" in w for w in prepared.report.warnings)


def test_empty_and_duplicate_rows_are_dropped_and_counted(tmp_path):
    rows = ROWS + [ROWS[0], ROWS[1], {"text": "   ", "label": "billing"}, {"text": "no label here", "label": ""}]
    prepared = prep(write_csv(tmp_path / "t.csv", rows))
    r = prepared.report
    assert (r.dropped_empty, r.dropped_duplicates) == (2, 2)
    assert sum(r.rows.values()) == len(ROWS)
    all_texts = pd.concat([df["text"] for df in prepared.splits.values()])
    assert not all_texts.duplicated().any()


def test_numeric_labels_become_strings_in_numeric_order(tmp_path):
    rows = [{"text": r["text"], "label": 10 if r["label"] == "billing" else 2} for r in ROWS]
    p = tmp_path / "t.jsonl"
    pd.DataFrame(rows).to_json(p, orient="records", lines=True)
    assert prep(p).labels == ["2", "10"]


# ------------------------------------------------------------------ split --
def test_label_ids_are_named_by_label_names(tmp_path):
    """Hugging Face exports (imdb, sst2) store labels as class ids; label_names names them in id order."""
    rows = [{"text": f"{w} film number {i}", "label": lab}
            for i in range(12) for w, lab in (("great", 1), ("awful", 0))]
    path = write_csv(tmp_path / "imdb.csv", rows)
    prep = tc_data.prepare_data(DataConfig(train=str(path), label_names="negative, positive"))
    assert prep.labels == ["negative", "positive"]
    train = prep.splits["train"]
    assert set(train[train["text"].str.startswith("great")]["label"]) == {"positive"}
    with pytest.raises(DataError, match=r"imdb.csv: label id 1 has no name: label_names gives 1 names"):
        tc_data.prepare_data(DataConfig(train=str(path), label_names="negative"))
    named = write_csv(tmp_path / "named.csv",
                      [{"text": r["text"], "label": "good" if r["label"] else "bad"} for r in rows])
    with pytest.raises(DataError,
                       match=r"named.csv: label 'good' in column 'label' is not a class id, but label_names is set"):
        tc_data.prepare_data(DataConfig(train=str(named), label_names="negative, positive"))


def test_default_split_is_stratified_80_10_10(tmp_path):
    rows = separable_rows(30, labels=("billing", "technical", "shipping"))
    prepared = prep(write_csv(tmp_path / "t.csv", rows))
    r = prepared.report
    assert r.rows == {"train": 72, "validation": 9, "test": 9}
    for split, n in (("train", 24), ("validation", 3), ("test", 3)):
        assert r.label_counts[split] == {"billing": n, "shipping": n, "technical": n}
    texts = [set(prepared.splits[k]["text"]) for k in ("train", "validation", "test")]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])
    assert set().union(*texts) == {row["text"] for row in rows}
    assert "stratified, seed 42" in r.split_source["test"]


def test_split_is_seeded_and_reproducible(tmp_path):
    p = write_csv(tmp_path / "t.csv", separable_rows(30))
    a, b = prep(p), prep(p)
    for k in ("train", "validation", "test"):
        pd.testing.assert_frame_equal(a.splits[k], b.splits[k])
    other = prep(p, split_seed=7)
    assert set(other.splits["test"]["text"]) != set(a.splits["test"]["text"])


def test_given_validation_and_test_files_are_used(tmp_path):
    train = write_csv(tmp_path / "train.csv", separable_rows(10, seed=1))
    val_rows = separable_rows(3, seed=2)
    test_rows = separable_rows(4, seed=3) + [separable_rows(10, seed=1)[0]]  # one row shared with train
    val = write_csv(tmp_path / "val.csv", val_rows)
    test = write_csv(tmp_path / "test.csv", test_rows)
    prepared = prep(train, validation=str(val), test=str(test))
    r = prepared.report
    assert r.rows == {"train": 20, "validation": 6, "test": 9}
    assert prepared.splits["validation"]["text"].tolist() == [x["text"] for x in val_rows]
    assert r.split_source == {"train": "train.csv", "validation": "val.csv", "test": "test.csv"}
    assert r.shared_between_splits["train-test"] == 1
    assert any("appear in both train and test" in w for w in r.warnings)


def test_only_a_test_file_holds_out_validation_from_train(tmp_path):
    train = write_csv(tmp_path / "train.csv", separable_rows(10, seed=1))
    test = write_csv(tmp_path / "test.csv", separable_rows(2, seed=3))
    r = prep(train, test=str(test)).report
    assert r.rows == {"train": 18, "test": 4, "validation": 2}


def test_report_has_token_length_percentiles(tmp_path):
    from transformers import AutoTokenizer

    from tests.tiny_models import minilm_dir

    tok = AutoTokenizer.from_pretrained(str(minilm_dir()))
    rows = [dict(r) for r in ROWS]
    rows[0]["text"] = "word " * 40
    prepared = tc_data.prepare_data(DataConfig(train=str(write_csv(tmp_path / "t.csv", rows))), tokenizer=tok,
                                    max_length=8)
    tl = prepared.report.token_lengths
    assert {"p50", "p90", "p95", "p99", "max", "mean"} <= set(tl)
    lengths = [len(tok(t)["input_ids"]) for t in prepared.splits["train"]["text"]]
    assert tl["p50"] == np.percentile(lengths, 50) and tl["p95"] == np.percentile(lengths, 95)
    assert tl["max"] == max(lengths) == 42  # [CLS] + 40 words + [SEP]
    assert tl["p50"] <= tl["p90"] <= tl["p95"] <= tl["p99"] <= tl["max"]
    assert tl["truncated_share"] == np.mean([n > 8 for n in lengths])
    assert json.loads(json.dumps(prepared.report.to_dict()))["token_lengths"] == tl


def test_max_rows_samples_train_stratified(tmp_path):
    prepared = prep(write_csv(tmp_path / "t.csv", separable_rows(30)), max_rows=10)
    assert prepared.report.rows["train"] == 10
    assert prepared.report.label_counts["train"] == {"billing": 5, "technical": 5}


# ----------------------------------------------------------------- errors --
def _csv(text: str, encoding="utf-8"):
    def make(tmp_path):
        p = tmp_path / "tickets.csv"
        p.write_bytes(text.encode(encoding))
        return p, {}
    return make


GOOD_LINES = "".join(f"{r['text']},{r['label']}\n" for r in ROWS)


def _non_text(tmp_path):
    p = write_csv(tmp_path / "tickets.csv", [{"text": i, "label": r["label"]} for i, r in enumerate(ROWS)])
    return p, {}


def _unknown_column(tmp_path):
    return write_csv(tmp_path / "tickets.csv", ROWS), {"text_column": "body"}


def _unknown_label_column(tmp_path):
    return write_csv(tmp_path / "tickets.csv", ROWS), {"label_column": "category"}


def _single_class(tmp_path):
    return write_csv(tmp_path / "tickets.csv", [{"text": r["text"], "label": "billing"} for r in ROWS]), {}


def _too_few(tmp_path):
    return write_csv(tmp_path / "tickets.csv", ROWS + [{"text": "where is my parcel", "label": "shipping"}]), {}


def _empty_parquet(tmp_path):
    p = tmp_path / "tickets.parquet"
    pd.DataFrame({"text": pd.Series([], dtype=str), "label": pd.Series([], dtype=str)}).to_parquet(p)
    return p, {}


def _bad_jsonl(tmp_path):
    p = tmp_path / "tickets.jsonl"
    p.write_text('{"text": "refund", "label": "billing"}\n{"text": oops}\n')
    return p, {}


def _unknown_test_label(tmp_path):
    train = write_csv(tmp_path / "tickets.csv", ROWS)
    test = write_csv(tmp_path / "holdout.csv", [{"text": "where is my parcel", "label": "shipping"}])
    return train, {"test": str(test)}


# (case, make(tmp_path) -> (path, DataConfig overrides), [phrases the message must hold])
ERRORS = [
    ("no header (long first line)",
     _csv("My card was charged twice for the same order last week,billing\n" + GOOD_LINES),
     ["tickets.csv", "no header", "add a first line naming the columns"]),
    ("no header (short first line)", _csv("refund my card,billing\n" + GOOD_LINES),
     ["tickets.csv", "no header", "add a first line naming the columns"]),
    ("unknown text column", _unknown_column, ["tickets.csv", "'body'", "choose one of", "'text'"]),
    ("unknown label column", _unknown_label_column, ["tickets.csv", "'category'", "choose one of", "'label'"]),
    ("a single class", _single_class,
     ["tickets.csv", "column 'label'", "single class 'billing'", "add rows of another class"]),
    ("a class too small to split", _too_few, ["tickets.csv", "class 'shipping' has 1 row", "add rows for it"]),
    ("Latin-1 encoding", _csv("text,label\n" + GOOD_LINES + "caf\u00e9 cr\u00e8me refund,billing\n", "latin-1"),
     ["tickets.csv", "not UTF-8", "line 22", "Latin-1", "save it as UTF-8"]),
    ("empty file", _csv(""), ["tickets.csv", "is empty", "upload a file with a header row"]),
    ("blank lines only", _csv("\n\n"), ["tickets.csv", "no header", "the first line must name the columns"]),
    ("header but no rows", _csv("text,label\n"), ["tickets.csv", "no data rows", "add labelled rows"]),
    ("empty parquet", _empty_parquet, ["tickets.parquet", "no data rows", "add labelled rows"]),
    ("non-text column", _non_text, ["tickets.csv", "column 'text'", "holds numbers, not text", "choose the column"]),
    ("ragged CSV row", _csv("text,label\n" + GOOD_LINES + "refund, please, now,billing\n"),
     ["tickets.csv", "line 22", "4 fields", "quote texts"]),
    ("broken JSON line", _bad_jsonl, ["tickets.jsonl", "line 2", "not valid JSON", "fix or remove"]),
    ("test label unseen in train", _unknown_test_label, ["holdout.csv", "'shipping'", "add training rows"]),
]


@pytest.mark.parametrize("case, make, phrases", ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_data_gets_one_clear_sentence_and_creates_nothing(tmp_path, store, case, make, phrases):
    path, over = make(tmp_path)
    with pytest.raises(DataError) as e:
        prep(path, **over)
    msg = str(e.value)
    for phrase in phrases:
        assert phrase in msg, f"{case}: {phrase!r} missing from {msg!r}"
    assert "\n" not in msg and "Traceback" not in msg and len(msg) < 300, msg
    assert msg.rstrip().endswith(".")

    cfg = RunConfig.from_dict({"model": "minilm", "data": {"train": str(path), **over}})
    with pytest.raises(DataError):
        store.create(cfg)
    assert [p.name for p in store.root.iterdir() if not p.name.startswith("registry.sqlite")] == []
    assert store.list() == []


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(DataError, match="nope.csv does not exist"):
        prep(tmp_path / "nope.csv")
    x = tmp_path / "tickets.xlsx"
    x.write_bytes(b"PK\x03\x04")
    with pytest.raises(DataError,
                       match=r"tickets.xlsx: unsupported file type .xlsx; use CSV, TSV, JSON, JSONL or Parquet"):
        prep(x)
    with pytest.raises(DataError, match="is a folder"):
        prep(tmp_path)


def test_a_headerless_file_reads_with_header_off_and_its_columns_are_found_by_contents(tmp_path, capsys):
    from studio import cli

    rows = [{"label": "pos" if i % 2 else "neg", "text": f"review number {i} says it was {'great' if i % 2 else 'bad'}"}
            for i in range(40)]
    path = tmp_path / "reviews.tsv"
    pd.DataFrame(rows).to_csv(path, sep="\t", header=False, index=False)
    with pytest.raises(DataError,
                       match=r"seems to have no header row.*read it without a header row \(data.header: false\)"):
        prep(path)
    prepared = prep(path, header=False)
    assert (prepared.report.text_column, prepared.report.label_column) == ("column_2", "column_1")
    assert prepared.labels == ["neg", "pos"] and sum(prepared.report.rows.values()) == 40
    assert cli.main(["data", str(path), "--no-header"]) == 0
    assert "text column 'column_2', label column 'column_1'; 2 labels" in capsys.readouterr().out


def test_a_zero_validation_share_evaluates_on_the_test_rows_and_spends_no_labels_on_validation():
    p = tc_data.prepare_data(DataConfig(train=str(SUPPORT_TICKETS), validation_fraction=0.0))
    assert p.report.rows["train"] + p.report.rows["test"] == 240
    assert (p.splits["validation"] is p.splits["test"]
            and p.report.split_source["validation"] == p.report.split_source["test"])


def test_labelled_rows_keep_file_positions_and_read_a_partly_labelled_pool(tmp_path):
    path = tmp_path / "pool.csv"
    pd.DataFrame({"id": [1, 2, 3, 4], "text": ["an invoice", "", "a crash", "a parcel"],
                  "label": ["Billing", None, None, "shipping"]}).to_csv(path, index=False)
    rows = tc_data.labelled_rows(DataConfig(train=str(path)), unlabelled_ok=True)
    assert rows.rows == [0, 2, 3] and rows.texts == ["an invoice", "a crash", "a parcel"]
    assert rows.labels == ["Billing", None, "shipping"] and rows.labelled() == [0, 2]
    texts_only = tmp_path / "texts.csv"
    pd.DataFrame({"id": [1, 2], "utterance": ["hello there", "card lost"]}).to_csv(texts_only, index=False)
    pool = tc_data.labelled_rows(DataConfig(train=str(texts_only)), unlabelled_ok=True)
    assert (pool.text_column, pool.label_column, pool.labels) == ("utterance", None, [None, None])
    ids = tmp_path / "ids.csv"
    pd.DataFrame({"text": ["good", "bad", "fine"], "label": [1, 0, 1]}).to_csv(ids, index=False)
    named = tc_data.labelled_rows(DataConfig(train=str(ids), label_names="neg,pos"))
    assert named.labels == ["pos", "neg", "pos"] and named.stored == {"neg": 0, "pos": 1}
