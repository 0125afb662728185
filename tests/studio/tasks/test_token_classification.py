"""studio.tasks.token_classification: reading CoNLL and JSON, BIO checks, sub-word alignment, seqeval
metrics, every method that applies, a worker run end to end, the CLI, and export.

Data is a few dozen invented sentences; the model is the tiny learnable BERT of tests/conftest.py.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from studio import cli, export, methods
from studio.base import runfolder
from studio.base.errors import ConfigError
from studio.base.runfolder import RunFolder
from studio.config import DataConfig, RunConfig
from studio.data import DataError
from studio.serve import inference
from studio.tasks import get_task
from studio.tasks import token_classification as ner
from studio.tasks.token_classification import data as ner_data
from studio.tasks.token_classification import model as ner_model
from studio.tasks.token_classification import report as ner_report
from studio.tasks.token_classification import tokens as ner_tokens
from studio.tasks.token_classification import training as ner_training
from studio.tasks.token_classification.predict import (
    _prediction,
    card_usage,
    format_prediction,
    predict,
    split_words,
)
from studio.training import recipe
from tests.support import (
    on_own_copy_of_base,
    read_jsonl,
    run_reproduce_script,
    tiny_config,
    train_to_completion,
    trainable_here,
)

PEOPLE = ["Alice", "Bob Stone", "Carla", "Dmitri Volkov", "Eve", "Farid"]
PLACES = ["Paris", "Lagos", "Oslo", "New York", "Kraków", "Lima"]
ORGS = ["Acme", "Globex Corp", "Initech", "Umbrella"]
PATTERNS = ["{P} lives in {L} .", "{P} works for {O} .", "{O} opened an office in {L} .", "we met {P} today ."]


def run_config(**training) -> RunConfig:
    """A token-classification run config with these training settings (what tokenize reads)."""
    return RunConfig.from_dict({"task": "token-classification", "data": {"train": "x.conll"}, "training": training})


def sentences(n: int, seed: int = 0) -> list[list[tuple[str, str]]]:
    """n distinct little sentences as (token, tag) pairs."""
    rng = random.Random(seed)
    out, seen = [], set()
    while len(out) < n:
        pairs = []
        for word in rng.choice(PATTERNS).split():
            kind = {"{P}": ("PER", PEOPLE), "{L}": ("LOC", PLACES), "{O}": ("ORG", ORGS)}.get(word)
            if kind is None:
                pairs.append((word, "O"))
            else:
                parts = rng.choice(kind[1]).split()
                pairs += [(p, ("B-" if i == 0 else "I-") + kind[0]) for i, p in enumerate(parts)]
        key = " ".join(t for t, _ in pairs)
        if key not in seen:
            seen.add(key)
            out.append(pairs)
    return out


def write_conll(path: Path, sents, sep: str = " ") -> Path:
    path.write_text("".join("".join(f"{t}{sep}{g}\n" for t, g in s) + "\n" for s in sents), encoding="utf-8")
    return path


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def prepare(path: Path, **over) -> "ner_data.PreparedData":
    return ner_data.prepare_data(DataConfig(train=str(path), **over))


@pytest.fixture(scope="module")
def ner_conll(tmp_path_factory) -> Path:
    """48 sentences: 38/5/5 with the default 80/10/10 split."""
    return write_conll(tmp_path_factory.mktemp("ner") / "people.conll", sentences(48))


# -------------------------------------------------------------------------------------- reading --
def test_reads_conll_columns_docstart_and_blank_lines(tmp_path):
    p = tmp_path / "news.conll"
    p.write_text("-DOCSTART- -X- O O\n\nAlice NNP B-NP B-PER\nlives VBZ B-VP O\nin IN B-PP O\n"
                 "New NNP B-NP B-LOC\nYork NNP I-NP I-LOC\n\n\n\nBob\tNNP\tB-NP\tB-PER\nsings\tVBZ\tB-VP\tO\n\n"
                 "Acme NNP B-NP B-ORG\nhires VBZ B-VP O\n",
                 encoding="utf-8")
    sents = ner_data.read_conll(str(p))
    assert ([s["tokens"] for s in sents]
            == [["Alice", "lives", "in", "New", "York"], ["Bob", "sings"], ["Acme", "hires"]])
    assert sents[0]["tags"] == ["B-PER", "O", "O", "B-LOC", "I-LOC"]
    assert sents[1]["line"] == 11  # its first token's line, for error messages
    prepared = prepare(p, validation_fraction=0.0, test_fraction=0.0)
    df = prepared.splits["train"]
    assert list(df.columns) == ["text", "tokens", "tags"]
    assert df["text"].tolist()[0] == "Alice lives in New York"
    assert prepared.labels == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    r = prepared.report
    assert (r.text_column, r.label_column, r.columns) == ("tokens", "tags", ["tokens", "tags"])
    assert r.label_counts["train"] == {"O": 4, "B-LOC": 1, "I-LOC": 1, "B-ORG": 1, "I-ORG": 0, "B-PER": 2, "I-PER": 0}


def test_a_header_row_is_skipped_in_tsv(tmp_path):
    p = tmp_path / "tags.tsv"
    p.write_text("token\ttag\nAlice\tB-PER\nsings\tO\n\nBob\tB-PER\n\nCarla\tB-PER\n", encoding="utf-8")
    assert [s["tokens"] for s in ner_data.read_conll(str(p))] == [["Alice", "sings"], ["Bob"], ["Carla"]]


def test_reads_jsonl_and_json_with_detected_columns(tmp_path):
    recs = [{"id": i, "words": [t for t, _ in s], "ner_tags": [g for _, g in s]} for i, s in enumerate(sentences(12))]
    for path in (write_jsonl(tmp_path / "ner.jsonl", recs), tmp_path / "ner.json"):
        if path.suffix == ".json":
            path.write_text(json.dumps(recs), encoding="utf-8")
        prepared = prepare(path)
        r = prepared.report
        assert (r.text_column, r.label_column) == ("words", "ner_tags")
        assert r.rows == {"train": 10, "validation": 1, "test": 1}
        all_tokens = sorted(" ".join(t) for df in prepared.splits.values() for t in df["tokens"])
        assert all_tokens == sorted(" ".join(r["words"]) for r in recs)
    chosen = prepare(tmp_path / "ner.jsonl", text_column="words", label_column="ner_tags")
    assert chosen.report.label_column == "ner_tags"


def test_split_is_seeded_by_sentence_with_files_and_max_rows(tmp_path, ner_conll):
    a, b = prepare(ner_conll), prepare(ner_conll)
    assert list(a.report.rows.items()) == [("train", 38), ("validation", 5), ("test", 5)]
    assert all(a.splits[k]["text"].tolist() == b.splits[k]["text"].tolist() for k in a.splits)
    other = prepare(ner_conll, split_seed=7)
    assert other.splits["test"]["text"].tolist() != a.splits["test"]["text"].tolist()
    assert "random by sentence, seed 42" in a.report.split_source["test"]
    held = write_conll(tmp_path / "held.conll", sentences(6, seed=3))
    with_files = prepare(ner_conll, validation=str(held), test=str(held), max_rows=20)
    assert with_files.report.rows == {"train": 20, "validation": 6, "test": 6}
    assert with_files.report.split_source["test"] == "held.conll"


def test_few_entities_and_shared_sentences_warn(tmp_path):
    sents = [[("Alice", "B-PER"), ("sings", "O")]] * 3 + [[("Bob", "B-PER"), ("hums", "O")]] * 3
    rep = prepare(write_conll(tmp_path / "few.conll", sents)).report
    assert any("1 entity type(s) have fewer than 8 training entities ('PER')" in w for w in rep.warnings), rep.warnings
    assert any("appear in both train and" in w for w in rep.warnings), rep.warnings


# ----------------------------------------------------------------------------------- bad input --
def conll_error(tmp_path, text: str, name: str = "bad.conll") -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as err:
        prepare(p)
    return str(err.value)


SKIP_ONE = (" 1 of the {total} {unit}s of {file} cannot be read; fix or remove it, or turn on data.skip_bad_records "
            "(the Data tab offers it) to go on without it; the data report counts it.")
REPAIR = (" Turn on data.repair_bio (the Data tab offers it) to read every such tag as an entity start; the data "
          "report counts them.")


def test_bio_tags_out_of_order_name_the_line(tmp_path):
    good = "Alice B-PER\nsings O\n\n" * 5
    assert conll_error(tmp_path, good + "the O\nman I-PER\n") == (
        "bad.conll line 17: BIO tags out of order: I-PER follows O; an entity must start with B-PER." + REPAIR)
    assert conll_error(tmp_path, "New B-LOC\nYork I-PER\n\n" + good) == (
        "bad.conll line 2: BIO tags out of order: I-PER follows B-LOC; an entity must start with B-PER." + REPAIR)
    assert conll_error(tmp_path, "York I-LOC\n\n" + good) == (
        "bad.conll line 1: BIO tags out of order: I-LOC follows O; an entity must start with B-LOC." + REPAIR)


def test_repair_bio_reads_an_entity_that_starts_with_i_as_starting_there_and_counts_it(tmp_path, capsys):
    """MSRA-style char<TAB>tag lines: one bad tag must not cost the whole file."""
    good = "张\tB-PER\n三\tI-PER\n在\tO\n北\tB-LOC\n京\tI-LOC\n\n" * 12
    path = tmp_path / "msra.txt"
    path.write_text(good + "李\tI-PER\n四\tI-PER\n\n在\tO\n京\tI-LOC\n\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        prepare(path)
    assert err.value.fix == "repair_bio"
    prepared = prepare(path, repair_bio=True)
    assert prepared.report.repaired_tags == 2
    assert any("2 tag(s) were repaired" in w for w in prepared.report.warnings)
    tags = [t for split in prepared.splits.values() for t in split["tags"]]
    assert ["B-PER", "I-PER"] in tags and ["O", "B-LOC"] in tags
    runs = ["--runs-dir", str(tmp_path / "runs")]
    assert cli.main([*runs, "data", str(path), "--task", "token-classification"]) == 2
    assert "repair_bio" in capsys.readouterr().err
    assert cli.main([*runs, "data", str(path), "--task", "token-classification", "--repair-bio"]) == 0
    assert "warning: 2 tag(s) were repaired" in capsys.readouterr().out


def test_tags_that_are_not_bio(tmp_path):
    assert conll_error(tmp_path, "Alice PER\nsings O\n") == (
        "bad.conll line 1: tag 'PER' is not a BIO tag; use O outside entities, B-TYPE on an entity's first token "
        "and I-TYPE on the rest (e.g. B-PER, I-PER).")
    assert "tag 'S-PER' is not a BIO tag" in conll_error(tmp_path, "Alice S-PER\n")
    assert "tag 'b-per' is not a BIO tag" in conll_error(tmp_path, "Alice b-per\n")


def test_other_file_problems(tmp_path):
    assert conll_error(tmp_path, "Alice O\nsings O\n\nBob O\n") == (
        "bad.conll has no entities: every tag is O; tag the entities with B-TYPE and I-TYPE (e.g. B-PER, I-PER) "
        "so there is something to learn.")
    assert conll_error(tmp_path, "Alice B-PER\nsings\n") == (
        "bad.conll line 2 has a single field 'sings'; each line needs a token and its tag separated by a space or "
        "tab, with a blank line between sentences.")
    assert conll_error(tmp_path, "\n\n-DOCSTART- O\n\n") == (
        "bad.conll holds no sentences; write one token and its tag per line, a blank line between sentences.")
    assert "bad.conll is empty" in conll_error(tmp_path, "")
    latin = tmp_path / "latin.conll"
    latin.write_bytes("Kraków B-LOC\n".encode("latin-1"))
    with pytest.raises(DataError, match="latin.conll is not UTF-8 text"):
        prepare(latin)
    (tmp_path / "tickets.csv").write_text("text,label\nAlice,x\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"tickets.csv: unsupported file type .csv for token classification"):
        prepare(tmp_path / "tickets.csv")
    with pytest.raises(DataError, match="Training file .*missing.conll does not exist"):
        prepare(tmp_path / "missing.conll")


def test_unseen_entity_type_in_a_test_file(tmp_path, ner_conll):
    test = write_conll(tmp_path / "holdout.conll", [[("Rex", "B-ANIMAL"), ("barks", "O")]])
    with pytest.raises(DataError) as err:
        prepare(ner_conll, test=str(test))
    assert str(err.value) == ("holdout.conll: entity type 'ANIMAL' never occurs in the training data; add training "
                              "sentences with it or remove it from the file.")


CONLL2003_NAMES = "O, B-PER, I-PER, B-ORG, I-ORG, B-LOC, I-LOC, B-MISC, I-MISC"


def test_tag_ids_as_hugging_face_datasets_export_them_are_named_by_label_names(tmp_path):
    records = [{"tokens": ["EU", "rejects", "German", "call"], "ner_tags": [3, 0, 7, 0]},
               {"tokens": ["Peter", "Blackburn"], "ner_tags": [1, 2]}] * 5
    path = write_jsonl(tmp_path / "conll2003.jsonl", records)
    with pytest.raises(DataError,
                       match=r"^conll2003.jsonl record 1: 'ner_tags' holds numbers, not tag names.*label_names"):
        prepare(path)
    named = prepare(path, label_names=CONLL2003_NAMES, validation_fraction=0.2, test_fraction=0.2)
    tags = {tuple(t) for split in named.splits.values() for t in split["tags"]}
    assert tags == {("B-ORG", "O", "B-MISC", "O"), ("B-PER", "I-PER")}
    conll = tmp_path / "ids.conll"
    conll.write_text("EU 3\nrejects 0\n\nPeter 1\nBlackburn 2\n\n" * 5)
    with pytest.raises(DataError, match=r"^ids.conll line 1: tag '3' is a number: the tags look like class ids"):
        prepare(conll)
    assert ({tuple(t) for t in prepare(conll, label_names=CONLL2003_NAMES, validation_fraction=0.2,
                                       test_fraction=0.2).splits["train"]["tags"]}
            <= {("B-ORG", "O"), ("B-PER", "I-PER")})
    with pytest.raises(DataError, match=r"record 1 \(token 1, 'EU'\): tag id 3 has no name: label_names gives 2 names"):
        prepare(path, label_names="O, B-PER")


@pytest.mark.parametrize("record, message", [
    ({"tokens": ["Alice", "sings"], "tags": ["B-PER"]},
     "ner.jsonl record 2 has 2 tokens but 1 tags; give every token exactly one tag."),
    ({"tokens": ["Alice", "sings"], "tags": [1, 0]},
     "ner.jsonl record 2: 'tags' holds numbers, not tag names, and the file does not say which number is which tag; "
     "give the names in id order as label_names (e.g. O, B-PER, I-PER), or write the tags as names."),
    ({"tokens": [], "tags": []}, "ner.jsonl record 2 has no tokens; remove the empty sentence or fill it in."),
    ({"tokens": ["Alice", "sings"], "tags": ["B-PER", "I-LOC"]},
     "ner.jsonl record 2 (token 2, 'sings'): BIO tags out of order: I-LOC follows B-PER; an entity must "
     "start with B-LOC."
     + REPAIR),
])
def test_bad_jsonl_records(tmp_path, record, message):
    path = write_jsonl(tmp_path / "ner.jsonl", [{"tokens": ["Bob", "hums"], "tags": ["B-PER", "O"]}, record])
    with pytest.raises(DataError) as err:
        prepare(path)
    if err.value.fix == "repair_bio":  # its own fix is offered first
        assert str(err.value) == message
    else:  # one bad record among good ones: counted, and the file can go on without it
        assert str(err.value) == message + SKIP_ONE.format(total=2, unit="sentence", file="ner.jsonl")
        assert err.value.fix == "skip_bad_records"


def test_an_empty_token_in_a_record(tmp_path):
    path = write_jsonl(tmp_path / "ner.jsonl", [{"tokens": ["Alice", " ", "sings"], "tags": ["B-PER", "O", "O"]}])
    with pytest.raises(DataError) as err:
        prepare(path)
    assert str(err.value) == ("ner.jsonl record 1: token 2 is empty; remove it and its tag (a token is a word or a "
                              "punctuation mark).")


def test_jsonl_without_list_columns(tmp_path):
    path = write_jsonl(tmp_path / "flat.jsonl", [{"text": "Alice sings", "label": "x"}] * 3)
    with pytest.raises(DataError, match=r"flat.jsonl: no column holds a list of tokens"):
        prepare(path)


# ------------------------------------------------------------------------------------ alignment --
def test_align_labels_marks_only_the_first_sub_token():
    assert ner_tokens.align_labels([None, 0, 1, 1, 1, 2, None], [5, 0, 3]) == [-100, 5, 0, -100, -100, 3, -100]


@pytest.fixture(scope="module")
def tokenizer(tiny_bert):
    return ner_model.load_tokenizer(tiny_bert)


def test_tokenize_labels_first_sub_tokens_and_truncates(tokenizer):
    labels = ner_data.labels_for(["LOC", "PER"])  # O B-LOC I-LOC B-PER I-PER
    tokens = ["Zelgrimova", "visited", "Kraków", "yesterday"]
    tags = ["B-PER", "O", "B-LOC", "O"]
    df = pd.DataFrame({"text": [" ".join(tokens)], "tokens": [tokens], "tags": [tags]})
    ds = ner_tokens.tokenize({"train": df}, tokenizer, labels, run_config(max_length=64))["train"]
    ids, got = ds[0]["input_ids"], ds[0]["labels"]
    pieces = tokenizer.convert_ids_to_tokens(ids)
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]" and got[0] == got[-1] == -100
    word_ids = tokenizer(tokens, is_split_into_words=True).word_ids()
    assert sum(1 for w in word_ids if w == 0) > 1, "the made-up name must split into sub-tokens for this test"
    first = {w: i for i, w in reversed(list(enumerate(word_ids))) if w is not None}
    for pos, w in enumerate(word_ids):
        expected = -100 if w is None or first[w] != pos else labels.index(tags[w])
        assert got[pos] == expected, (pos, pieces[pos], got[pos], expected)
    assert [l for l in got if l != -100] == [3, 0, 1, 0]
    short = ner_tokens.tokenize({"train": df}, tokenizer, labels, run_config(max_length=8))["train"][0]
    assert len(short["input_ids"]) == 8 and short["labels"][-1] == -100


def test_words_without_sub_tokens_and_truncated_words_are_left_out_of_the_rows(tokenizer):
    # a zero-width space is a token of the file but no sub-token of the model: it gets no label
    tokens = ["Alice", "\u200b", "visited", "Oslo"]
    assert ner_report.labelled_words(tokenizer, tokens, 64) == [0, 2, 3]
    assert ner_report.labelled_words(tokenizer, tokens, 4) == [0, 2]  # [CLS] Alice visited [SEP]
    labels = ner_data.labels_for(["LOC", "PER"])
    y = np.array([[-100, 3, 0, 1, -100]])
    pred = np.stack([np.array([[0, 3, 0, 1, 0]], dtype=float), np.full((1, 5), 0.9)], -1)
    df = pd.DataFrame({"tokens": [tokens]})
    _, rows = ner_report.report_from_predictions(pred, y, labels, df,
                                                 [ner_report.labelled_words(tokenizer, tokens, 64)])
    assert rows[0]["label"] == "Alice[PER] visited Oslo[LOC]" and rows[0]["tokens"] == ["Alice", "visited", "Oslo"]


def test_the_collator_pads_labels_with_the_ignore_index(tokenizer):
    batch = ner_tokens.collator(tokenizer)([{"input_ids": [101, 7, 102], "labels": [-100, 1, -100]},
                                            {"input_ids": [101, 7, 8, 9, 102], "labels": [-100, 1, 0, 2, -100]}])
    assert batch["labels"].tolist()[0] == [-100, 1, -100, -100, -100]


# -------------------------------------------------------------------------------------- metrics --
def test_seqeval_scores_on_a_known_case():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-PER"], ["B-ORG", "O"]]
    # entities: gold {PER 0-2, LOC 3, ORG 0}, predicted {PER 0-2, PER 3, ORG 0}: 2 of 3 right each way
    s = ner_training.scores(gold, pred)
    assert s == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "token_accuracy": 5 / 6})
    # a half-found entity counts as wrong for the entity scores but the tokens it got right still count
    half = ner_training.scores([["B-PER", "I-PER"]], [["B-PER", "O"]])
    assert half == pytest.approx({"precision": 0.0, "recall": 0.0, "f1": 0.0, "token_accuracy": 0.5})


def test_compute_metrics_skips_ignored_positions():
    labels = ner_data.labels_for(["PER"])  # O B-PER I-PER
    y = np.array([[-100, 1, 2, 0, -100], [-100, 0, -100, -100, -100]])
    ids = np.array([[0, 1, 0, 0, 1], [2, 0, 1, 1, 1]], dtype=float)  # the ignored positions are garbage
    pred = np.stack([ids, np.full_like(ids, 0.9)], axis=-1)
    out = ner_training.metrics_fn(labels)(type("P", (), {"predictions": pred, "label_ids": y})())
    # gold [[B-PER, I-PER, O], [O]]; predicted [[B-PER, O, O], [O]]
    assert out == pytest.approx({"precision": 0.0, "recall": 0.0, "f1": 0.0, "token_accuracy": 0.75})


def test_report_rows_and_per_type_table():
    labels = ner_data.labels_for(["LOC", "PER"])
    y = np.array([[-100, 3, 0, 1, -100], [-100, 0, 1, -100, -100]])
    ids = np.array([[0, 3, 0, 1, 0], [0, 0, 0, 0, 0]], dtype=float)
    probs = np.array([[0.5, 0.9, 0.8, 0.6, 0.5], [0.5, 0.7, 0.4, 0.5, 0.5]])
    df = pd.DataFrame({"tokens": [["Alice", "in", "Oslo"], ["in", "Lima"]], "tags": [[], []]})
    report, rows = ner_report.report_from_predictions(np.stack([ids, probs], -1), y, labels, df)
    assert report["metrics"] == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "token_accuracy": 0.8})
    assert report["per_class"]["PER"]["f1-score"] == 1.0 and report["per_class"]["LOC"]["recall"] == 0.5
    assert report["entity_types"] == ["LOC", "PER"] and report["n"] == 2
    assert rows[0] == {"text": "Alice in Oslo", "tokens": ["Alice", "in", "Oslo"],
                       "gold": [{"entity": "PER", "text": "Alice", "start": 0, "end": 1},
                                {"entity": "LOC", "text": "Oslo", "start": 2, "end": 3}],
                       "predicted_entities": [{"entity": "PER", "text": "Alice", "start": 0, "end": 1},
                                              {"entity": "LOC", "text": "Oslo", "start": 2, "end": 3}],
                       "label": "Alice[PER] in Oslo[LOC]", "predicted": "Alice[PER] in Oslo[LOC]",
                       "confidence": pytest.approx(0.6), "correct": True}
    assert rows[1]["correct"] is False and rows[1]["predicted"] == "in Lima" and rows[1]["label"] == "in Lima[LOC]"


# ----------------------------------------------------------------------------------- prediction --
def test_split_words_keeps_offsets_and_splits_punctuation():
    text = "Dr. Jean-Luc met O'Neil in São Paulo, then left!"
    words = split_words(text)
    assert [w for w, _, _ in words] == ["Dr", ".", "Jean-Luc", "met", "O'Neil", "in", "São", "Paulo", ",", "then",
                                        "left", "!"]
    assert all(text[s:e] == w for w, s, e in words)


def test_prediction_spans_and_format():
    text = "Alice  Martin lives in New York."
    words = split_words(text)
    pred = _prediction(text, words, ["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "O"],
                       [0.9, 0.7, 1, 1, 0.6, 0.8, 1])
    assert pred["entities"] == [{"entity": "PER", "text": "Alice  Martin", "start": 0, "end": 13,
                                 "score": pytest.approx(0.8)},
                                {"entity": "LOC", "text": "New York", "start": 23, "end": 31,
                                 "score": pytest.approx(0.7)}]
    assert format_prediction(text, pred) == "Alice  Martin[PER] lives in New York[LOC]."
    assert format_prediction("nothing here", {"entities": []}) == "nothing here"


def test_the_contract_and_methods():
    task = get_task("token-classification")
    assert task is ner.TASK and task.model.peft_task_type == "TOKEN_CLS" and task.metrics.best[0] == "f1"
    assert set(task.model.method_names()) == set(methods.METHODS) - {"prompt"}
    with pytest.raises(ConfigError, match="method: 'prompt' does not apply to token-classification"):
        RunConfig.from_dict({"task": "token-classification", "method": "prompt", "data": {"train": "x.conll"}})
    cfg = RunConfig.from_dict({"task": "token-classification", "data": {"train": "x.conll"},
                               "training": {"best_metric": "token_accuracy"}})
    assert cfg.selection_metric() == "token_accuracy" and cfg.model == "auto"
    assert cfg.resolved().model == ner.TASK.model.default_model
    card = "\n".join(card_usage(False))
    assert "AutoModelForTokenClassification" in card and 'aggregation_strategy="simple"' in card
    assert "AutoPeftModelForTokenClassification" in "\n".join(card_usage(True))


# ------------------------------------------------------------------------------ method matrix --
def ner_config(model: Path, train_file: Path, method: str = "lora", **training) -> dict:
    raw = tiny_config(model, train_file, method, **training)
    raw["task"] = "token-classification"
    return raw


@pytest.fixture(scope="module")
def matrix_store(tmp_path_factory):
    from studio.runs.store import Store

    return Store(tmp_path_factory.mktemp("ner-method-runs"))


@pytest.mark.parametrize("method", trainable_here(ner.TASK.model.method_names()))
def test_method_trains_lowers_loss_and_reloads(method, tiny_bert, ner_conll, matrix_store):
    # one full batch of the 38 training sentences per step: the logged loss has no sampling noise
    cfg = RunConfig.from_dict(ner_config(tiny_bert, ner_conll, method, epochs=8, batch_size=40,
                                         eval_strategy="steps", eval_steps=8, save_total_limit=1))
    run_id = matrix_store.create(cfg, start=False)
    rd = matrix_store.run_dir(run_id)
    result = recipe.run(rd)
    assert result["status"] == "completed", result
    losses = [r["loss"] for r in runfolder.read_metrics(rd) if r["kind"] == "train"]
    assert len(losses) == 8 and losses[-1] < losses[0] - 0.01, f"{method} did not lower the loss: {losses}"
    evals = [r for r in runfolder.read_metrics(rd) if r["kind"] == "eval"]
    assert {"eval_f1", "eval_token_accuracy", "eval_precision", "eval_recall"} <= set(evals[-1])
    rows = read_jsonl(RunFolder(rd).predictions)
    inference.forget(rd)
    preds = inference.predict(rd, [r["text"] for r in rows])
    inference.forget(rd)
    # the reloaded model tags the test sentences as the test report says (same words: they hold no punctuation
    # that the typed-text splitter would separate differently)
    assert [ner_report.entity_spans(p["tags"]) for p in preds] == [
        [(e["entity"], e["start"], e["end"]) for e in r["predicted_entities"]] for r in rows]


# ------------------------------------------------------------------------ a worker run end to end --
@pytest.fixture(scope="module")
def ner_run(tmp_path_factory, tiny_bert):
    """One NER run trained by a real worker on 80 sentences (full fine-tuning: the tiny model learns the names)."""
    from studio.runs.store import Store

    root = tmp_path_factory.mktemp("ner-finished")
    data = write_conll(root / "people.conll", sentences(80, seed=1))
    store = Store(root / "runs")
    cfg = RunConfig.from_dict(ner_config(tiny_bert, data, "full", epochs=12, batch_size=8, learning_rate=3e-3))
    run_id = train_to_completion(store, cfg)
    return store, run_id, cfg


def test_worker_run_reports_and_predicts_entities(ner_run):
    store, run_id, _ = ner_run
    rd = store.run_dir(run_id)
    st = runfolder.read_status(rd)
    assert st["best_metric_name"] == "f1" and set(st["test_metrics"]) == {"precision", "recall", "f1", "token_accuracy"}
    report = json.loads((RunFolder(rd).report).read_text())
    rows = read_jsonl(RunFolder(rd).predictions)
    test = pd.read_parquet(rd / "data" / "test.parquet")
    assert report["n"] == len(rows) == len(test) == 8
    assert [r["text"] for r in rows] == test["text"].tolist()
    assert [[(e["entity"], e["start"], e["end"]) for e in r["gold"]] for r in rows] == [
        ner_report.entity_spans(list(t)) for t in test["tags"]]
    assert report["metrics"]["f1"] > 0.5, report["metrics"]  # the tiny model learned the names
    assert set(report["per_class"]) <= {"LOC", "ORG", "PER"} and report["per_class"]
    data_report = json.loads((RunFolder(rd).data_report).read_text())
    assert data_report["labels"] == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    assert data_report["token_lengths"]["max"] > 0
    inference.forget(rd)
    pred = inference.predict(rd, ["Dmitri Volkov lives in New York."])[0]
    assert pred["tokens"] == ["Dmitri", "Volkov", "lives", "in", "New", "York", "."]
    assert {(e["entity"], e["text"]) for e in pred["entities"]} == {("PER", "Dmitri Volkov"), ("LOC", "New York")}
    assert all(0 < e["score"] <= 1 for e in pred["entities"])


def test_export_adapter_and_merged_reload_to_the_same_tags(tiny_bert, ner_conll, tmp_path, matrix_store):
    cfg = RunConfig.from_dict(ner_config(tiny_bert, ner_conll, "lora", epochs=2, batch_size=40, save_total_limit=1))
    run_id = matrix_store.create(cfg, start=False)
    rd = matrix_store.run_dir(run_id)
    assert recipe.run(rd)["status"] == "completed"
    texts = ["Alice lives in Oslo .", "Globex Corp opened an office in Lima ."]
    inference.forget(rd)
    expected = [p["tags"] for p in inference.predict(rd, texts)]
    adapter = export.build_folder(rd, "adapter", tmp_path / "adapter")
    merged = export.build_folder(rd, "merged", tmp_path / "merged")
    assert (adapter / "adapter_config.json").exists() and not (merged / "adapter_config.json").exists()
    card = (merged / "README.md").read_text()
    assert "pipeline_tag: token-classification" in card and "AutoModelForTokenClassification" in card
    assert "| PER |" in card or "| LOC |" in card or "| ORG |" in card  # the per-type table
    tok = ner_model.load_tokenizer(merged)
    model = ner_model.load_model(merged, json.loads((merged / "studio_model.json").read_text())["labels"], tok)
    assert [p["tags"] for p in predict(model, tok, texts)] == expected
    # The adapter, loaded the way its model card says (plain peft, the tags passed along for the head).
    from peft import AutoPeftModelForTokenClassification

    id2label = dict(enumerate(json.loads((adapter / "studio_model.json").read_text())["labels"]))
    assert f"id2label = {id2label!r}" in (adapter / "README.md").read_text()
    plain = AutoPeftModelForTokenClassification.from_pretrained(str(on_own_copy_of_base(adapter, rd)),
                                                                num_labels=len(id2label),
                                                                id2label=id2label).merge_and_unload()
    assert [p["tags"] for p in predict(plain, ner_model.load_tokenizer(adapter), texts)] == expected
    from peft import PeftModel

    base = ner_model.load_model(tiny_bert, cfg_labels(rd), tok)
    with_adapter = PeftModel.from_pretrained(base, str(adapter))
    assert [p["tags"] for p in predict(with_adapter, tok, texts)] == expected
    from transformers import pipeline

    tagger = pipeline("token-classification", model=str(merged), aggregation_strategy="simple", device="cpu")
    assert isinstance(tagger(texts[0]), list)


def cfg_labels(rd: Path) -> list[str]:
    return json.loads((RunFolder(rd).data_report).read_text())["labels"]


# ------------------------------------------------------------------------------------------ CLI --
def test_cli_data_train_and_predict(tmp_path, tiny_bert, ner_conll, capsys):
    runs = ["--runs-dir", str(tmp_path / "runs")]
    assert cli.main([*runs, "data", str(ner_conll), "--task", "token-classification"]) == 0
    out = capsys.readouterr().out
    assert "label column 'tags'; 7 labels" in out and "rows     train 38, validation 5, test 5" in out
    assert "B-PER" in out and "I-LOC" in out
    assert cli.main([*runs, "data", str(ner_conll)]) == 2  # read as a classification table it cannot work
    assert "Text classification does not read .conll files" in capsys.readouterr().err

    cfg_file = tmp_path / "ner.yaml"
    cfg_file.write_text(json.dumps(ner_config(tiny_bert, ner_conll, "full", epochs=2, batch_size=40)), encoding="utf-8")
    assert cli.main([*runs, "train", str(cfg_file)]) == 0
    capsys.readouterr()
    assert cli.main([*runs, "runs", "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out)[0]["id"]
    assert cli.main([*runs, "predict", run_id, "Alice lives in Oslo."]) == 0
    line = capsys.readouterr().out.strip()
    assert line.replace("[PER]", "").replace("[LOC]", "").replace("[ORG]", "") == "Alice lives in Oslo."
    assert cli.main([*runs, "predict", "--json", run_id, "Alice lives in Oslo."]) == 0
    got = json.loads(capsys.readouterr().out)[0]
    assert got["text"] == "Alice lives in Oslo." and got["tokens"] == ["Alice", "lives", "in", "Oslo", "."]
    assert len(got["tags"]) == 5


def test_the_bundled_sample_and_example_config_prepare():
    root = Path(__file__).resolve().parents[3]
    cfg = RunConfig.load(root / "examples" / "minilm-ner-lora.yaml")
    assert cfg.task == "token-classification" and cfg.method == "lora"
    prepared = ner_data.prepare_data(cfg.data)
    assert prepared.report.rows["train"] >= 150 and prepared.report.warnings == []
    assert prepared.labels == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]


def test_reproduce_script_retrains_the_run_to_its_entity_scores(ner_run, tmp_path):
    """The exported script (plain transformers + peft + seqeval, no studio) reaches the run's test scores."""
    store, run_id, _ = ner_run
    got, want, folder = run_reproduce_script(store.run_dir(run_id), tmp_path)
    assert json.loads((folder / "data" / "labels.json").read_text())[0] == "O"
    assert set(got) == {"precision", "recall", "f1", "token_accuracy"}
    assert want["f1"] > 0.5 and abs(got["f1"] - want["f1"]) <= 0.1, (got, want)
    assert abs(got["token_accuracy"] - want["token_accuracy"]) <= 0.05, (got, want)
