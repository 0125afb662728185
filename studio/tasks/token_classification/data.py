"""Token classification's data: CoNLL and JSON/JSONL reading, the BIO checks (or repairs), the split and its
report, and the data check's bars (tokens per tag)."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studio.base.text import Text
from studio.data import (
    DataError,
    DataReport,
    PreparedData,
    check_file,
    describe_lengths,
    overlap_warnings,
    read_table,
    split_rows,
    token_length_stats,
    truncation_warnings,
)
from studio.data.bad_records import BadRecords, skipped_warnings
from studio.data.reading import row_places
from studio.tasks.base import text_tokens

CONLL_TYPES = (".conll", ".txt", ".iob", ".bio", ".tsv")

TOKEN_NAMES = ("tokens", "words", "token", "word", "text", "sentence")
TAG_NAMES = ("tags", "ner_tags", "labels", "ner", "tag", "label", "bio", "bio_tags", "ner_labels")
HEADER_TAGS = {"tag", "tags", "label", "labels", "ner", "ner_tag", "ner_tags", "bio"}
TAG_RE = re.compile(r"^(O|[BI]-\S+)$")
FEW_ENTITIES = 8


# ------------------------------------------------------------------------------------ reading --
def read_conll(path: str, role: str = "Training", bad: BadRecords | None = None) -> list[dict[str, Any]]:
    """Sentences of a column file: token in the first column, tag in the last, a blank line between sentences.

    Each sentence is {"tokens", "tags", "line"} (the 1-based line of its first token, for error messages: the
    others follow it line by line). With `bad`, a sentence with a line it cannot read is counted there and left out.
    """
    p = check_file(path, role, table=False, empty="a CoNLL file with one token and its tag per line")
    sentences: list[dict[str, Any]] = []
    cur: dict[str, Any] = {"tokens": [], "tags": []}

    def flush():
        nonlocal cur
        if "problem" in cur:
            bad.add(p.name, f"line {cur['line']}", cur["problem"])
        elif cur["tokens"]:
            sentences.append(cur)
        cur = {"tokens": [], "tags": []}

    with open(p, encoding="utf-8-sig") as fh:
        for n, line in enumerate(fh, start=1):
            fields = line.split()
            if not fields or fields[0] == "-DOCSTART-":
                flush()
                continue
            if n == 1 and len(fields) >= 2 and fields[-1].lower() in HEADER_TAGS:
                continue  # a header row such as "token<TAB>tag"
            cur.setdefault("line", n)
            if len(fields) < 2:
                problem = (f"{p.name} line {n} has a single field {fields[0][:40]!r}; each line needs a token and "
                           "its tag separated by a space or tab, with a blank line between sentences.")
                if bad is None:
                    raise DataError(problem)
                cur.setdefault("problem", problem)
                continue
            cur["tokens"].append(fields[0])
            cur["tags"].append(fields[-1])
    flush()
    if not sentences and bad is not None:
        bad.settle(p.name, 0)
    if not sentences:
        raise DataError(f"{p.name} holds no sentences; write one token and its tag per line, a blank line "
                        "between sentences.")
    return sentences


def read_records(path: str, role: str, token_col: str | None, tag_col: str | None,
                 names: list[str] | None = None, bad: BadRecords | None = None,
                 ) -> tuple[list[dict[str, Any]], str, str, list[str]]:
    """Sentences of a JSON/JSONL file of records with a token list and a tag list; also the columns used. With
    `bad`, a record that cannot be read is counted there and left out."""
    df = read_table(path, role, bad=bad)
    name = Path(path).name
    cols = [str(c) for c in df.columns]
    token_col = _pick_column(df, name, token_col, TOKEN_NAMES, "token", exclude=None)
    tag_col = _pick_column(df, name, tag_col, TAG_NAMES, "tag", exclude=token_col)
    sentences = []
    for i, (place, tokens, tags) in enumerate(zip(row_places(df, path), df[token_col], df[tag_col]), start=1):
        args = (tokens, tags, f"{name} {place}", token_col, tag_col, names)
        sentence = _sentence(*args) if bad is None else bad.read(name, place, _sentence, *args)
        if sentence is not None:
            sentences.append({**sentence, "record": i, "place": place})
    if not sentences and bad is not None:
        bad.settle(name, 0)
    if not sentences:
        raise DataError(f"{name} has no records; add sentences with tokens and tags.")
    return sentences, token_col, tag_col, cols


def _sentence(tokens: Any, tags: Any, where: str, token_col: str, tag_col: str,
              names: list[str] | None) -> dict[str, list[str]]:
    """One record's tokens and tags, checked: lists of the same length, tokens not empty, tags names or ids."""
    tokens, tags = _as_list(tokens), _as_list(tags)
    if tokens is None or tags is None:
        col = token_col if tokens is None else tag_col
        raise DataError(f"{where}: {col!r} is not a list; give tokens and tags as lists, e.g. "
                        '{"tokens": ["Alice", "lives", "here"], "tags": ["B-PER", "O", "O"]}.')
    if not tokens:
        raise DataError(f"{where} has no tokens; remove the empty sentence or fill it in.")
    if any(isinstance(t, (int, float, np.integer, np.floating)) and not isinstance(t, (bool, np.bool_))
           for t in tags):  # datasets hands a column of numbers over as numpy integers
        if names is None:
            raise DataError(f"{where}: {tag_col!r} holds numbers, not tag names, and the file does not say "
                            "which number is which tag; give the names in id order as label_names (e.g. O, "
                            "B-PER, I-PER), or write the tags as names.")
        tags = [str(int(t)) if isinstance(t, (int, float, np.integer, np.floating)) else t for t in tags]
    if len(tokens) != len(tags):
        raise DataError(f"{where} has {len(tokens)} tokens but {len(tags)} tags; give every token exactly one tag.")
    blank = next((k for k, t in enumerate(tokens) if not str(t).strip()), None)
    if blank is not None:
        raise DataError(f"{where}: token {blank + 1} is empty; remove it and its tag (a token is a word or a "
                        "punctuation mark).")
    return {"tokens": [str(t) for t in tokens], "tags": [str(t).strip() for t in tags]}


def _as_list(v: Any) -> list | None:
    if isinstance(v, (list, tuple, np.ndarray)):
        return list(v)
    return None


def _pick_column(df: pd.DataFrame, name: str, chosen: str | None, names: tuple[str, ...], role: str,
                 exclude: str | None) -> str:
    """The chosen column, else the first known name, else the first other column that holds lists."""
    cols = [c for c in df.columns if c != exclude]
    if chosen:
        if chosen not in df.columns:
            raise DataError(f"{name}: no column named {chosen!r} for the {role}s; choose one of its columns "
                            f"{list(df.columns)}.")
        return chosen
    lower = {str(c).lower(): c for c in cols}
    for n in names:
        if n in lower and _as_list(df[lower[n]].iloc[0]) is not None:
            return lower[n]
    listy = [c for c in cols if _as_list(df[c].iloc[0]) is not None]
    if not listy:
        raise DataError(f"{name}: no column holds a list of {role}s among {list(df.columns)}; give each record "
                        '"tokens" and "tags" lists, e.g. {"tokens": ["Alice", "sings"], "tags": ["B-PER", "O"]}.')
    return listy[0]


def read_sentences(path: str, role: str, token_col: str | None, tag_col: str | None,
                   names: list[str] | None = None, repair: bool = False, bad: BadRecords | None = None,
                   ) -> tuple[list[dict], str, str, list[str], int]:
    """Sentences of any supported file, checked for BIO consistency (or repaired: the count of tags changed is
    last); numeric tag ids named by `names`. The sentences that cannot be read go to `bad` (its file settled)."""
    bad = bad or BadRecords(unit="sentence")
    ext = Path(path).suffix.lower()
    if ext in (".json", ".jsonl"):
        sentences, token_col, tag_col, cols = read_records(path, role, token_col, tag_col, names, bad)
    elif ext in CONLL_TYPES:
        sentences, token_col, tag_col, cols = read_conll(path, role, bad), "tokens", "tags", ["tokens", "tags"]
    else:
        if not Path(path).exists():
            raise DataError(f"{role} file {path} does not exist.")
        raise DataError(f"{Path(path).name}: unsupported file type {ext or '(none)'} for token classification; "
                        "use a CoNLL column file (.conll, .txt, .iob, .bio, .tsv) or JSON/JSONL with tokens and tags.")
    file, repaired, kept = Path(path).name, 0, []
    for s in sentences:
        if names is not None:  # an id without a name: label_names is short, which no record can be blamed for
            name_tag_ids(s, names, file)
        fixed = bad.read(file, f"line {s['line']}" if "line" in s else s["place"], check_bio, s, file, repair)
        if fixed is not None:
            kept.append(s)
            repaired += fixed
    bad.settle(file, len(kept))
    return kept, token_col, tag_col, cols, repaired


def name_tag_ids(sentence: dict, names: list[str], file: str) -> None:
    """Replace tag ids ("3") by their names; a tag that is a name already stays."""
    for i, tag in enumerate(sentence["tags"]):
        if tag.isdigit():
            if int(tag) >= len(names):
                raise DataError(f"{_where(sentence, i, file)}: tag id {tag} has no name: label_names gives "
                                f"{len(names)} names (ids 0 to {len(names) - 1}); list every id's name in order.")
            sentence["tags"][i] = names[int(tag)]


def _where(sentence: dict, i: int, file: str) -> str:
    if "line" in sentence:
        return f"{file} line {sentence['line'] + i}"
    place = sentence.get("place") or f"record {sentence['record']}"
    return f"{file} {place} (token {i + 1}, {sentence['tokens'][i][:30]!r})"


def check_bio(sentence: dict, file: str, repair: bool = False) -> int:
    """Tags must be O, B-TYPE or I-TYPE, and an I-TYPE must continue an entity of the same type; with `repair`,
    one that does not becomes B-TYPE. Returns how many tags were repaired."""
    prev, repaired = "O", 0
    for i, tag in enumerate(sentence["tags"]):
        kind = _tag_kind(tag)
        if kind == "number":
            raise DataError(f"{_where(sentence, i, file)}: tag {tag!r} is a number: the tags look like class ids (as "
                            "Hugging Face datasets store ner_tags); give the names in id order as label_names (e.g. "
                            "O, B-PER, I-PER), or write the tags as names.")
        if kind == "other":
            raise DataError(f"{_where(sentence, i, file)}: tag {tag[:30]!r} is not a BIO tag; use O outside entities, "
                            "B-TYPE on an entity's first token and I-TYPE on the rest (e.g. B-PER, I-PER).")
        if tag.startswith("I-") and prev[2:] != tag[2:]:
            if not repair:
                raise DataError(f"{_where(sentence, i, file)}: {BIO_ORDER}: {tag} follows {prev}; an entity must "
                                f"start with B-{tag[2:]}. Turn on data.repair_bio (the Data tab offers it) to read "
                                "every such tag as an entity start; the data report counts them.", fix="repair_bio")
            tag = sentence["tags"][i] = "B-" + tag[2:]
            repaired += 1
        prev = tag
    return repaired


@functools.lru_cache(maxsize=4096)  # a file of millions of tags has a few dozen kinds
def _tag_kind(tag: str) -> str:
    """"bio" (O, B-TYPE, I-TYPE), "number" (a class id) or "other"."""
    return "number" if tag.isdigit() else "bio" if TAG_RE.match(tag) else "other"


BIO_ORDER = "BIO tags out of order"  # the words a refused file's message starts its finding with


def tag_bars(prepared) -> tuple[str, str, dict[str, dict[str, int]]]:
    """Tokens per tag, one bar group per split (the report counts tokens, not sentences)."""
    return Text("tag", "标签"), Text("tokens", "词元"), prepared.report.label_counts


def count_entities(frame: pd.DataFrame, types: list[str]) -> dict[str, int]:
    """Entities per type of checked tags (check_bio: every entity starts with its B- tag), counted without
    seqeval's general reading, which takes most of the time on a 50,000-sentence file."""
    counts = dict.fromkeys(types, 0)
    for tags in frame["tags"]:
        for t in tags:
            if t.startswith("B-"):
                counts[t[2:]] = counts.get(t[2:], 0) + 1
    return counts


def entity_types(frame: pd.DataFrame) -> set[str]:
    """The entity types of checked tags (every entity starts with its B- tag)."""
    return {t[2:] for tags in frame["tags"] for t in tags if t.startswith("B-")}


def count_tags(frame: pd.DataFrame, labels: list[str]) -> dict[str, int]:
    counts = dict.fromkeys(labels, 0)
    for tags in frame["tags"]:
        for t in tags:
            counts[t] = counts.get(t, 0) + 1
    return counts


def _frame(sentences: list[dict]) -> pd.DataFrame:
    return pd.DataFrame({"text": [" ".join(s["tokens"]) for s in sentences],
                         "tokens": [s["tokens"] for s in sentences], "tags": [s["tags"] for s in sentences]})


def labels_for(types: list[str]) -> list[str]:
    """O, then B- and I- of every type: the model can tag an entity of any length of any type seen."""
    return ["O", *[f"{p}-{t}" for t in types for p in "BI"]]


# ------------------------------------------------------------------------------------ prepare --
def prepare_data(cfg, tokenizer=None, max_length=None):
    """Read, check and split the sentences of a run config; see the module docstring for the columns."""
    train_name = Path(cfg.train).name
    names = cfg.names_of_ids()
    bad = BadRecords(cfg.skip_bad_records, unit="sentence")
    sentences, token_col, tag_col, cols, repaired = read_sentences(cfg.train, "Training", cfg.text_column,
                                                                   cfg.label_column, names, cfg.repair_bio, bad)
    frames = {"train": _frame(sentences)}
    source = {"train": train_name}
    types = sorted(entity_types(frames["train"]))
    if not types:
        raise DataError(f"{train_name} has no entities: every tag is O; tag the entities with B-TYPE and I-TYPE "
                             "(e.g. B-PER, I-PER) so there is something to learn.")
    for split in ("validation", "test"):
        path = getattr(cfg, split)
        if path:
            nm = Path(path).name
            sents, *_, fixed = read_sentences(path, split.capitalize(), cfg.text_column, cfg.label_column, names,
                                              cfg.repair_bio, bad)
            repaired += fixed
            frames[split], source[split] = _frame(sents), nm
            extra = sorted(entity_types(frames[split]) - set(types))
            if extra:
                raise DataError(f"{nm}: entity type {extra[0]!r} never occurs in the training data; add training "
                                     "sentences with it or remove it from the file.")
    frames, source = split_rows(frames, source, cfg, train_name, unit="sentence")
    labels = labels_for(types)
    report = DataReport(
        text_column=token_col, label_column=tag_col, columns=cols, labels=labels,
        rows={k: len(v) for k, v in frames.items()},
        label_counts={k: count_tags(v, labels) for k, v in frames.items()},
        split_source=source,
    )
    train_texts = set(frames["train"]["text"])
    report.shared_between_splits = {f"train-{k}": int(frames[k]["text"].isin(train_texts).sum())
                                    for k in ("validation", "test") if k in frames}
    describe_lengths(report, frames["train"]["text"])
    if tokenizer is not None:
        report.token_lengths = token_length_stats(frames["train"]["text"], tokenizer, max_length)
    report.repaired_tags = repaired
    bad.note(report)
    report.warnings = (skipped_warnings(report, "sentence")
                       + _warnings(report, count_entities(frames["train"], types), max_length))
    return PreparedData(splits=frames, labels=labels, report=report)


def _warnings(r, entities: dict[str, int], max_length: int | None) -> list[str]:
    w = []
    few = [t for t, c in entities.items() if c < FEW_ENTITIES]
    if few:
        w.append(Text(f"{len(few)} entity type(s) have fewer than {FEW_ENTITIES} training entities "
                      f"({', '.join(map(repr, few[:5]))}); they will be learned poorly.",
                      f"{len(few)} 种实体类型的训练实体少于 {FEW_ENTITIES} 个（{', '.join(map(repr, few[:5]))}）；"
                      "它们会学得很差。"))
    if r.repaired_tags:
        w.append(Text(f"{r.repaired_tags} tag(s) were repaired (data.repair_bio): an I-TYPE that did not continue an "
                      "entity of its type became B-TYPE.",
                      f"修复了 {r.repaired_tags} 个标签（data.repair_bio）：不接续同类型实体的 I-TYPE 改成了 B-TYPE。"))
    w += overlap_warnings(r, Text("sentence", "句子"))
    return w + truncation_warnings(r, max_length, Text("sentences", "句子"),
                                   Text("; their last words are cut off and never tagged",
                                        "：句末的词会被截掉，永远不会被标注"))


def sentence_lengths(df, tokenizer, sample: int = 5000) -> dict[str, list[int]]:
    """The length histogram: tokens per sentence (its words joined as the text column holds them)."""
    return {Text("sentence", "句子"): text_tokens(df, tokenizer, sample)}
