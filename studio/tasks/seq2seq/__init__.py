"""Sequence-to-sequence: a source text in, a target text out (translation, summarisation, rewriting).

Scores are computed on generated text: BLEU and chrF from sacrebleu and ROUGE-L (the mean LCS F-measure
over lower-cased word tokens, x100) on sacrebleu's 0-100 scale, and exact match as a share (0-1) of
outputs equal to the reference after whitespace normalisation, like every share in the studio.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studio.base.policy import trust_remote_code
from studio.base.settings import setting
from studio.base.text import Text
from studio.data import (
    DataError,
    DataReport,
    PreparedData,
    cleaning_warnings,
    describe_lengths,
    is_text_like,
    long_text_warnings,
    overlap_warnings,
    read_table,
    split_rows,
    token_length_stats,
    truncation_warnings,
)
from studio.tasks.base import (
    TEXT,
    DataFacts,
    MetricFacts,
    ModelFacts,
    PredictionRows,
    Task,
    TaskTexts,
    TrainerParts,
    split_bars,
)
from studio.tasks.loading import padded_tokenizer

# (source, target) column names people use, most specific first; matched case-insensitively.
COLUMN_PAIRS = (("source", "target"), ("src", "tgt"), ("input", "output"), ("input_text", "target_text"),
                ("article", "highlights"), ("article", "summary"), ("document", "summary"), ("dialogue", "summary"),
                ("text", "summary"), ("text", "target"), ("question", "answer"), ("prompt", "completion"))
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}([_-][a-z]{2,4})?$", re.IGNORECASE)  # en, fr, pt_br, zh-hans


def card_usage(is_adapter: bool, labels: list[str] | None = None) -> list[str]:
    """Python lines of the model card's usage example (PATH_OR_REPO stands for where the export lives)."""
    load = (["from peft import AutoPeftModelForSeq2SeqLM", "from transformers import AutoTokenizer", "",
             'model = AutoPeftModelForSeq2SeqLM.from_pretrained("PATH_OR_REPO")'] if is_adapter else
            ["from transformers import AutoModelForSeq2SeqLM, AutoTokenizer", "",
             'model = AutoModelForSeq2SeqLM.from_pretrained("PATH_OR_REPO")'])
    return load + ['tokenizer = AutoTokenizer.from_pretrained("PATH_OR_REPO")',
                   'inputs = tokenizer(["My card has not arrived yet."], return_tensors="pt", '
                   'return_token_type_ids=False)',
                   "out = model.generate(**inputs, max_new_tokens=64)",
                   "print(tokenizer.batch_decode(out, skip_special_tokens=True))"]


def format_prediction(text: str, pred: dict[str, Any]) -> str:
    """One line of `studio predict` output: the generated target, then the source."""
    return f"{pred['output']}\t{text}"


# ------------------------------------------------------------------ data --
def prepare_data(cfg, tokenizer=None, max_length=None, max_target_length=None):
    """Read, check, clean and split source/target pairs; every split has columns text (= source), source, target."""
    train_name = Path(cfg.train).name
    raw_train = expand_pair_columns(read_table(cfg.train, "Training", header=cfg.header))
    src_col, tgt_col = detect_columns(raw_train, train_name, cfg.text_column, cfg.label_column)
    frames, source, dropped_empty = {}, {"train": train_name}, 0
    frames["train"], dropped_empty = _clean(raw_train, train_name, src_col, tgt_col)
    for split in ("validation", "test"):
        path = getattr(cfg, split)
        if path:
            raw, nm = expand_pair_columns(read_table(path, split.capitalize(), header=cfg.header)), Path(path).name
            for col in (src_col, tgt_col):
                if col not in raw.columns:
                    raise DataError(f"{nm}: no column {col!r} (the training file's); the columns are "
                                    f"{list(raw.columns)}; rename it or pick other columns.")
            frames[split], n = _clean(raw, nm, src_col, tgt_col)
            dropped_empty += n
            source[split] = nm
    before = sum(len(f) for f in frames.values())
    frames = {k: f.drop_duplicates(["source", "target"]).reset_index(drop=True) for k, f in frames.items()}
    dropped_dup = before - sum(len(f) for f in frames.values())
    if len(frames["train"]) == 0:
        raise DataError(f"{train_name} has no usable row with both a source and a target; add rows "
                        "(a few dozen at least).")
    frames, source = split_rows(frames, source, cfg, train_name)
    for f in {id(f): f for f in frames.values()}.values():  # a split that evaluates on another is the same frame
        f.insert(0, "text", f["source"])
    report = _report(frames, source, raw_train, src_col, tgt_col, dropped_empty, dropped_dup)
    if tokenizer is not None:
        report.token_lengths = token_length_stats(frames["train"]["source"].tolist(), tokenizer, max_length)
        report.warnings += _target_length_warnings(frames["train"]["target"].tolist(), tokenizer, max_target_length)
    report.warnings = _pair_warnings(report, max_length) + report.warnings
    return PreparedData(splits=frames, labels=[], report=report)


def expand_pair_columns(df: pd.DataFrame, max_keys: int = 8) -> pd.DataFrame:
    """Hugging Face's translation layout, {"translation": {"de": "...", "en": "..."}}: a column of small records
    becomes a column per key (de, en), so a language pair is found like any other (the first key is the source)."""
    for col in list(df.columns):
        values = df[col].dropna()
        if len(values) == 0 or not all(isinstance(v, dict) for v in values):
            continue
        keys = list(dict.fromkeys(str(k) for v in values for k in v))
        if not keys or len(keys) > max_keys:
            continue
        expanded = {(k if k not in df.columns else f"{col}.{k}"):
                    df[col].map(lambda v, k=k: v.get(k) if isinstance(v, dict) else None) for k in keys}
        df = df.drop(columns=[col]).assign(**expanded)
    return df


def detect_columns(df: pd.DataFrame, name: str, src: str | None = None, tgt: str | None = None) -> tuple[str, str]:
    """(source, target) columns: the ones given, else known name pairs, language-code pairs (en, fr), else the
    two text columns with the longer one as the source."""
    cols = list(df.columns)
    for role, col in (("source (text_column)", src), ("target (label_column)", tgt)):
        if col is not None and col not in cols:
            raise DataError(f"{name}: no column named {col!r} for the {role}; choose one of its columns {cols}.")
    if len(cols) < 2:
        raise DataError(f"{name} has a single column {cols[0]!r}; seq2seq needs a source and a target column "
                        "(check the separator: TSV files need the .tsv extension).")
    if src is None or tgt is None:
        src, tgt = _guess_pair(df, src, tgt)
    if src is None or tgt is None:
        texts = [c for c in cols if is_text_like(df[c])]
        raise DataError(f"{name}: could not tell the source and target columns apart among {cols} (text columns: "
                        f"{texts}); name them source and target, or set text_column and label_column.")
    if src == tgt:
        raise DataError(f"{name}: the source and target columns must differ (both are {src!r}); choose two columns.")
    return src, tgt


def _guess_pair(df: pd.DataFrame, src: str | None, tgt: str | None) -> tuple[str | None, str | None]:
    lower = {str(c).lower(): c for c in df.columns}
    for s, t in COLUMN_PAIRS:
        if s in lower and t in lower and src in (None, lower[s]) and tgt in (None, lower[t]):
            return lower[s], lower[t]
    # Row ids written as strings ("0", "17") are not texts, and a column named "id" is no Indonesian.
    texts = [c for c in df.columns if is_text_like(df[c]) and not _numbers_only(df[c])]
    langs = [c for c in texts if LANGUAGE_CODE.match(str(c))]
    if len(langs) == 2 and src in (None, *langs) and tgt in (None, *langs):
        first, second = langs  # translation files list the source language first
        return (src or (second if tgt == first else first)), (tgt or (first if src == second else second))
    others = [c for c in texts if c not in (src, tgt)]
    if src is not None and tgt is None and len(others) == 1:
        return src, others[0]
    if tgt is not None and src is None and len(others) == 1:
        return others[0], tgt
    if src is None and tgt is None and len(texts) == 2:
        longer = max(texts, key=lambda c: df[c].astype(str).str.len().mean())
        return longer, next(c for c in texts if c != longer)
    return src, tgt


def guess_columns(df: pd.DataFrame) -> tuple[str | None, str | None]:
    """(source, target) for a picker, (None, None) where it cannot tell."""
    return _guess_pair(expand_pair_columns(df), None, None)


def _numbers_only(col: pd.Series) -> bool:
    values = col.dropna().astype(str).str.strip()
    return len(values) > 0 and bool(values.str.fullmatch(r"[-+]?\d+(\.\d+)?").all())


def _clean(df: pd.DataFrame, name: str, src: str, tgt: str) -> tuple[pd.DataFrame, int]:
    """Stripped source/target strings; rows missing either are dropped and counted."""
    for role, col in (("source", src), ("target", tgt)):
        values = df[col].dropna()
        if len(values) == 0 or values.astype(str).str.strip().eq("").all():
            raise DataError(f"{name}: {role} column {col!r} is empty in every row; choose the column that holds the "
                            f"{role} texts.")
        if not is_text_like(df[col]):
            kind = "numbers" if pd.api.types.is_numeric_dtype(df[col]) else f"{type(values.iloc[0]).__name__} values"
            raise DataError(f"{name}: {role} column {col!r} holds {kind}, not text; choose the column that holds the "
                            f"{role} texts.")
    out = pd.DataFrame({"source": df[src].map(_text), "target": df[tgt].map(_text)})
    keep = out["source"].notna() & out["target"].notna()
    return out[keep].reset_index(drop=True), int((~keep).sum())


def _text(v: Any) -> str | None:
    if not isinstance(v, str):
        return None
    v = v.strip()
    return v or None


def _report(frames, source, raw_train, src_col, tgt_col, dropped_empty, dropped_dup):
    train_sources = set(frames["train"]["source"].str.casefold())
    shared = {f"train-{s}": int(frames[s]["source"].str.casefold().isin(train_sources).sum())
              for s in ("validation", "test") if s in frames}
    report = DataReport(
        text_column=src_col, label_column=tgt_col, columns=list(raw_train.columns), labels=[],
        rows={k: len(v) for k, v in frames.items()}, label_counts={k: {"rows": len(v)} for k, v in frames.items()},
        dropped_empty=dropped_empty, dropped_duplicates=dropped_dup, shared_between_splits=shared,
        split_source=source)
    describe_lengths(report, frames["train"]["source"])
    return report


def _pair_warnings(r, max_length: int | None) -> list[str]:
    w = []
    if r.rows["train"] < 50:
        w.append(f"Only {r.rows['train']} training pairs; a seq2seq model needs a few hundred to learn a mapping well.")
    w += cleaning_warnings(r, "pair", "source or target") + overlap_warnings(r, "source text")
    return w + long_text_warnings(r, "source text") + truncation_warnings(r, max_length, "sources")


def _target_length_warnings(targets: list[str], tokenizer, max_target_length: int | None) -> list[str]:
    if not max_target_length:
        return []
    tl = token_length_stats(targets, tokenizer, max_target_length)
    if tl.get("truncated_share", 0) > 0.05:
        return [f"{tl['truncated_share']:.0%} of targets are longer than max_target_length={max_target_length} tokens "
                f"and will be truncated (95th percentile: {tl['p95']:.0f}); raise task_args.max_target_length."]
    return []


# ----------------------------------------------------------------- model --
def load_tokenizer(path, **kw):
    return padded_tokenizer(path, **kw)


def load_model(path, labels: list[str] | None = None, tokenizer=None, **kw):
    from transformers import AutoModelForSeq2SeqLM

    # Weights load from safetensors only: a pickle (pytorch_model.bin) can run code when unpickled.
    kw.setdefault("use_safetensors", True)
    kw.setdefault("trust_remote_code", trust_remote_code())
    model = AutoModelForSeq2SeqLM.from_pretrained(str(path), **kw)
    if tokenizer is not None and model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model


def _drops_leading_cls(tokenizer) -> bool:
    """BERT-style tokenizers open every text with [CLS]; a target needs no classification token (the decoder
    starts from its own start token), while real BOS tokens (BART's <s>) stay."""
    return tokenizer.bos_token_id is None and tokenizer.cls_token_id is not None


def encode_targets(tokenizer, targets: list[str], max_target_length: int) -> list[list[int]]:
    ids = tokenizer(text_target=targets, truncation=True, max_length=max_target_length + 1)["input_ids"]
    if _drops_leading_cls(tokenizer):
        ids = [x[1:] if x and x[0] == tokenizer.cls_token_id else x for x in ids]
    return [x[:max_target_length] for x in ids]


def tokenize(splits: dict[str, pd.DataFrame], tokenizer, labels, cfg):
    """Sources truncated to max_length, targets to max_target_length; no padding (the collator pads labels with -100)."""  # noqa: E501
    import datasets

    out = {}
    for name, df in splits.items():
        ds = datasets.Dataset.from_dict({"source": df["source"].tolist(), "target": df["target"].tolist()})

        def enc(batch):
            e = tokenizer(batch["source"], truncation=True, max_length=cfg.training.max_length,
                          return_token_type_ids=False)
            e["labels"] = encode_targets(tokenizer, batch["target"], cfg.task_args.max_target_length)
            return e

        # In memory, nothing to cache: a fresh fingerprint skips hashing the tokenizer.
        out[name] = ds.map(enc, batched=True, remove_columns=["source", "target"], desc=f"tokenising {name}",
                           new_fingerprint=uuid.uuid4().hex)
    return out


def collator(tokenizer, model=None):
    from transformers import DataCollatorForSeq2Seq

    return DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100)


# --------------------------------------------------------------- metrics --
def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (0-1) of one pair: longest common subsequence of lower-cased words."""
    p, r = _words(prediction), _words(reference)
    if not p or not r:
        return float(p == r)
    prev = [0] * (len(r) + 1)
    for a in p:
        cur = [0]
        for j, b in enumerate(r):
            cur.append(prev[j] + 1 if a == b else max(prev[j + 1], cur[j]))
        prev = cur
    lcs = prev[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(p), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


def _normalise(text: str) -> str:
    return " ".join(text.split())


def text_metrics(predictions: list[str], references: list[str]) -> dict[str, float]:
    """BLEU, chrF and ROUGE-L (0-100) and exact match (a share, 0-1) of generated texts against references."""
    import sacrebleu

    if not references:
        return {"bleu": 0.0, "chrf": 0.0, "rougeL": 0.0, "exact_match": 0.0}
    return {
        "bleu": float(sacrebleu.corpus_bleu(predictions, [references]).score),
        "chrf": float(sacrebleu.corpus_chrf(predictions, [references]).score),
        "rougeL": 100.0 * float(np.mean([rouge_l(p, r) for p, r in zip(predictions, references)])),
        "exact_match": float(np.mean([_normalise(p) == _normalise(r) for p, r in zip(predictions, references)])),
    }


def decode(tokenizer, ids) -> list[str]:
    """Token ids (generated, or labels with -100 padding) as clean text."""
    if isinstance(ids, tuple):
        ids = ids[0]
    ids = np.asarray(ids)
    ids = np.where(ids < 0, tokenizer.pad_token_id, ids)
    return [t.strip() for t in tokenizer.batch_decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=True)]


def metrics_fn(tokenizer):
    def compute_metrics(eval_pred) -> dict[str, float]:
        return text_metrics(decode(tokenizer, eval_pred.predictions), decode(tokenizer, eval_pred.label_ids))

    return compute_metrics


def trainer_parts(cfg, tokenizer, labels, splits):
    from transformers import Seq2SeqTrainer, Seq2SeqTrainingArguments

    # Evaluation generates (greedy) so the checkpoint is picked on chrF of real outputs, not on loss alone;
    # an encoder-decoder's max_length counts the decoder's start token, hence the +1.
    return TrainerParts(compute_metrics=metrics_fn(tokenizer), trainer_cls=Seq2SeqTrainer,
                        args_cls=Seq2SeqTrainingArguments,
                        args={"predict_with_generate": True, "generation_max_length": cfg.task_args.max_new_tokens + 1,
                              "generation_num_beams": 1})


def test_report(trainer, test_ds, test_df: pd.DataFrame, labels=None, tokenizer=None, cfg=None):
    """Generate for every test source with the loaded (best) model; metrics plus one row per pair."""
    tokenizer = tokenizer or trainer.processing_class
    pred = trainer.predict(test_ds)
    outputs = decode(tokenizer, pred.predictions)
    refs = test_df["target"].tolist()
    return report_from_outputs(test_df["source"].tolist(), refs, outputs)


def report_from_outputs(sources: list[str], references: list[str], outputs: list[str]) -> tuple[dict, list[dict]]:
    import sacrebleu

    report = {"task": "seq2seq", "n": len(references), "metrics": text_metrics(outputs, references)}
    rows = [{"text": s, "reference": r, "output": o, "exact": _normalise(o) == _normalise(r),
             "chrf": float(sacrebleu.sentence_chrf(o, [r]).score)} for s, r, o in zip(sources, references, outputs)]
    return report, rows


# ------------------------------------------------------------- inference --
def predict(model, tokenizer, inputs: list[str], max_length: int = 128, batch_size: int = 32, max_new_tokens: int = 64,
            **_) -> list[dict[str, Any]]:
    """Greedy generation for each source text, batched by similar length."""
    import torch

    texts = inputs
    device = next(model.parameters()).device
    model.eval()
    order = np.argsort([len(t) for t in texts])
    results: list[Any] = [None] * len(texts)
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            idx = order[i:i + batch_size]
            enc = tokenizer([texts[j] for j in idx], truncation=True, max_length=max_length, padding=True,
                            return_tensors="pt", return_token_type_ids=False).to(device)
            out = model.generate(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                                 max_new_tokens=int(max_new_tokens), do_sample=False, num_beams=1)
            for j, text in zip(idx, decode(tokenizer, out.cpu().numpy())):
                results[j] = {"output": text}
    return results


def length_series(df: pd.DataFrame, tokenizer, sample: int = 5000) -> dict[str, list[int]]:
    """Tokens per source and per target (special tokens included), as the model reads and writes them."""
    head = df.head(sample)
    count = lambda texts: [len(ids) for ids in tokenizer([str(t) for t in texts])["input_ids"]]  # noqa: E731
    return {Text("source", "源文本"): count(head["source"]), Text("target", "目标文本"): count(head["target"])}


@dataclass
class Settings:
    """The settings sequence-to-sequence alone reads (cfg.task_args)."""

    max_target_length: int = setting(128, "Longest target in tokens; longer targets are truncated.", min=4, max=32768,
                                     label=Text("Max target length (tokens)", "目标最大长度（词元）"))
    max_new_tokens: int = setting(64, "Most tokens generated per source when evaluating (and by default in the "
                                  "playground).", min=1, max=4096, label=Text("Max new tokens", "最多生成词元数"))


class GenerativeBase:
    """training.base_scores.UntrainedBase: the base model generates from the same test sources."""

    def base_note(self, cfg) -> Text:
        return Text("the base model generating from the same test sources, before any training",
                    "基础模型根据同样的测试源文本生成，未经任何训练")


class Playground:
    """serve.Playground: a source in, the generated target out."""

    panel = "generate"
    labels_files = False
    format_prediction = staticmethod(format_prediction)


class Card:
    """export.ModelCard."""

    pipeline_tag = "text2text-generation"
    model_kind = "sequence-to-sequence model"
    metrics_note = ("Scores compare greedy outputs with the references: BLEU and chrF (sacrebleu, corpus level) "
                    "and ROUGE-L (mean LCS F-measure over lower-cased words) on a 0-100 scale; exact match is the "
                    "share (0-1) of outputs equal to their reference.")
    onnx = False
    usage = staticmethod(card_usage)


TASK = Task(
    name="seq2seq",
    warm_imports=("sacrebleu",),
    inputs=TEXT,
    texts=TaskTexts(title=Text("Sequence to sequence (translation, summaries)", "序列到序列（翻译、摘要）"),
                    data_hint=Text("a source column and a target column (CSV, TSV, JSON, JSONL, Parquet)",
                                   "一个源文本列和一个目标文本列（CSV、TSV、JSON、JSONL、Parquet）"),
                    inputs=(Text("Source column", "源文本列"),), answer=Text("Target column", "目标文本列"),
                    answer_info=Text("The text the model learns to generate.", "模型要学会生成的文本。"),
                    input_noun=Text("source", "源文本"), answer_noun=Text("target", "目标文本")),
    data=DataFacts(samples=("seq2seq_sample.csv",), file_types=(".csv", ".tsv", ".txt", ".json", ".jsonl", ".parquet"),
                   counts_chart=Text("Rows per split", "各划分的行数"),
                   lengths_chart=Text("Tokens per source and target", "源文本与目标文本的词元数"),
                   length_noun=Text("source", "源文本")),
    model=ModelFacts(peft_task_type="SEQ_2_SEQ_LM", auto_class="AutoModelForSeq2SeqLM", default_model="minilm-seq2seq",
                     catalog_models=("minilm-seq2seq",),
                     # All eight apply: each trains a tiny T5 in the seq2seq tests. On the MiniLM encoder-decoder IA3
                     # takes its decoder's modules and prefix/prompt the layer counts its build writes to config.
                     methods=("full", "freeze", "lora", "qlora", "dora", "adalora", "ia3", "prefix", "prompt")),
    metrics=MetricFacts(best=("chrf", "bleu", "rougeL", "loss"), test=("chrf", "bleu", "rougeL", "exact_match"),
                        plot=("chrf", "bleu", "rougeL")),
    predictions=PredictionRows(columns=("text", "reference", "output", "exact", "chrf")),
    settings=Settings,
    prepare_data=prepare_data, load_tokenizer=load_tokenizer, load_model=load_model, tokenize=tokenize,
    collator=collator, trainer_parts=trainer_parts, test_report=test_report, predict=predict,
    guess_columns=guess_columns, count_bars=split_bars, length_series=length_series,
    capabilities=(GenerativeBase(), Playground(), Card()),
)
