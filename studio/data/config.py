"""The data section of a run config: where the data comes from, which columns hold what, how it is split."""

from __future__ import annotations

from dataclasses import dataclass

from studio.base.errors import ConfigError
from studio.base.settings import setting


@dataclass
class DataConfig:
    train: str = setting("", "Training file. Text classification: CSV, TSV, JSON, JSONL or Parquet with a text and a "
                         "label column. Token classification: CoNLL columns (token ... tag) or JSON/JSONL with tokens "
                         "and BIO tags. SFT: JSON/JSONL with instruction/input/output or chat messages. Seq2seq: "
                         "source and target columns. Question answering: SQuAD-style records (question, context, "
                         "answers).")
    validation: str | None = setting(None, "Optional validation file; without it a share of train is held out.")
    test: str | None = setting(None, "Optional test file; without it a share of train is held out.")
    text_column: str | None = setting(None, "Column holding the input: the text (classification), the token list "
                                      "(NER), the source (seq2seq), the instruction or messages (SFT), the question "
                                      "(question answering); detected when left empty.")
    context_column: str | None = setting(None, "Column holding the second input, for tasks whose examples have two: "
                                         "the passage a question is answered from; detected when left empty.")
    label_column: str | None = setting(None, "Column holding the answer: the label (classification), the tag list "
                                       "(NER), the target (seq2seq), the output (SFT), the answers (question "
                                       "answering); detected when left empty.")
    header: bool = setting(True, "The first line of a CSV/TSV file names its columns. Off: every line is data "
                           "(public sets often come without a header), the columns are called column_1, column_2, "
                           "... and the text and answer columns are found by their contents.")
    repair_bio: bool = setting(False, "Tagged data (NER): an I-TYPE that does not continue an entity of its type "
                               "starts one, as if it were B-TYPE (how IOB1 files and most taggers read it), instead "
                               "of refusing the file; the data report says how many tags changed.")
    label_names: str | None = setting(None, "For files that store labels or BIO tags as numbers (class ids, as "
                                      "Hugging Face datasets export them): the names in id order, comma-separated, "
                                      "e.g. O, B-PER, I-PER, B-LOC, I-LOC. Empty when the file holds the names.",
                                      joined=True)
    validation_fraction: float = setting(0.1, "Share of train held out for validation when no validation file is "
                                         "given; 0 spends no rows on it: evaluation then reads the test rows.",
                                         min=0.0, max=0.5)
    test_fraction: float = setting(0.1, "Share of train held out for the test report when no test file is given; 0 "
                                   "reports on the validation rows.", min=0.0, max=0.5)
    split_seed: int = setting(42, "Seed of the split, so the same file always splits the same way.", min=0)
    max_rows: int | None = setting(None, "Use at most this many training rows (a seeded sample, stratified where the "
                                   "task has labels); empty for all.", min=1)

    def names_of_ids(self) -> list[str] | None:
        """label_names as a list (id 0 first), or None when unset."""
        if not self.label_names or not self.label_names.strip():
            return None
        names = [n.strip() for n in self.label_names.split(",")]
        if not all(names) or len(set(names)) != len(names):
            raise ConfigError("data.label_names: give each id's name once, comma-separated in id order "
                              "(e.g. O, B-PER, I-PER); empty names and repeats are not allowed.")
        return names
