"""Word-level operations on one text (EDA: Wei & Zou, 2019), and an offline source of near-synonyms.

Each operation takes a text's words, a numpy Generator and how many words to change, and returns the new
words. No operation needs a download: insertion draws from the training texts' own words, and synonyms are
the nearest neighbours of a word in the base model's input embeddings (what the model itself already treats
as close), since no thesaurus ships offline (WordNet needs a download; nlpaug, which wraps it, is unmaintained
since 2022).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from typing import Iterable

import numpy as np

WORD = re.compile(r"^[A-Za-z][A-Za-z'-]*$")
# Words whose change rarely keeps the meaning or which carry none: not replaced, not inserted.
STOP = frozenset("""a an the and or but if of at by for with about to from in on is are was were be been am i me my
we our you your he she it its they them their this that these those not no do does did can could will would
should have has had so than then there here what which who whom how why when where""".split())


def n_changed(words: list[str], strength: float) -> int:
    """Words an operation changes: the share `strength` of the text, at least one."""
    return max(1, int(round(strength * len(words))))


def swap(words: list[str], rng: np.random.Generator, n: int) -> list[str]:
    """Swap two random words, n times."""
    out = list(words)
    if len(out) < 2:
        return out
    for _ in range(n):
        i, j = rng.choice(len(out), size=2, replace=False)
        out[i], out[j] = out[j], out[i]
    return out


def delete(words: list[str], rng: np.random.Generator, n: int) -> list[str]:
    """Drop n random words (never all of them)."""
    if len(words) < 2:
        return list(words)
    drop = set(rng.choice(len(words), size=min(n, len(words) - 1), replace=False).tolist())
    return [w for i, w in enumerate(words) if i not in drop]


def insert(words: list[str], rng: np.random.Generator, n: int, vocabulary: list[str]) -> list[str]:
    """Insert n words drawn from the training texts' vocabulary at random places."""
    out = list(words)
    if not vocabulary:
        return out
    for _ in range(n):
        out.insert(int(rng.integers(0, len(out) + 1)), vocabulary[int(rng.integers(0, len(vocabulary)))])
    return out


def replace_synonyms(words: list[str], rng: np.random.Generator, n: int,
                     synonyms: dict[str, list[str]]) -> list[str]:
    """Replace up to n words that have near-synonyms with one of them (the word's case kept)."""
    out = list(words)
    places = [i for i, w in enumerate(out) if synonyms.get(w.lower())]
    for i in rng.permutation(places)[:n].tolist():
        options = synonyms[out[i].lower()]
        new = options[int(rng.integers(0, len(options)))]
        out[i] = new.capitalize() if out[i][:1].isupper() else new
    return out


def content_words(texts: Iterable[str]) -> Counter:
    """How often each plain word (letters, not a stop word) occurs in the texts, lower-cased."""
    counts: Counter = Counter()
    for t in texts:
        counts.update(w.lower() for w in str(t).split() if WORD.match(w) and w.lower() not in STOP)
    return counts


def embedding_synonyms(model_path, words: Iterable[str], per_word: int = 3, min_similarity: float = 0.45,
                       tokenizer=None) -> dict[str, list[str]]:
    """Each word's nearest whole-word neighbours in the model's input embeddings (cosine), without the word's
    own inflections. Only words the tokenizer keeps whole take part; the others have no synonyms."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = tokenizer or AutoTokenizer.from_pretrained(str(model_path))
    vocab = _whole_words(tok)
    if not vocab:
        return {}
    emb = AutoModel.from_pretrained(str(model_path)).get_input_embeddings().weight.detach().float()
    ids = torch.tensor(list(vocab.values()))
    table = torch.nn.functional.normalize(emb[ids], dim=1)
    names = list(vocab)
    index = {w: i for i, w in enumerate(names)}
    asked = [w for w in dict.fromkeys(words) if w in index]
    if not asked:
        return {}
    sims = table[[index[w] for w in asked]] @ table.T
    best = sims.topk(min(per_word + 8, len(names)), dim=1)
    out: dict[str, list[str]] = {}
    for w, values, cols in zip(asked, best.values.tolist(), best.indices.tolist()):
        near = [names[c] for v, c in zip(values, cols) if v >= min_similarity and not _same_stem(w, names[c])]
        if near:
            out[w] = near[:per_word]
    return out


def _whole_words(tok) -> dict[str, int]:
    """Vocabulary entries that are a whole plain word, lower-cased: word -> id. Byte-level BPE and SentencePiece
    vocabularies mark a word's start (Ġ, ▁) and a bare entry is a word's middle; WordPiece marks the middle (##)."""
    vocab = tok.get_vocab()
    marked = any(k.startswith(("Ġ", "▁")) for k in vocab)
    out: dict[str, int] = {}
    for piece, i in vocab.items():
        if marked != piece.startswith(("Ġ", "▁")) or piece.startswith("##"):
            continue
        word = piece[1:] if marked else piece
        if len(word) >= 3 and WORD.match(word) and word.lower() not in STOP:
            out.setdefault(word.lower(), i)
    return out


def _same_stem(a: str, b: str) -> bool:
    """refund / refunds, declined / declining: an inflection, not a synonym."""
    common = len(os.path.commonprefix([a, b]))
    return common >= 4 and common >= min(len(a), len(b)) - 3
