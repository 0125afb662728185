"""Data augmentation (studio.augment and the tasks' operations): what each operation does, the config's checks,
and a run that trains on augmented rows, records them and exports them."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from studio import augment
from studio.augment import Augmentation
from studio.base import files
from studio.base.errors import ConfigError
from studio.base.runfolder import RunFolder
from studio.cli import main as cli
from studio.config import AugmentConfig, RunConfig
from studio.tasks import get_task
from studio.tasks.text_classification import paraphrase, word_ops
from studio.tasks.token_classification import tag_ops
from tests.support import read_jsonl, run_reproduce_script, separable_rows, tiny_config, train_to_completion, write_csv

WORDS = "please refund the duplicate payment on my card today".split()


# ------------------------------------------------------------------------------ word operations --
def test_swap_keeps_the_words_and_moves_some():
    out = word_ops.swap(WORDS, np.random.default_rng(0), 2)
    assert sorted(out) == sorted(WORDS) and out != WORDS


def test_delete_drops_n_words_and_never_all():
    assert len(word_ops.delete(WORDS, np.random.default_rng(0), 3)) == len(WORDS) - 3
    assert word_ops.delete(["one", "two"], np.random.default_rng(0), 5) in (["one"], ["two"])
    assert word_ops.delete(["alone"], np.random.default_rng(0), 1) == ["alone"]


def test_insert_draws_from_the_vocabulary():
    out = word_ops.insert(WORDS, np.random.default_rng(0), 2, ["transfer", "account"])
    added = Counter(out) - Counter(WORDS)
    assert sum(added.values()) == 2 and set(added) <= {"transfer", "account"}


def test_synonyms_replace_only_known_words_and_keep_case():
    out = word_ops.replace_synonyms(["Refund", "my", "card"], np.random.default_rng(0), 2, {"refund": ["repay"]})
    assert out == ["Repay", "my", "card"]


def test_embedding_synonyms_come_from_the_model_and_skip_inflections(tiny_bert):
    syn = word_ops.embedding_synonyms(tiny_bert, ["payment", "refund", "card"], min_similarity=-1.0)
    assert syn and all(len(v) <= 3 for v in syn.values())
    for word, near in syn.items():
        assert word not in near and not any(word_ops._same_stem(word, n) for n in near)
    assert word_ops._same_stem("refund", "refunds") and word_ops._same_stem("declined", "declining")
    assert not word_ops._same_stem("money", "cash")


def test_n_changed_is_a_share_and_at_least_one():
    assert word_ops.n_changed(WORDS, 0.1) == 1 and word_ops.n_changed(WORDS * 3, 0.2) == 5


# ------------------------------------------------------------------------------- tag operations --
SENTENCES = [("Ada Lovelace visited Paris .".split(), ["B-PER", "I-PER", "O", "B-LOC", "O"]),
             ("Bob met Carol in New York .".split(), ["B-PER", "O", "B-PER", "O", "B-LOC", "I-LOC", "O"])]


def valid_bio(tags: list[str]) -> bool:
    return all(not t.startswith("I-") or (i and tags[i - 1][2:] == t[2:] and tags[i - 1] != "O")
               for i, t in enumerate(tags))


def test_mention_replacement_swaps_an_entity_for_another_of_its_type():
    pools = tag_ops.pools(SENTENCES)
    assert pools.mentions["LOC"] == [("New", "York"), ("Paris",)]
    toks, tags = tag_ops.replace_mentions(*SENTENCES[0], np.random.default_rng(1), 1.0, pools)
    assert valid_bio(tags) and len(toks) == len(tags)
    assert toks[toks.index("visited") + 1:-1] == ["New", "York"] and tags[-3:] == ["B-LOC", "I-LOC", "O"]
    assert toks[:toks.index("visited")] in (["Bob"], ["Carol"])


def test_token_replacement_keeps_the_tags():
    pools = tag_ops.pools(SENTENCES)
    toks, tags = tag_ops.replace_tokens(*SENTENCES[1], np.random.default_rng(0), 0.5, pools)
    assert tags == SENTENCES[1][1] and toks != SENTENCES[1][0]
    for tok, tag in zip(toks, tags):
        assert tok in pools.tokens[tag]


def test_shuffle_stays_within_segments():
    toks, tags = tag_ops.shuffle_segments(*SENTENCES[1], np.random.default_rng(3), 1.0)
    assert tags == SENTENCES[1][1]
    for start, end, _ in tag_ops.segments(tags):
        assert sorted(toks[start:end]) == sorted(SENTENCES[1][0][start:end])


# ------------------------------------------------------------------------------------- the plan --
def test_plan_takes_operations_in_turn_and_caps_the_total():
    jobs = augment.plan(5, ["swap", "delete"], 2, None, seed=0)
    assert jobs == {"swap": [0, 1, 2, 3, 4], "delete": [0, 1, 2, 3, 4]}
    capped = augment.plan(10, ["swap", "delete", "insert"], 3, 7, seed=0)
    assert sum(map(len, capped.values())) == 7 and capped == augment.plan(10, ["swap", "delete", "insert"], 3, 7, 0)


def test_paraphrase_answers_are_cleaned_or_refused():
    text = "I lost my card yesterday, please block it."
    assert (paraphrase._clean("Here is the rewritten message: My card is gone, block it.", text)
            == "My card is gone, block it.")
    assert (paraphrase._clean('"Please block my card, I lost it."\nMore text', text)
            == "Please block my card, I lost it.")
    assert paraphrase._clean("The message was rephrased to: " + text, text) is None
    assert paraphrase._clean(text, text) is None and paraphrase._clean("  ", text) is None
    assert paraphrase._clean("word " * 100, text) is None


# ------------------------------------------------------------------------------------ the config --
def cfg(train: Path, task: str = "text-classification", **aug) -> RunConfig:
    return RunConfig.from_dict({"task": task, "data": {"train": str(train)}, "augment": aug})


@pytest.mark.parametrize("aug, says", [
    ({"copies": 1, "operations": "swap, twist"}, "'twist' does not apply to text-classification"),
    ({"copies": 1, "operations": "swap, swap"}, "name each operation once"),
    ({"copies": 1, "operations": "paraphrase", "generator": " "}, "augment.generator: paraphrase needs"),
    ({"copies": 21}, "augment.copies: 21 is above the maximum 20"),
    ({"copies": 1, "strength": 0.9}, "augment.strength: 0.9 is above the maximum 0.5"),
    ({"copies": -1}, "augment.copies: -1 is below the minimum 0"),
])
def test_bad_augment_settings_are_one_clear_sentence(separable_csv, aug, says):
    with pytest.raises(ConfigError, match=says):
        cfg(separable_csv, **aug)


def test_a_task_without_augmentation_refuses_copies(separable_csv):
    with pytest.raises(ConfigError, match="augment.copies: sft data cannot be augmented"):
        cfg(separable_csv, task="sft", copies=1)
    assert cfg(separable_csv, task="sft").augment.copies == 0  # off: nothing to refuse


def test_operations_default_to_the_tasks():
    task = get_task("text-classification")
    assert augment.operations(AugmentConfig(copies=1), task) == list(task.capability(Augmentation).default_operations)
    assert augment.operations(AugmentConfig(copies=1, operations="delete, swap"), task) == ["delete", "swap"]


def test_an_unavailable_generator_is_refused_before_a_run_exists(separable_csv, store, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    c = cfg(separable_csv, copies=1, operations="paraphrase", generator="nobody/no-such-model")
    with pytest.raises(ConfigError, match="augment.generator: paraphrase needs its generator"):
        store.create(c, start=False)
    assert store.list() == [] and not [p for p in store.root.iterdir() if p.name != "registry.sqlite"
                                       and not p.name.startswith("registry")]


# ------------------------------------------------------------------------------------- the tasks --
def test_text_classification_rows_keep_their_label(separable_csv, tiny_bert):
    c = cfg(separable_csv, copies=2, operations="swap, delete, insert, synonym")
    task = get_task(c.task)
    train = task.prepare_data(c.data).splits["train"]
    rows = augment.make_rows(task, train, c.augment, 0, tiny_bert, log=lambda _: None)
    assert set(rows.columns) == {"operation", "source_row", "text", "label"}
    assert 0 < len(rows) <= 2 * len(train)
    assert (rows["label"].values == train["label"].iloc[rows["source_row"]].values).all()
    assert (rows["text"].values != train["text"].iloc[rows["source_row"]].values).all()
    again = augment.make_rows(task, train, c.augment, 0, tiny_bert, log=lambda _: None)
    pd.testing.assert_frame_equal(rows, again)  # seeded


def test_token_classification_rows_stay_valid_bio(tmp_path):
    conll = Path(__file__).resolve().parents[3] / "assets" / "samples" / "ner_sample.conll"
    c = cfg(conll, task="token-classification", copies=1, operations="mention, token, shuffle")
    task = get_task(c.task)
    train = task.prepare_data(c.data).splits["train"]
    rows = augment.make_rows(task, train, c.augment, 0, None, log=lambda _: None)
    assert set(augment.counts(rows)) == {"mention", "token", "shuffle"}
    for toks, tags, text in zip(rows["tokens"], rows["tags"], rows["text"]):
        assert len(toks) == len(tags) and valid_bio(list(tags)) and text == " ".join(toks)
    table = augment.preview(c, train, n=6)
    assert list(table.columns) == ["operation", "original", "augmented", "tags"] and len(table) == 6
    assert list(table["operation"]) == ["mention", "token", "shuffle"] * 2


# --------------------------------------------------------------------------------------- a run --
def test_a_run_trains_on_augmented_rows_and_keeps_them(store, tiny_bert, tmp_path):
    data = write_csv(tmp_path / "tickets.csv", separable_rows(15, ("billing", "technical"), seed=2, words=(4, 8)))
    raw = tiny_config(tiny_bert, data, "lora", epochs=1)
    raw["augment"] = {"copies": 2, "operations": "swap, delete"}
    run_id = train_to_completion(store, RunConfig.from_dict(raw))
    rd = store.run_dir(run_id)
    shown = read_jsonl(RunFolder(rd).augmented_rows)
    report = json.loads((RunFolder(rd).data_report).read_text())
    n_train = report["rows"]["train"]
    assert report["augmentation"]["train_rows"] == n_train
    assert report["augmentation"]["train_rows_after"] == n_train + len(shown)
    assert report["augmentation"]["rows_added"] == dict(Counter(r["operation"] for r in shown))
    assert {"operation", "source_row", "original", "text", "label"} <= set(shown[0])
    train = pd.read_parquet(RunFolder(rd).data / "train.parquet")
    assert len(train) == n_train  # the split itself is left as the file gave it
    assert all(r["original"] == train["text"].iloc[r["source_row"]] for r in shown)
    log = (RunFolder(rd).log).read_text()
    assert "[studio] augmentation swap:" in log and f"{n_train + len(shown)} train rows" in log
    # Validation and test are never augmented: the test report scores the split's own rows.
    assert len(read_jsonl(RunFolder(rd).predictions)) == report["rows"]["test"]
    # The reproduce bundle trains on what the run trained on.
    got, want, folder = run_reproduce_script(rd, tmp_path)
    assert len(read_jsonl(folder / "data" / "train.jsonl")) == n_train + len(shown)
    assert f"trained with {len(shown)} augmented training rows" in (folder / "README.md").read_text()
    assert got["accuracy"] == pytest.approx(want["accuracy"], abs=0.1)


def test_cli_augment_shows_and_writes_rows(separable_csv, tmp_path, capsys, tiny_bert):
    assert cli(["augment", str(separable_csv), "--operations", "swap,delete", "--n", "4", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [r["operation"] for r in shown] == ["swap", "delete", "swap", "delete"]
    assert all(r["original"] != r["augmented"] for r in shown)
    out = tmp_path / "more.csv"
    assert cli(["augment", str(separable_csv), "--operations", "insert,synonym", "--copies", "2", "--out", str(out),
                "--model", str(tiny_bert), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert len(pd.read_csv(out)) == sum(summary["rows_added"].values()) > 0
    assert cli(["augment", str(separable_csv), "--operations", "mention"]) == 2
    assert "'mention' does not apply to text-classification" in capsys.readouterr().err


def test_a_resumed_run_reads_its_rows_back(tmp_path, separable_csv, tiny_bert):
    c = cfg(separable_csv, copies=1, operations="swap")
    task = get_task(c.task)
    train = task.prepare_data(c.data).splits["train"]
    files.atomic_write_json(RunFolder(tmp_path).data_report, {"rows": {"train": len(train)}})
    first = augment.for_run(tmp_path, c, task, train, tiny_bert)
    assert len(first) > len(train) and (RunFolder(tmp_path).augmented_rows).is_file()
    broken = dataclasses.replace(task, capabilities=())  # would fail if asked to make rows again
    pd.testing.assert_frame_equal(augment.for_run(tmp_path, c, broken, train, tiny_bert), first)
    off = cfg(separable_csv)
    assert augment.for_run(tmp_path, off, task, train, tiny_bert) is train


def test_a_run_whose_operations_change_nothing_trains_on_its_own_rows(tmp_path, tiny_bert):
    one_word = write_csv(tmp_path / "short.csv",
                         [{"text": w, "label": "a" if i % 2 else "b"}
                          for i, w in enumerate("alpha beta gamma delta epsilon zeta eta theta "
                                                "iota kappa lambda mu nu xi omicron pi".split())])
    c = cfg(one_word, copies=1, operations="swap")
    task = get_task(c.task)
    train = task.prepare_data(c.data).splits["train"]
    files.atomic_write_json(RunFolder(tmp_path).data_report, {})
    out = augment.for_run(tmp_path, c, task, train, tiny_bert)
    assert len(out) == len(train)
    assert json.loads((RunFolder(tmp_path).data_report).read_text())["augmentation"]["rows_added"] == {}
