"""Label-preserving operations on one tagged sentence (BIO tags), after Dai & Adel (2020), "An Analysis of
Simple Data Augmentation for Named Entity Recognition".

Each takes the sentence's tokens and tags, a numpy Generator, the share of tokens to change and the pools
drawn from the training split, and returns new (tokens, tags) that are still valid BIO.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np


@dataclass
class TagPools:
    """What the training split offers to swap in: every mention of each entity type, every token of each tag."""

    mentions: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)  # "PER" -> [("Ada", "Lovelace"), ...]
    tokens: dict[str, list[str]] = field(default_factory=dict)                # "I-PER" -> ["Lovelace", ...]


def segments(tags: list[str]) -> list[tuple[int, int, str]]:
    """(start, end, type) of each run: an entity mention (type "PER") or a stretch of O tokens (type "O")."""
    out: list[tuple[int, int, str]] = []
    for i, tag in enumerate(tags):
        kind = tag[2:] if tag[:2] in ("B-", "I-") else "O"
        if out and out[-1][2] == kind and not tag.startswith("B-"):
            out[-1] = (out[-1][0], i + 1, kind)
        else:
            out.append((i, i + 1, kind))
    return out


def pools(sentences: list[tuple[list[str], list[str]]]) -> TagPools:
    mentions: dict[str, set] = defaultdict(set)
    tokens: dict[str, set] = defaultdict(set)
    for toks, tags in sentences:
        for start, end, kind in segments(tags):
            if kind != "O":
                mentions[kind].add(tuple(toks[start:end]))
        for tok, tag in zip(toks, tags):
            tokens[tag].add(tok)
    return TagPools({k: sorted(v) for k, v in mentions.items()}, {k: sorted(v) for k, v in tokens.items()})


def replace_mentions(tokens: list[str], tags: list[str], rng: np.random.Generator, strength: float,
                     pool: TagPools) -> tuple[list[str], list[str]]:
    """Swap each mention, with probability `strength` (at least one), for another mention of its type."""
    found = [s for s in segments(tags) if s[2] != "O" and len(pool.mentions.get(s[2], ())) > 1]
    if not found:
        return list(tokens), list(tags)
    chosen = {i for i in range(len(found)) if rng.random() < strength} or {int(rng.integers(0, len(found)))}
    out_tok, out_tag, at = [], [], 0
    for i, (start, end, kind) in enumerate(found):
        out_tok += tokens[at:start]
        out_tag += tags[at:start]
        new = _other(pool.mentions[kind], tuple(tokens[start:end]), rng) if i in chosen else tuple(tokens[start:end])
        out_tok += list(new)
        out_tag += [f"B-{kind}"] + [f"I-{kind}"] * (len(new) - 1)
        at = end
    return out_tok + tokens[at:], out_tag + tags[at:]


def replace_tokens(tokens: list[str], tags: list[str], rng: np.random.Generator, strength: float,
                   pool: TagPools) -> tuple[list[str], list[str]]:
    """Replace each token, with probability `strength` (at least one), by another token seen with the same tag."""
    out = list(tokens)
    places = [i for i, t in enumerate(tags) if len(pool.tokens.get(t, ())) > 1]
    if not places:
        return out, list(tags)
    chosen = [i for i in places if rng.random() < strength] or [places[int(rng.integers(0, len(places)))]]
    for i in chosen:
        out[i] = _other(pool.tokens[tags[i]], tokens[i], rng)
    return out, list(tags)


def shuffle_segments(tokens: list[str], tags: list[str], rng: np.random.Generator, strength: float,
                     pool: TagPools | None = None) -> tuple[list[str], list[str]]:
    """Shuffle the tokens within each same-type segment, each with probability `strength` (at least one of
    those longer than one token); tags stay where they are, so the BIO sequence is unchanged."""
    out = list(tokens)
    long = [s for s in segments(tags) if s[1] - s[0] > 1]
    if not long:
        return out, list(tags)
    chosen = [s for s in long if rng.random() < strength] or [long[int(rng.integers(0, len(long)))]]
    for start, end, _ in chosen:
        out[start:end] = [out[start + int(k)] for k in rng.permutation(end - start)]
    return out, list(tags)


def _other(options, current, rng: np.random.Generator):
    """A random option other than the current one (options holds at least two)."""
    while True:
        pick = options[int(rng.integers(0, len(options)))]
        if pick != current:
            return pick
