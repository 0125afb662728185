"""Token classification (named entities): CoNLL / JSON reading with BIO checks, sub-word label alignment,
seqeval metrics, and entity spans in typed text.

Data: CoNLL-style column files (token first, tag last, a blank line between sentences) or JSON/JSONL
records with a token list and a BIO tag list. Every split is a DataFrame with columns text (the tokens
joined by spaces), tokens and tags. The report's labels are the tag set (O, then B- and I- of every entity
type) and its label_counts count the tokens of each tag per split, so the CLI and the Data tab show the
tag set with its counts; the warnings count whole entities (a two-token "B-PER I-PER" is one PER).
"""

from __future__ import annotations

import functools
import re
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studio.base.text import Text
from studio.data import (
    DataError,
    DataReport,
    PreparedData,
    check_text_encoding,
    describe_lengths,
    max_file_bytes,
    overlap_warnings,
    read_table,
    split_rows,
    token_length_stats,
    too_big,
    truncation_warnings,
)
from studio.tasks.base import TEXT, DataFacts, MetricFacts, ModelFacts, PredictionRows, Task, TaskTexts, TrainerParts
from studio.tasks.loading import labelled_model, padded_tokenizer
from studio.tasks.token_classification.tag_ops import (
    TagPools,
    pools,
    replace_mentions,
    replace_tokens,
    shuffle_segments,
)

CONLL_TYPES = (".conll", ".txt", ".iob", ".bio", ".tsv")

TOKEN_NAMES = ("tokens", "words", "token", "word", "text", "sentence")
TAG_NAMES = ("tags", "ner_tags", "labels", "ner", "tag", "label", "bio", "bio_tags", "ner_labels")
HEADER_TAGS = {"tag", "tags", "label", "labels", "ner", "ner_tag", "ner_tags", "bio"}
TAG_RE = re.compile(r"^(O|[BI]-\S+)$")
WORD_RE = re.compile(r"\w+(?:[-'’.&]\w+)*|[^\w\s]")  # words (Jean-Luc, O'Neil, U.S) and single punctuation marks
IGNORE = -100  # label of the positions the loss skips: special tokens and every sub-token after a word's first
FEW_ENTITIES = 8


def card_usage(is_adapter: bool, labels: list[str] | None = None) -> list[str]:
    """Python lines of the model card's usage example (PATH_OR_REPO stands for where the export lives)."""
    if is_adapter:
        # The base loads first, with its own head size: the adapter's head only fits once it knows the tags.
        return ["from peft import AutoPeftModelForTokenClassification",
                "from transformers import AutoTokenizer, pipeline", "",
                f"id2label = {dict(enumerate(labels or []))!r}",
                'model = AutoPeftModelForTokenClassification.from_pretrained("PATH_OR_REPO", num_labels=len(id2label), '
                'id2label=id2label).merge_and_unload()',
                'tokenizer = AutoTokenizer.from_pretrained("PATH_OR_REPO")',
                'tag = pipeline("token-classification", model=model, tokenizer=tokenizer, '
                'aggregation_strategy="simple")',
                'print(tag("Alice Martin flew from Paris to Berlin for Siemens."))']
    return ["from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline", "",
            'model = AutoModelForTokenClassification.from_pretrained("PATH_OR_REPO")',
            'tokenizer = AutoTokenizer.from_pretrained("PATH_OR_REPO")',
            'tag = pipeline("token-classification", model=model, tokenizer=tokenizer, aggregation_strategy="simple")',
            'print(tag("Alice Martin flew from Paris to Berlin for Siemens."))']


def format_prediction(text: str, pred: dict[str, Any]) -> str:
    """The text with each entity's type after it: "Alice[PER] lives in Paris[LOC]"."""
    out, pos = [], 0
    for e in sorted(pred["entities"], key=lambda e: e["start"]):
        out += [text[pos:e["end"]], f"[{e['entity']}]"]
        pos = e["end"]
    return "".join(out) + text[pos:]


# ------------------------------------------------------------------------------------ reading --
def _check_conll_file(path: str, role: str) -> Path:
    """The file checks of studio.data (exists, size, UTF-8 text) for CoNLL extensions data.SUPPORTED lacks."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{role} file {path} does not exist.")
    if p.is_dir():
        raise DataError(f"{role} path {path} is a folder; give a file.")
    size = p.stat().st_size
    if size == 0:
        raise DataError(f"{p.name} is empty; upload a CoNLL file with one token and its tag per line.")
    if size > max_file_bytes():
        raise DataError(too_big(p.name, size))
    check_text_encoding(p)
    return p


def read_conll(path: str, role: str = "Training") -> list[dict[str, Any]]:
    """Sentences of a column file: token in the first column, tag in the last, a blank line between sentences.

    Each sentence is {"tokens", "tags", "line"} (the 1-based line of its first token, for error messages: the
    others follow it line by line).
    """
    p = _check_conll_file(path, role)
    sentences: list[dict[str, Any]] = []
    cur: dict[str, Any] = {"tokens": [], "tags": []}

    def flush():
        nonlocal cur
        if cur["tokens"]:
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
            if len(fields) < 2:
                raise DataError(f"{p.name} line {n} has a single field {fields[0][:40]!r}; each line needs a token and "
                                "its tag separated by a space or tab, with a blank line between sentences.")
            if not cur["tokens"]:
                cur["line"] = n
            cur["tokens"].append(fields[0])
            cur["tags"].append(fields[-1])
    flush()
    if not sentences:
        raise DataError(f"{p.name} holds no sentences; write one token and its tag per line, a blank line "
                        "between sentences.")
    return sentences


def read_records(path: str, role: str, token_col: str | None, tag_col: str | None,
                 names: list[str] | None = None) -> tuple[list[dict[str, Any]], str, str, list[str]]:
    """Sentences of a JSON/JSONL file of records with a token list and a tag list; also the columns used."""
    df = read_table(path, role)
    name = Path(path).name
    cols = [str(c) for c in df.columns]
    token_col = _pick_column(df, name, token_col, TOKEN_NAMES, "token", exclude=None)
    tag_col = _pick_column(df, name, tag_col, TAG_NAMES, "tag", exclude=token_col)
    sentences = []
    for i, (tokens, tags) in enumerate(zip(df[token_col], df[tag_col]), start=1):
        tokens, tags = _as_list(tokens), _as_list(tags)
        where = f"{name} record {i}"
        if tokens is None or tags is None:
            bad = token_col if tokens is None else tag_col
            raise DataError(f"{where}: {bad!r} is not a list; give tokens and tags as lists, e.g. "
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
        sentences.append({"tokens": [str(t) for t in tokens], "tags": [str(t).strip() for t in tags], "record": i})
    if not sentences:
        raise DataError(f"{name} has no records; add sentences with tokens and tags.")
    return sentences, token_col, tag_col, cols


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
                   names: list[str] | None = None, repair: bool = False) -> tuple[list[dict], str, str, list[str], int]:
    """Sentences of any supported file, checked for BIO consistency (or repaired: the count of tags changed is
    last); numeric tag ids named by `names`."""
    ext = Path(path).suffix.lower()
    if ext in (".json", ".jsonl"):
        sentences, token_col, tag_col, cols = read_records(path, role, token_col, tag_col, names)
    elif ext in CONLL_TYPES:
        sentences, token_col, tag_col, cols = read_conll(path, role), "tokens", "tags", ["tokens", "tags"]
    else:
        if not Path(path).exists():
            raise DataError(f"{role} file {path} does not exist.")
        raise DataError(f"{Path(path).name}: unsupported file type {ext or '(none)'} for token classification; "
                        "use a CoNLL column file (.conll, .txt, .iob, .bio, .tsv) or JSON/JSONL with tokens and tags.")
    repaired = 0
    for s in sentences:
        if names is not None:
            name_tag_ids(s, names, Path(path).name)
        repaired += check_bio(s, Path(path).name, repair)
    return sentences, token_col, tag_col, cols, repaired


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
    return f"{file} record {sentence['record']} (token {i + 1}, {sentence['tokens'][i][:30]!r})"


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


def entity_spans(tags: list[str]) -> list[tuple[str, int, int]]:
    """(type, first word, last word + 1) of each entity, read the way seqeval scores them."""
    from seqeval.metrics.sequence_labeling import get_entities

    return [(t, s, e + 1) for t, s, e in get_entities(list(tags))]


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


# -------------------------------------------------------------------------------------- split --
# ------------------------------------------------------------------------------------ prepare --
def prepare_data(cfg, tokenizer=None, max_length=None):
    """Read, check and split the sentences of a run config; see the module docstring for the columns."""
    train_name = Path(cfg.train).name
    names = cfg.names_of_ids()
    sentences, token_col, tag_col, cols, repaired = read_sentences(cfg.train, "Training", cfg.text_column,
                                                                   cfg.label_column, names, cfg.repair_bio)
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
                                              cfg.repair_bio)
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
    report.warnings = _warnings(report, count_entities(frames["train"], types), max_length)
    return PreparedData(splits=frames, labels=labels, report=report)


def _warnings(r, entities: dict[str, int], max_length: int | None) -> list[str]:
    w = []
    few = [t for t, c in entities.items() if c < FEW_ENTITIES]
    if few:
        w.append(f"{len(few)} entity type(s) have fewer than {FEW_ENTITIES} training entities "
                 f"({', '.join(map(repr, few[:5]))}); they will be learned poorly.")
    if r.repaired_tags:
        w.append(f"{r.repaired_tags} tag(s) were repaired (data.repair_bio): an I-TYPE that did not continue an "
                 "entity of its type became B-TYPE.")
    w += overlap_warnings(r, "sentence")
    return w + truncation_warnings(r, max_length, "sentences", "; their last words are cut off and never tagged")


# ------------------------------------------------------------------------------ model and data --
def load_tokenizer(path, **kw):
    tok = padded_tokenizer(path, **kw)
    if getattr(tok, "add_prefix_space", None) is False:
        # Byte-level BPE (RoBERTa, GPT-2) marks a word start by its leading space: pre-split words need one.
        tok = padded_tokenizer(path, add_prefix_space=True, **kw)
    return tok


def load_model(path, labels: list[str], tokenizer=None, **kw):
    from transformers import AutoModelForTokenClassification

    return labelled_model(AutoModelForTokenClassification, path, labels, tokenizer, **kw)


def align_labels(word_ids: list[int | None], word_tags: list[int]) -> list[int]:
    """Label the first sub-token of each word with its tag; special tokens and later sub-tokens get IGNORE."""
    out, prev = [], None
    for w in word_ids:
        out.append(IGNORE if w is None or w == prev else word_tags[w])
        prev = w
    return out


def tokenize(splits: dict[str, pd.DataFrame], tokenizer, labels: list[str], cfg):
    """Tokenise pre-split words once with datasets; no padding (the collator pads each batch)."""
    import datasets

    if not getattr(tokenizer, "is_fast", True):
        raise ValueError("Token classification needs a fast tokenizer (one with word_ids); pick another base model.")
    label2id = {l: i for i, l in enumerate(labels)}
    max_length = cfg.training.max_length
    out = {}
    for name, df in splits.items():
        ds = datasets.Dataset.from_dict({"tokens": [list(map(str, t)) for t in df["tokens"]],
                                         "tags": [[label2id[x] for x in t] for t in df["tags"]]})

        def enc(batch):
            e = tokenizer(batch["tokens"], is_split_into_words=True, truncation=True, max_length=max_length)
            e["labels"] = [align_labels(e.word_ids(i), tags) for i, tags in enumerate(batch["tags"])]
            e["length"] = [len(x) for x in e["input_ids"]]
            return e

        out[name] = ds.map(enc, batched=True, remove_columns=["tokens", "tags"], desc=f"tokenising {name}",
                           new_fingerprint=uuid.uuid4().hex)
    return out


def collator(tokenizer, model=None):
    from transformers import DataCollatorForTokenClassification

    return DataCollatorForTokenClassification(tokenizer, label_pad_token_id=IGNORE)


# ------------------------------------------------------------------------------------ metrics --
def best_tags(logits):
    """Per position: [predicted tag id, its probability] (kept small: the full logits are not gathered)."""
    import torch

    if isinstance(logits, tuple):
        logits = logits[0]
    probs = torch.softmax(logits.float(), dim=-1)
    p, idx = probs.max(dim=-1)
    return torch.stack([idx.float(), p], dim=-1)


def word_sequences(pred: np.ndarray, label_ids: np.ndarray, labels: list[str]):
    """Gold tags, predicted tags and predicted probabilities per sentence, over the labelled positions."""
    pred = np.asarray(pred)
    gold_all, pred_all, prob_all = [], [], []
    for p, y in zip(pred, np.asarray(label_ids)):
        keep = y != IGNORE
        gold_all.append([labels[int(i)] for i in y[keep]])
        ids = p[..., 0] if p.ndim == 2 else p
        pred_all.append([labels[int(i)] for i in ids[keep]])
        prob_all.append(p[keep, 1].astype(float).tolist() if p.ndim == 2 else [1.0] * int(keep.sum()))
    return gold_all, pred_all, prob_all


def scores(gold: list[list[str]], pred: list[list[str]]) -> dict[str, float]:
    """Entity-level micro precision/recall/F1 (seqeval) and token accuracy."""
    from seqeval.metrics import f1_score, precision_score, recall_score

    n = sum(len(g) for g in gold)
    right = sum(a == b for g, p in zip(gold, pred) for a, b in zip(g, p))
    return {"precision": float(precision_score(gold, pred, zero_division=0)),
            "recall": float(recall_score(gold, pred, zero_division=0)),
            "f1": float(f1_score(gold, pred, zero_division=0)),
            "token_accuracy": float(right / n) if n else 0.0}


def metrics_fn(labels: list[str]):
    def compute_metrics(eval_pred) -> dict[str, float]:
        gold, pred, _ = word_sequences(eval_pred.predictions, eval_pred.label_ids, labels)
        return scores(gold, pred)
    return compute_metrics


def trainer_parts(cfg, tokenizer, labels, splits):
    return TrainerParts(compute_metrics=metrics_fn(labels),
                        preprocess_logits_for_metrics=lambda logits, _labels: best_tags(logits))


def _entities(tokens: list[str], tags: list[str]) -> list[dict[str, Any]]:
    return [{"entity": t, "text": " ".join(tokens[s:e]), "start": s, "end": e} for t, s, e in entity_spans(tags)]


def _marked(tokens: list[str], tags: list[str]) -> str:
    """The sentence with each entity's type after it, like format_prediction."""
    words = list(tokens)
    for t, _, e in entity_spans(tags):
        words[e - 1] = f"{words[e - 1]}[{t}]"
    return " ".join(words)


def test_report(trainer, test_ds, test_df: pd.DataFrame, labels: list[str], tokenizer=None, cfg=None):
    """Score the loaded (best) model on the test split: metrics, a per-type table, and one row per sentence."""
    pred = trainer.predict(test_ds)
    seen = None
    if tokenizer is not None and cfg is not None:
        seen = [labelled_words(tokenizer, list(map(str, t)), cfg.training.max_length) for t in test_df["tokens"]]
    return report_from_predictions(pred.predictions, pred.label_ids, labels, test_df, seen)


def labelled_words(tokenizer, tokens: list[str], max_length: int) -> list[int]:
    """Indexes of the words that got a labelled sub-token (truncation drops the last ones; a word the tokenizer
    turns into nothing is skipped), in the order the labels come."""
    word_ids = tokenizer(tokens, is_split_into_words=True, truncation=True, max_length=max_length).word_ids()
    return sorted({w for w in word_ids if w is not None})


def report_from_predictions(pred: np.ndarray, label_ids: np.ndarray, labels: list[str], test_df: pd.DataFrame,
                            seen: list[list[int]] | None = None):
    from seqeval.metrics import classification_report

    gold, predicted, probs = word_sequences(pred, label_ids, labels)
    per_type = classification_report(gold, predicted, output_dict=True, zero_division=0)
    types = sorted({l[2:] for l in labels if l != "O"})
    report = {"task": "token-classification", "n": len(gold), "metrics": scores(gold, predicted), "labels": labels,
              "entity_types": types,
              "per_class": {t: {k: float(v) for k, v in per_type[t].items()} for t in types if t in per_type}}
    rows = []
    for i, (tokens, g, p, pr) in enumerate(zip(test_df["tokens"], gold, predicted, probs)):
        tokens = list(map(str, tokens))
        # the words the labels belong to: by default each sentence's first len(g) words (truncation cuts the tail)
        tokens = [tokens[k] for k in seen[i]] if seen is not None else tokens[:len(g)]
        ge, pe = _entities(tokens, g), _entities(tokens, p)
        rows.append({"text": " ".join(tokens), "tokens": tokens, "gold": ge, "predicted_entities": pe,
                     # label / predicted / confidence in the shape of the classification rows: the error browser
                     # shows them as they are (the least sure word's probability is the sentence's confidence).
                     "label": _marked(tokens, g), "predicted": _marked(tokens, p),
                     "confidence": float(min(pr)) if pr else 1.0, "correct": ge == pe})
    return report, rows


# --------------------------------------------------------------------------------- prediction --
def split_words(text: str) -> list[tuple[str, int, int]]:
    """Words and punctuation marks of typed text with their character offsets."""
    return [(m.group(), m.start(), m.end()) for m in WORD_RE.finditer(text)]


def predict(model, tokenizer, inputs: list[str], max_length: int = 128, batch_size: int = 32,
            **_) -> list[dict[str, Any]]:
    """Entities with character offsets in each text; words past max_length tokens are left untagged (O)."""
    texts = inputs
    import torch

    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    device = next(model.parameters()).device
    words = [split_words(t) for t in texts]
    tags: list[list[str]] = [["O"] * len(w) for w in words]
    probs: list[list[float]] = [[1.0] * len(w) for w in words]
    todo = [i for i, w in enumerate(words) if w]
    model.eval()
    with torch.inference_mode():
        for b in range(0, len(todo), batch_size):
            idx = todo[b:b + batch_size]
            enc = tokenizer([[w for w, _, _ in words[i]] for i in idx], is_split_into_words=True, truncation=True,
                            max_length=max_length, padding=True, return_tensors="pt")
            out = best_tags(model(**enc.to(device)).logits).cpu().numpy()
            for row, i in enumerate(idx):
                seen = set()
                for pos, w in enumerate(enc.word_ids(row)):
                    if w is not None and w not in seen:
                        seen.add(w)
                        tags[i][w], probs[i][w] = labels[int(out[row, pos, 0])], float(out[row, pos, 1])
    return [_prediction(text, w, t, p) for text, w, t, p in zip(texts, words, tags, probs)]


def _prediction(text: str, words: list[tuple[str, int, int]], tags: list[str], probs: list[float]) -> dict[str, Any]:
    ents = []
    for t, s, e in entity_spans(tags):
        start, end = words[s][1], words[e - 1][2]
        ents.append({"entity": t, "text": text[start:end], "start": start, "end": end,
                     "score": float(np.mean(probs[s:e]))})
    return {"entities": ents, "tokens": [w for w, _, _ in words], "tags": tags}


# ------------------------------------------------------------------------------------ capabilities --
TAG_OPS = {"mention": replace_mentions, "token": replace_tokens, "shuffle": shuffle_segments}


class TagAugmentation:
    """augment.Augmentation: new sentences with valid BIO tags (Dai & Adel 2020)."""

    operations = {
        "mention": Text("swap an entity for another of its type from the training set",
                        "把实体换成训练集中同类型的另一个实体"),
        "token": Text("swap a token for another seen with the same tag", "把词元换成训练集中同标记的另一个词元"),
        "shuffle": Text("shuffle the tokens within each same-tag segment", "在同标记片段内打乱词元顺序"),
    }
    default_operations = ("mention",)

    def context(self, train: pd.DataFrame, operations: list[str], model_path, generator: str | None) -> TagPools:
        return pools([(list(map(str, t)), list(map(str, g))) for t, g in zip(train["tokens"], train["tags"])])

    def augment(self, rows: pd.DataFrame, operation: str, strength: float, seed: int,
                context: TagPools) -> list[dict | None]:
        """One new sentence per sentence with valid BIO tags, or None where the operation changed nothing."""
        rng, out = np.random.default_rng(seed), []
        for tokens, tags in zip(rows["tokens"], rows["tags"]):
            tokens, tags = list(map(str, tokens)), list(map(str, tags))
            new_tokens, new_tags = TAG_OPS[operation](tokens, tags, rng, strength, context)
            out.append(None if new_tokens == tokens else {"text": " ".join(new_tokens), "tokens": new_tokens,
                                                          "tags": new_tags})
        return out


class Playground:
    """serve.Playground: the entities of a typed text, highlighted."""

    panel = "entities"
    labels_files = False
    format_prediction = staticmethod(format_prediction)


class Card:
    """export.ModelCard."""

    pipeline_tag = "token-classification"
    model_kind = "named-entity tagger"
    metrics_note = ("Precision, recall and F1 are entity-level micro averages (seqeval: an entity counts only when "
                    "its type and every token match); token accuracy is over the first sub-token of each word.")
    onnx = False
    usage = staticmethod(card_usage)


TASK = Task(
    name="token-classification",
    warm_imports=("seqeval.metrics",),
    inputs=TEXT,
    texts=TaskTexts(title=Text("Token classification (NER)", "词元分类（命名实体识别）"),
                    data_hint=Text("CoNLL columns (token ... BIO tag, a blank line between sentences) or JSON/JSONL "
                                   "with tokens and tags",
                                   "CoNLL 列格式（词元 … BIO 标签，句子之间空一行），或包含 tokens 和 tags "
                                   "的 JSON/JSONL"),
                    inputs=(Text("Tokens column", "词元列"),), answer=Text("Tags column", "标签序列列"),
                    answer_info=Text("The BIO tags of each sentence, one per token.",
                                     "每个句子的 BIO 标签，每个词元一个。"),
                    input_noun=Text("tokens", "词元"), answer_noun=Text("tags", "标签")),
    data=DataFacts(samples=("ner_sample.conll",), file_types=(*CONLL_TYPES, ".json", ".jsonl"),
                   table_types=(".json", ".jsonl"),  # .txt and .tsv are CoNLL column files here
                   label_noun=Text("tag", "标签"), counts_chart=Text("Tokens per tag", "各标签的词元数"),
                   lengths_chart=Text("Tokens per sentence", "每个句子的词元数"), length_noun=Text("sentence", "句子"),
                   bio_tags=True),
    model=ModelFacts(peft_task_type="TOKEN_CLS", auto_class="AutoModelForTokenClassification",
                     default_model="sentence-transformers/all-MiniLM-L6-v2",
                     catalog_models=("minilm", "minilm-l3", "multilingual-e5-small"),
                     multilingual_model="multilingual-e5-small",
                     # Prompt tuning prepends virtual tokens to the input, so peft's token-classification model
                     # returns logits for more positions than there are labels and the loss cannot be computed.
                     methods=("full", "freeze", "lora", "qlora", "dora", "adalora", "ia3", "prefix"),
                     # A fresh token head learns slowly at the adapters' 5e-4: on the bundled NER sample, MiniLM +
                     # LoRA tagged every token O after 2 epochs (entity F1 0.0) in the browser, while 2e-3 reaches
                     # F1 1.0 in 4 (bench/ner_before_after.py).
                     learning_rates={"lora": 2e-3, "dora": 2e-3, "adalora": 2e-3}),
    metrics=MetricFacts(best=("f1", "precision", "recall", "token_accuracy", "loss"),
                        test=("f1", "precision", "recall", "token_accuracy"), plot=("f1", "token_accuracy"),
                        labels={"eval_f1": Text("validation entity F1 (micro)", "验证实体 F1（微平均）"),
                                "eval_precision": Text("validation entity precision", "验证实体精确率"),
                                "eval_recall": Text("validation entity recall", "验证实体召回率")}),
    # "label" and "predicted" are the sentence with each entity's type marked; the least sure word's probability
    # is the sentence's confidence.
    predictions=PredictionRows(columns=("text", "label", "predicted", "confidence"), correct="correct",
                               confidence="confidence"),
    prepare_data=prepare_data, load_tokenizer=load_tokenizer, load_model=load_model, tokenize=tokenize,
    collator=collator, trainer_parts=trainer_parts, test_report=test_report, predict=predict, count_bars=tag_bars,
    capabilities=(Playground(), Card(), TagAugmentation()),
)
