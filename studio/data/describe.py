"""What the data check says of a prepared data set: token lengths and the warnings every task shares."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from studio.base.text import Text, pick
from studio.data.report import DataReport

LONG_TEXT_CHARS = 10_000  # a text this long is almost certainly a document pasted into one cell


def token_length_stats(texts, tokenizer, max_length: int | None = None, sample: int = 20000) -> dict[str, float]:
    texts = list(texts[:sample]) if len(texts) > sample else list(texts)
    enc = tokenizer(texts, add_special_tokens=True, truncation=False, return_attention_mask=False)["input_ids"]
    return length_stats([len(x) for x in enc], max_length)


def length_stats(lengths, max_length: int | None = None) -> dict[str, float]:
    """Percentiles, mean and max of token counts, and the share over max_length."""
    lens = np.asarray(list(lengths))
    out = {f"p{q}": float(np.percentile(lens, q)) for q in (50, 90, 95, 99)}
    out.update({"max": float(lens.max()), "mean": float(lens.mean()), "sampled": float(len(lens))})
    if max_length:
        out["truncated_share"] = float((lens > max_length).mean())
        out["truncated"] = float((lens > max_length).sum())
    return out


# The warnings below are Texts: the data check shows them in the reader's language. A task names what it counts
# (unit, fields, consequence) with a Text too; a plain string reads the same in both.
SPLITS_ZH = {"train": "训练集", "validation": "验证集", "test": "测试集"}


def overlap_warnings(r: DataReport, unit: str = Text("text", "文本")) -> list[Text]:
    """Inputs held out for validation or test that training saw too."""
    return [Text(f"{n} {unit}(s) appear in both {k.replace('-', ' and ')}: test scores will be optimistic.",
                 f"{n} 条{pick(unit, True)}同时出现在{'和'.join(SPLITS_ZH.get(s, s) for s in k.split('-'))}中："
                 "测试分数会偏高。")
            for k, n in r.shared_between_splits.items() if n]


def long_text_warnings(r: DataReport, unit: str = Text("training text", "训练文本")) -> list[Text]:
    if not r.long_texts:
        return []
    return [Text(f"{r.long_texts} {unit}(s) are longer than {LONG_TEXT_CHARS:,} characters (the longest has "
                 f"{r.longest_text:,}); only their first max_length tokens are used, so split long documents into "
                 "passages.",
                 f"{r.long_texts} 条{pick(unit, True)}超过 {LONG_TEXT_CHARS:,} 个字符（最长的有 {r.longest_text:,} "
                 "个）；只会用到开头 max_length 个词元，请把长文档拆成段落。")]


def truncation_warnings(r: DataReport, max_length: int | None, unit: str = Text("texts", "文本"),
                        consequence: str = Text(" and will be truncated", "，将被截断")) -> list[Text]:
    """More than 5% of inputs longer than max_length tokens (token_lengths must have been counted)."""
    tl = r.token_lengths or {}
    if not max_length or tl.get("truncated_share", 0) <= 0.05:
        return []
    share, counted = tl["truncated_share"], int(tl.get("sampled", 0))
    n = int(tl.get("truncated", round(share * counted)))
    return [Text(f"{n:,} of {counted:,} {unit} ({share:.0%}) are longer than max_length={max_length} "
                 f"tokens{consequence} (95th percentile: {tl['p95']:.0f}; an empty max_length takes it from the data).",
                 f"{counted:,} 条{pick(unit, True)}中有 {n:,} 条（{share:.0%}）超过 max_length={max_length} 个词元"
                 f"{pick(consequence, True)}（第 95 百分位：{tl['p95']:.0f}；max_length 留空则按数据选取）。")]


def cleaning_warnings(r: DataReport, unit: str = Text("row", "行"),
                      fields: str = Text("text or label", "文本或标签")) -> list[Text]:
    w = []
    if r.dropped_duplicates:
        w.append(Text(f"{r.dropped_duplicates} duplicate {unit}(s) were dropped.",
                      f"删除了 {r.dropped_duplicates} 条重复的{pick(unit, True)}。"))
    if r.dropped_empty:
        w.append(Text(f"{r.dropped_empty} row(s) with an empty {fields} were dropped.",
                      f"删除了 {r.dropped_empty} 行{pick(fields, True)}为空的数据。"))
    return w


def describe_lengths(r: DataReport, texts: pd.Series) -> None:
    """Fill long_texts, longest_text and cjk_share from the training inputs."""
    lengths = texts.str.len()
    r.long_texts, r.longest_text = int((lengths > LONG_TEXT_CHARS).sum()), int(lengths.max()) if len(lengths) else 0
    r.cjk_share = cjk_share(texts)


# Han (with extension A and compatibility ideographs), kana, Hangul syllables and jamo.
CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\u31f0-\u31ff\uac00-\ud7af\u1100-\u11ff]")


WORD = re.compile(r"[^\W\d_]+")


def cjk_share(texts, sample: int = 2000) -> float:
    """The share of the texts' words that are Chinese, Japanese or Korean, over a sample of texts (a text may be a
    string, or a list or mapping of them: a chat's turns). Each CJK character counts as a word (one is closer to a
    word than to a letter) and so does each run of other letters, so "我用 iPhone 拍照" is mostly Chinese."""
    words = cjk = 0
    for value in list(texts)[:sample]:
        text = _flat(value)
        found = len(CJK.findall(text))
        cjk += found
        words += found + len(WORD.findall(CJK.sub(" ", text)))
    return round(cjk / words, 3) if words else 0.0


def unknown_share(texts, tokenizer, sample: int = 300) -> float:
    """The share of tokens the tokenizer reads as its unknown token ([UNK]) over a sample of texts: how much of
    the data the model cannot see at all (an English vocabulary on Chinese text: most of it)."""
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is None:
        return 0.0
    total = unknown = 0
    for value in list(texts)[:sample]:
        ids = tokenizer(_flat(value)[:4000], add_special_tokens=False)["input_ids"]
        total += len(ids)
        unknown += sum(i == unk for i in ids)
    return round(unknown / total, 3) if total else 0.0


def _flat(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return " ".join(_flat(v) for v in value.values())
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
        return " ".join(_flat(v) for v in (value.tolist() if hasattr(value, "tolist") else value))
    return ""
